/** Small helpers the benchmarks share: flags, medians, rounding, output. */

export { median } from '../src/backtest/summary.js';

/** `x` rounded to `d` decimals. */
export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/** One line to stdout. */
export const log = (s: string): void => void process.stdout.write(s + '\n');

/**
 * Parses `--name N` flags into `defaults` (positive numbers; `int` names are rounded) and bare
 * `--name` switches (set true; `--no-name` sets false); prints `usage` for --help.
 */
export function parseFlags<O extends Record<string, number | boolean>>(argv: readonly string[], defaults: O, usage: string, int: readonly (keyof O)[] = []): O {
  const o: Record<string, number | boolean> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: ${usage}\n`);
      process.exit(0);
    }
    const name = a.replace(/^--(no-)?/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!a.startsWith('--') || !(name in o)) throw new Error(`unknown argument ${a}`);
    if (typeof o[name] === 'boolean') {
      o[name] = !a.startsWith('--no-');
      continue;
    }
    const n = Number(argv[++i]);
    if (!(n > 0)) throw new Error(`${a} needs a positive number`);
    o[name] = int.includes(name as keyof O) ? Math.round(n) : n;
  }
  return o as O;
}
