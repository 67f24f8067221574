/** `hmd validate`: check SLO specs and backtest specs (YAML, PromQL included) and say where each problem is. */

import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { loadBacktest } from '../backtest/spec.js';
import { ConfigError } from '../config/yaml.js';
import { loadSpecs } from '../slo/spec.js';
import { EXIT } from './query.js';

export interface ValidateArgs {
  files: string[];
}

export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: 'validate <files..>',
  describe: 'Check SLO specs and backtest specs (format, PromQL, thresholds, the SLOs a backtest names); errors as file:line:column',
  builder: (y: Argv) =>
    y
      .positional('files', { type: 'string', array: true, describe: 'SLO spec or backtest spec files (YAML)', demandOption: true })
      .example('$0 validate slo-specs/*.yaml', 'check every SLO spec')
      .example('$0 validate backtests/*.yaml', 'check every backtest and the SLO specs it uses')
      .epilogue('Exit codes: 0 every file is valid, 1 some file is not (one line per problem on stderr), 2 usage error.') as unknown as Argv<ValidateArgs>,
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
      if (isBacktest(f)) {
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

/** A backtest spec says so in its top-level `kind` (read without parsing, so a broken file still gets the loader's error). */
function isBacktest(file: string): boolean {
  try {
    return /^kind:\s*["']?Backtest["']?\s*(#.*)?$/m.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}
