/** `hmd validate`: check SLO specs, backtest specs and rollout plans (YAML, PromQL included) and say where each problem is. */

import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { loadBacktest } from '../backtest/spec.js';
import { ConfigError } from '../config/yaml.js';
import { loadRollout } from '../rollout/spec.js';
import { loadSpecs } from '../slo/spec.js';
import { EXIT } from './query.js';

export interface ValidateArgs {
  files: string[];
}

export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: 'validate <files..>',
  describe: 'Check SLO specs, backtest specs and rollout plans (format, PromQL, thresholds, the SLOs a backtest or rollout names); errors as file:line:column',
  builder: (y: Argv) =>
    y
      .positional('files', { type: 'string', array: true, describe: 'SLO spec, backtest spec or rollout plan files (YAML); each is told apart by its top-level kind', demandOption: true })
      .example('$0 validate slo-specs/*.yaml', 'check every SLO spec')
      .example('$0 validate backtests/*.yaml', 'check every backtest and the SLO specs it uses')
      .example('$0 validate examples/rollout.yaml', 'check a rollout plan (stages, scopes, bakes) and the SLO specs it sends')
      .epilogue('A file with `kind: Backtest` is read as a backtest, `kind: Rollout` as a rollout plan, anything else as SLO specs.\n\nExit codes: 0 every file is valid, 1 some file is not (one line per problem on stderr), 2 usage error.') as unknown as Argv<ValidateArgs>,
  handler: (args) => {
    process.exitCode = runValidate(args.files.map(String), (s) => process.stdout.write(s), (s) => process.stderr.write(s));
  },
};

/** Validates each file; returns the exit code. */
export function runValidate(files: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  let bad = 0;
  const names = new Map<string, string>();
  for (const f of files) {
    try {
      const kind = topLevelKind(f);
      if (kind === 'Rollout') {
        const r = loadRollout(f);
        out(`${f}: ok (rollout ${r.name}: ${r.stages.length} stage(s), ${r.slos.length} SLO(s))\n`);
        continue;
      }
      if (kind === 'Backtest') {
        const b = loadBacktest(f);
        out(`${f}: ok (backtest ${b.spec.name}: ${b.spec.release.stages.length} stage(s), ${b.slos.length} SLO(s), ${b.spec.incident ? 'an incident' : 'a healthy release'})\n`);
        continue;
      }
      for (const s of loadSpecs(f)) {
        const dup = names.get(s.name);
        if (dup) {
          err(`${f}: metadata.name ${JSON.stringify(s.name)} is also used by ${dup}; names must be unique\n`);
          bad++;
          continue;
        }
        names.set(s.name, f);
        out(`${f}: ok (${s.name}${s.dryRun ? ', dry run' : ''}${s.critical ? ', critical' : ''})\n`);
      }
    } catch (e) {
      if (!(e instanceof ConfigError) && (e as Error).name !== 'OverrideError') throw e;
      err(`${(e as Error).message}\n`);
      bad++;
    }
  }
  return bad > 0 ? EXIT.FAILURE : EXIT.OK;
}

/**
 * The top-level `kind` of a file, read with a pattern rather than a YAML parser so that a file
 * too broken to parse still reaches its own loader and gets a located error from it.
 */
function topLevelKind(file: string): string | undefined {
  try {
    return /^kind:\s*["']?([A-Za-z]+)["']?\s*(#.*)?$/m.exec(readFileSync(file, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}
