/** `hmd validate`: check SLO specs (YAML, PromQL included) and say where each problem is. */

import type { Argv, CommandModule } from 'yargs';
import { ConfigError } from '../config/yaml.js';
import { loadSpecs } from '../slo/spec.js';
import { EXIT } from './query.js';

export interface ValidateArgs {
  files: string[];
}

export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: 'validate <files..>',
  describe: 'Check SLO spec files (format, PromQL, thresholds); errors as file:line:column',
  builder: (y: Argv) =>
    y
      .positional('files', { type: 'string', array: true, describe: 'SLO spec files (YAML)', demandOption: true })
      .example('$0 validate slo-specs/*.yaml', 'check every spec')
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
      if (!(e instanceof ConfigError)) throw e;
      err(`${e.message}\n`);
      bad++;
    }
  }
  return bad > 0 ? EXIT.FAILURE : EXIT.OK;
}
