#!/usr/bin/env node
// Runs every compiled benchmark, dist/bench/*.bench.js, one after the other (benchmarks must
// not share the machine), streaming their output. Write benchmarks as bench/<name>.bench.ts;
// `npm run bench` builds first. Exit status: 0 when all ran (or there are none), 1 otherwise.
//
// Usage: node scripts/run-bench.mjs [FILTER...]   (only files whose name contains a FILTER)

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = join(ROOT, 'dist', 'bench');
const filters = process.argv.slice(2);

const all = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith('.bench.js')).sort() : [];
const files = filters.length === 0 ? all : all.filter((f) => filters.some((s) => f.includes(s)));
if (files.length === 0) {
  process.stdout.write(
    all.length === 0
      ? `run-bench: no benchmarks yet (${relative(ROOT, DIR)} has no *.bench.js; add bench/<name>.bench.ts)\n`
      : `run-bench: no benchmark matches ${filters.join(' ')} (have: ${all.join(', ')})\n`,
  );
  process.exit(all.length === 0 ? 0 : 1);
}

const failed = [];
for (const f of files) {
  process.stdout.write(`\n── ${f}\n`);
  const r = spawnSync(process.execPath, ['--enable-source-maps', join(DIR, f)], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) failed.push(`${f} (${r.signal ?? `exit ${r.status}`})`);
}
process.stdout.write(`\n${files.length - failed.length} of ${files.length} benchmarks ran${failed.length ? `; failed: ${failed.join(', ')}` : ''}\n`);
process.exitCode = failed.length ? 1 : 0;
