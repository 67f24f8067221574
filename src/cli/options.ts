/** Options and helpers shared by the sub-commands. */

import { readFileSync } from 'node:fs';

/** `--data` / `-d`: the data source of `hmd query` and `hmd serve`. */
export const DATA_OPTION = {
  alias: 'd',
  requiresArg: true,
  type: 'string',
  demandOption: true,
  describe: 'Data source: an OpenMetrics file (.om, .txt, .prom), a directory of Parquet blocks, or s3://bucket/prefix',
} as const;

/** The usage error for a `--max-samples` that is not a positive integer; undefined when it is one. */
export function maxSamplesProblem(max: unknown): string | undefined {
  return typeof max !== 'number' || !Number.isInteger(max) || max <= 0 ? '--max-samples must be a positive integer.' : undefined;
}

/** hmd's version, from package.json ('unknown' when it cannot be read). */
export function packageVersion(): string {
  try {
    // dist/src/cli/options.js -> package.json at the repository root
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
