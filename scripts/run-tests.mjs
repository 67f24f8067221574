#!/usr/bin/env node
// Runs the compiled uvu test files (dist/test/**/*.test.js) and ends with one line:
//   N passed, N failed[, N skipped]
// Each file runs in its own `node` process (as `uvu dist/test '.test.js$'` would run them all
// in one), so that a file that crashes on import or hangs costs that file, not the whole run:
// a file that exits non-zero without uvu's totals, or times out, counts as one failure.
//
// Usage: node scripts/run-tests.mjs [--build] [--jobs N] [--timeout MINUTES] [FILTER...]
//   --build  compile first (tsc -p tsconfig.json); type errors count as one failure, and the
//            tests still run on what tsc emitted (`npm test` does this)
//   FILTER   only files whose path (relative to dist/test) contains one of these strings
//   --jobs   files run at once (default 1, or HMD_TEST_JOBS); with more than one, each
//            file's output is printed as a block when it ends
//   --timeout  minutes one file may take (default 20, or HMD_TEST_TIMEOUT_MIN)
// Exit status: 0 when every test passed, 1 otherwise (also when no test file was found).
// Colours follow the terminal; CI=true, NO_COLOR or a pipe turn them off.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TEST_DIR = join(ROOT, 'dist', 'test');

function parseArgs(argv) {
  const opts = {
    jobs: Number(process.env.HMD_TEST_JOBS ?? 1),
    timeoutMin: Number(process.env.HMD_TEST_TIMEOUT_MIN ?? 20),
    filters: [],
    build: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--jobs' || a === '-j') opts.jobs = Number(argv[++i]);
    else if (a.startsWith('--jobs=')) opts.jobs = Number(a.slice(7));
    else if (a === '--timeout') opts.timeoutMin = Number(argv[++i]);
    else if (a.startsWith('--timeout=')) opts.timeoutMin = Number(a.slice(10));
    else if (a === '--build') opts.build = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node scripts/run-tests.mjs [--build] [--jobs N] [--timeout MINUTES] [FILTER...]\n');
      process.exit(0);
    } else opts.filters.push(a);
  }
  if (!Number.isInteger(opts.jobs) || opts.jobs < 1) opts.jobs = 1;
  if (!(opts.timeoutMin > 0)) opts.timeoutMin = 20;
  return opts;
}

function findTests(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...findTests(p));
    else if (e.isFile() && e.name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

const ANSI = /\u001b\[[0-9;]*m/g;

/** uvu's totals from a file's output (the last block, should there be several). */
function totals(output) {
  const text = output.replace(ANSI, '');
  const re = /Total:\s+(\d+)\s+Passed:\s+(\d+)\s+Skipped:\s+(\d+)/g;
  let m;
  let last;
  while ((m = re.exec(text)) !== null) last = { total: +m[1], passed: +m[2], skipped: +m[3] };
  return last;
}

const children = new Set();

function runFile(file, { stream, timeoutMin, color }) {
  return new Promise((resolve) => {
    const env = { ...process.env };
    if (color) env.FORCE_COLOR = '1';
    else {
      delete env.FORCE_COLOR;
      env.NO_COLOR = '1';
    }
    // Its own process group, so that a timeout also ends what the tests started.
    const child = spawn(process.execPath, ['--enable-source-maps', file], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let output = '';
    const take = (sink) => (chunk) => {
      const s = chunk.toString();
      output += s;
      if (stream) sink.write(s);
    };
    child.stdout.on('data', take(process.stdout));
    child.stderr.on('data', take(process.stderr));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill(child);
    }, timeoutMin * 60_000);
    // Something the file started may still hold its output open: give it a moment, then end it.
    let grace;
    child.on('exit', () => (grace = setTimeout(() => kill(child), 5000)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(grace);
      kill(child); // whatever the file left running in its process group
      children.delete(child);
      resolve({ file, output, code, signal, timedOut });
    });
  });
}

function kill(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

process.on('SIGINT', () => {
  for (const c of children) kill(c);
  process.stderr.write('\ninterrupted\n');
  process.exit(130);
});

/** Runs tsc; true when it reported no errors. */
function build() {
  process.stdout.write('── tsc -p tsconfig.json\n');
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  return r.status === 0;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const broken = [];
  let failed = 0;
  if (opts.build && !build()) {
    failed += 1;
    broken.push('tsc: type errors (above); the tests run on what it emitted');
  }
  const all = findTests(TEST_DIR);
  const files = opts.filters.length === 0 ? all : all.filter((f) => opts.filters.some((s) => relative(TEST_DIR, f).includes(s)));
  if (files.length === 0) {
    const why = all.length === 0 ? `no *.test.js under ${relative(ROOT, TEST_DIR)} (run \`npm run build\` first)` : `no test file matches ${opts.filters.join(' ')}`;
    process.stdout.write(`run-tests: ${why}\n${broken.map((b) => `  ${b}\n`).join('')}0 passed, ${failed} failed\n`);
    return 1;
  }
  const color = process.stdout.isTTY === true && !process.env.CI && !process.env.NO_COLOR;
  const stream = opts.jobs === 1;
  let passed = 0;
  let skipped = 0;

  const account = (r) => {
    const name = relative(TEST_DIR, r.file);
    if (!stream) process.stdout.write(`\n── ${name}\n${r.output}`);
    const t = totals(r.output);
    let why;
    if (r.timedOut) why = `timed out after ${opts.timeoutMin} min`;
    else if (!t) why = `exited with ${r.signal ?? `code ${r.code}`} before uvu reported totals`;
    if (t) {
      passed += t.passed;
      skipped += t.skipped;
      failed += t.total - t.passed;
      if (t.total > t.passed) broken.push(`${name}: ${t.total - t.passed} failed`);
      else if (!why && r.code !== 0) why = `exited with ${r.signal ?? `code ${r.code}`} after its tests passed`;
    }
    if (why) {
      failed += 1;
      broken.push(`${name}: ${why}`);
    }
  };

  const queue = [...files];
  const worker = async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      if (stream) process.stdout.write(`\n── ${relative(TEST_DIR, f)}\n`);
      account(await runFile(f, { stream, timeoutMin: opts.timeoutMin, color }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.jobs, files.length) }, worker));

  process.stdout.write(`\n${files.length} test file${files.length === 1 ? '' : 's'}`);
  process.stdout.write(broken.length ? `; failures in:\n${broken.map((b) => `  ${b}\n`).join('')}` : '\n');
  process.stdout.write(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
