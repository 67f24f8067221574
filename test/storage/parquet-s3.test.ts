/**
 * The Parquet store through S3 on a real s3rver (127.0.0.1, path-style, S3RVER/S3RVER): the CLI
 * imports an OpenMetrics file to s3://bucket/prefix and to a directory, and `hmd query` gives
 * equal answers on both; wrong credentials (403) and a missing bucket are clear errors, exit 3.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Engine } from '../../src/promql/engine.js';
import { openObjectStore } from '../../src/storage/objstore/open.js';
import { ParquetQueryable } from '../../src/storage/parquet/queryable.js';
import { startS3rver, type S3rverServer } from '../helpers/s3rver.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEMO = join(ROOT, 'fixtures/demo.om');
const AT = '2025-06-12T12:00:00Z';
const SLI = 'sum by (datacenter) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (datacenter) (rate(http_requests_total[5m]))';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `hmd ...` in a child process (async: the s3rver child must keep answering meanwhile). */
function hmd(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['bin/hmd.js', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => (stdout += b));
    p.stderr.on('data', (b) => (stderr += b));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let s3: S3rverServer;
let env: Record<string, string>;
let dir: string;

test.before(async () => {
  s3 = await startS3rver({ buckets: ['hist'] });
  env = {
    HMD_S3_ENDPOINT: s3.endpoint,
    HMD_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    HMD_S3_MAX_ATTEMPTS: '2',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  dir = mkdtempSync(join(tmpdir(), 'hmd-parquet-s3-'));
});

test.after(async () => {
  await s3?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('hmd import openmetrics --out s3://… and --out DIR, then hmd query gives equal answers', async () => {
  const imp = await hmd(env, 'import', 'openmetrics', DEMO, '--out', 's3://hist/prefix/demo');
  assert.is(imp.code, 0, imp.stderr);
  assert.match(imp.stderr, /wrote s3:\/\/hist\/prefix\/demo\/2025\/06\//);
  const impDir = await hmd(env, 'import', 'openmetrics', DEMO, '--out', dir);
  assert.is(impDir.code, 0, impDir.stderr);

  for (const args of [
    ['--time', AT],
    ['--start', '2025-06-12T10:00:00Z', '--end', '2025-06-12T14:00:00Z', '--step', '5m'],
  ]) {
    for (const q of [SLI, 'http_requests_total{datacenter=~".*1", code!="200"}', 'count by (__name__) ({__name__=~".+"})']) {
      const a = await hmd(env, 'query', q, '--data', 's3://hist/prefix/demo', '--output', 'json', ...args);
      const b = await hmd(env, 'query', q, '--data', dir, '--output', 'json', ...args);
      assert.is(a.code, 0, a.stderr + a.stdout);
      assert.is(b.code, 0, b.stderr + b.stdout);
      const ra = JSON.parse(a.stdout);
      const rb = JSON.parse(b.stdout);
      assert.is(ra.status, 'success');
      assert.ok(ra.data.result.length > 0, `${q} has results`);
      assert.equal(ra.data, rb.data, q);
    }
  }

  // the library through S3 also reads little and counts it
  const store = openObjectStore('s3://hist/prefix/demo', { env, credentials: s3.credentials });
  const pq = new ParquetQueryable(store);
  const r = await new Engine().instantQuery(pq, 'http_requests_total{code="500"}', Date.parse(AT));
  assert.ok(r.stats.bytesRead > 0);
  assert.ok(store.stats.requests > 0);
  await pq.close();
});

test('wrong credentials (403) and a missing bucket: clear errors naming the object, exit 3', async () => {
  // (s3rver refuses an unknown access key id; it does not check every signature)
  const bad = await hmd({ ...env, AWS_ACCESS_KEY_ID: 'nobody', AWS_SECRET_ACCESS_KEY: 'wrong' }, 'query', 'up', '--data', 's3://hist/prefix/demo', '--time', AT, '--output', 'table');
  assert.is(bad.code, 3, bad.stderr);
  assert.match(bad.stderr, /s3:\/\/hist\/prefix\/demo\/2025\/06\/12/);
  assert.match(bad.stderr, /403|denied|forbidden|signature/i);

  const missing = await hmd(env, 'query', 'up', '--data', 's3://no-such-bucket/x', '--time', AT, '--output', 'table');
  assert.is(missing.code, 3, missing.stderr);
  assert.match(missing.stderr, /s3:\/\/no-such-bucket\/x/);
  assert.match(missing.stderr, /no such bucket "no-such-bucket"/);

  const badImport = await hmd({ ...env, AWS_ACCESS_KEY_ID: 'nobody', AWS_SECRET_ACCESS_KEY: 'wrong' }, 'import', 'openmetrics', DEMO, '--out', 's3://hist/other');
  assert.is(badImport.code, 3, badImport.stderr);
  assert.match(badImport.stderr, /s3:\/\/hist\/other\//);
});

test.run();
