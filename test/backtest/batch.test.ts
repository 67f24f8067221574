/**
 * Batches of backtests: the bundled examples meet their expectations; queries are shared across
 * backtests and sweep settings and each window of data is read once (counted, not timed); every
 * query passes the limiter at batch priority; finished backtests are kept by content hash and a
 * re-run skips them; the same batch reads the same answers from a real S3 server (s3rver) and
 * from remote engines (hmd serve); an unreachable source is an error, never a pass.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runBatch, type RunOutcome } from '../../src/backtest/batch.js';
import { parseSetFlag } from '../../src/backtest/overrides.js';
import { summarizeSettings } from '../../src/backtest/summary.js';
import { AdaptiveLimiter, type AskOptions, type Priority } from '../../src/limiter/limiter.js';
import { PrometheusApi } from '../../src/server/api.js';
import { startHttpServer } from '../../src/server/http.js';
import { openObjectStore } from '../../src/storage/objstore/open.js';
import { ParquetQueryable } from '../../src/storage/parquet/queryable.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../helpers/s3rver.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DATA = join(ROOT, 'fixtures/history');
const EXAMPLES = readdirSync(join(ROOT, 'backtests'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(ROOT, 'backtests', f))
  .sort();
const file = (n: string) => join(ROOT, 'backtests', `${n}.yaml`);

const S = suite<{ dir: string }>('backtest batches', { dir: '' });
S.before((ctx) => void (ctx.dir = mkdtempSync(join(tmpdir(), 'hmd-batch-'))));
S.after((ctx) => rmSync(ctx.dir, { recursive: true, force: true }));

/** What a run decided, to compare runs over different sources. */
const decisions = (runs: readonly RunOutcome[]) =>
  runs.map((r) => ({ name: r.name, setting: r.setting, revert: r.result?.revert?.at, stage: r.result?.revert?.stage, evaluations: r.result?.evaluations.length, status: r.status }));

/** A limiter that records the class of every request it admits, and whether it asked with the jitter. */
function recordingLimiter(): { limiter: AdaptiveLimiter; classes: Priority[]; jittered: boolean[] } {
  const classes: Priority[] = [];
  const jittered: boolean[] = [];
  const limiter = new AdaptiveLimiter({});
  const run = limiter.run.bind(limiter);
  limiter.run = <T>(p: Priority, fn: () => Promise<T>, ask?: AskOptions): Promise<T> => {
    classes.push(p);
    jittered.push(ask?.jitter !== false);
    return run(p, fn, ask);
  };
  return { limiter, classes, jittered };
}

S('the bundled examples: incidents reverted within their bound, healthy releases left alone', async () => {
  const r = await runBatch({ files: EXAMPLES });
  assert.is(r.runs.length, EXAMPLES.length);
  for (const run of r.runs) assert.is(run.status, 'ok', `${run.name}: ${JSON.stringify(run.result?.expectations ?? run.error)}`);
  // Counted as the replays ran; every one recorded, in time order (a stage taking over evaluates at the time the last one ended), with all its SLOs.
  assert.is(r.stats.evaluations, r.runs.reduce((a, x) => a + x.result!.evaluations.length, 0));
  for (const run of r.runs) {
    const ev = run.result!.evaluations;
    assert.ok(ev.length > 0 && ev.every((e, i) => i === 0 || e.at >= ev[i - 1]!.at), run.name);
    assert.ok(ev.every((e) => e.slos.length === run.result!.slos.length && e.slos.every((p, j) => p.name === run.result!.slos[j]!.name)), run.name);
    assert.is(ev[0]!.at, run.result!.start);
    assert.is(ev[ev.length - 1]!.at, run.result!.end);
  }
  const [s] = summarizeSettings(r.runs);
  assert.ok(s!.incidents >= 2 && s!.reverted === s!.incidents && s!.missed === 0);
  assert.ok(s!.healthy >= 3);
  assert.is(s!.falseReverts, 0);
  assert.is(s!.falseRevertRate, 0);
  assert.ok(s!.maxDetectionMs! <= 10 * 60_000);
  // Read once: the whole batch reads less than twice the history's size (footers and label
  // columns are read per fetch), where fetching per scope read it several times over.
  const size = (d: string): number => readdirSync(d, { withFileTypes: true }).reduce((a, e) => a + (e.isDirectory() ? size(join(d, e.name)) : statSync(join(d, e.name)).size), 0);
  const stored = size(DATA);
  assert.ok(r.stats.bytesRead > 0 && r.stats.bytesRead < 2 * stored, `${r.stats.bytesRead} bytes read of ${stored} stored`);
});

S('queries are shared across settings and each window of data is read once', async () => {
  const fetched: string[] = [];
  const onFetch = (req: { matchers: readonly { toString(): string }[]; mint: number; maxt: number }) => {
    // One entry per 8h block a fetch covers (how blocks are grouped into fetches depends on timing).
    const BLOCK = 8 * 3_600_000;
    for (let b = Math.floor(req.mint / BLOCK); b <= Math.floor(req.maxt / BLOCK); b++) fetched.push(`${req.matchers.map(String).sort().join(',')}|${b}`);
  };
  const files = [file('v1.6.0-bad-canary'), file('v1.6.0-planned-rollout')];
  const one = await runBatch({ files, cache: { onFetch } });
  const oneFetches = fetched.splice(0);
  // Settings that change only the judgement ask the very same queries: nothing more is sent or read.
  const sets = [parseSetFlag('slo[http-5xx-ratio].judgement.thresholds.fail=0.01,0.02,0.05')];
  const three = await runBatch({ files, sets, cache: { onFetch } });
  assert.is(three.runs.length, 6);
  assert.is(three.stats.queriesSent, one.stats.queriesSent, 'three settings send what one does');
  // The same blocks (checked below); the bytes differ only by how blocks were grouped into selects.
  assert.ok(Math.abs(three.stats.bytesRead - one.stats.bytesRead) <= 0.25 * one.stats.bytesRead, `${three.stats.bytesRead} vs ${one.stats.bytesRead}`);
  assert.ok(three.stats.queriesAsked > 2 * one.stats.queriesAsked, 'yet they asked three times as much');
  assert.equal(fetched.sort(), [...oneFetches].sort());
  // Each (metric, block of time) is read once, whatever the scope: no duplicate reads.
  assert.is(new Set(fetched).size, fetched.length);
  assert.ok(fetched.every((k) => /^__name__="[a-z_:]+"\|/.test(k)), fetched[0]);
  // Far fewer selects reach storage than evaluations ask for.
  assert.ok(three.stats.fetches < three.stats.selects, JSON.stringify(three.stats));
  // Both backtests cover the same canary over the same window: the planned rollout (stopped at
  // its canary) sends nothing the bad canary did not already send.
  const alone = await runBatch({ files: [file('v1.6.0-bad-canary')] });
  assert.is(one.stats.queriesSent, alone.stats.queriesSent, JSON.stringify([one.stats, alone.stats]));
  assert.ok(one.stats.queriesAsked > alone.stats.queriesAsked);
});

S('every query passes the limiter, at batch priority; evaluated here, without the jitter meant for shared backends', async () => {
  const { limiter, classes, jittered } = recordingLimiter();
  const r = await runBatch({ files: [file('v1.6.0-bad-canary')], limiter });
  assert.ok(classes.length > 0);
  assert.is(classes.length, r.stats.queriesSent);
  assert.ok(classes.every((c) => c === 'batch'));
  assert.is(limiter.counts.admitted, classes.length);
  assert.ok(jittered.every((j) => !j), 'stored data is evaluated in this process: no jitter');
});

S('a query waits for its data before it takes a turn of the limiter, not while holding one', async () => {
  const { limiter, classes } = recordingLimiter();
  // Per turn taken: how many storage reads had finished by then.
  let fetched = 0;
  const readsDoneAtTurn: number[] = [];
  const run = limiter.run.bind(limiter);
  limiter.run = <T>(p: Priority, fn: () => Promise<T>, ask?: AskOptions): Promise<T> => {
    readsDoneAtTurn.push(fetched);
    return run(p, fn, ask);
  };
  const r = await runBatch({ files: [file('v1.6.0-bad-canary')], limiter, cache: { onFetch: () => void fetched++ } });
  assert.ok(r.runs.every((o) => o.status !== 'error'), JSON.stringify(r.runs.map((o) => o.error)));
  assert.is(classes.length, r.stats.queriesSent);
  assert.ok(fetched > 0);
  assert.ok(readsDoneAtTurn.every((n) => n > 0), `turns taken before any read finished: ${readsDoneAtTurn.filter((n) => n === 0).length} of ${readsDoneAtTurn.length}`);
});

S('finished backtests are kept by content hash; a re-run skips them, a changed setting runs', async (ctx) => {
  const state = join(ctx.dir, 'state');
  const files = [file('v1.6.0-bad-canary'), file('healthy-over-crash')];
  const first = await runBatch({ files, stateDir: state });
  assert.ok(first.runs.every((r) => !r.cached));
  const kept = readdirSync(join(state, 'runs')).filter((f) => f.endsWith('.json'));
  assert.is(kept.length, 2);
  assert.ok(kept.every((f) => /^[0-9a-f]{32}\.json$/.test(f)));

  const events: string[] = [];
  const second = await runBatch({ files, stateDir: state, onEvent: (e) => void events.push(e.type === 'start' ? `start ${e.total} ${e.cached}` : 'done') });
  assert.ok(second.runs.every((r) => r.cached));
  assert.is(second.stats.queriesSent, 0, 'nothing was queried');
  assert.equal(events, ['start 2 2']);
  assert.equal(decisions(second.runs), decisions(first.runs));

  // A new setting is a new backtest; the kept ones still count.
  const third = await runBatch({ files, stateDir: state, sets: [parseSetFlag('slo.evaluation.failureLimit=1,2')] });
  // failureLimit=1 is what the 5xx spec says, but the override reaches the other SLOs too: all new.
  assert.is(third.runs.filter((r) => !r.cached).length, 4);
  // A damaged kept result is ignored and the backtest runs again.
  writeFileSync(join(state, 'runs', kept[0]!), '{"format": 1, "id": "tor');
  const fourth = await runBatch({ files, stateDir: state });
  assert.is(fourth.runs.filter((r) => r.cached).length, 1);
  // --force re-runs everything.
  const fifth = await runBatch({ files, stateDir: state, force: true });
  assert.ok(fifth.runs.every((r) => !r.cached));
  // The same spec listed twice runs once.
  const twice = await runBatch({ files: [file('v1.6.0-bad-canary'), file('v1.6.0-bad-canary')] });
  assert.is(twice.runs.length, 2);
  assert.equal(decisions([twice.runs[0]!]), decisions([twice.runs[1]!]));
});

S('the same batch over a real S3 server and over remote engines decides the same', async () => {
  const files = [file('v1.6.0-bad-canary'), file('v1.5.1-tier1-blue'), file('healthy-over-scrape-gap')];
  const local = await runBatch({ files });

  // S3: the fixture history copied into s3rver, read through hmd's S3 store.
  const s3 = await startS3rver({ buckets: ['hist'] });
  const saved = { ...process.env };
  try {
    Object.assign(process.env, {
      HMD_S3_ENDPOINT: s3.endpoint,
      HMD_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
    });
    const src = openObjectStore(DATA);
    const dst = openObjectStore('s3://hist/history');
    for await (const o of src.list('')) await dst.put(o.key, await src.get(o.key));
    await src.close();
    await dst.close();
    const viaS3 = await runBatch({ files, source: { kind: 'data', location: 's3://hist/history' } });
    assert.equal(decisions(viaS3.runs), decisions(local.runs));
    assert.ok(viaS3.stats.bytesRead > 0);
    assert.equal(
      viaS3.runs.map((r) => r.result!.evaluations),
      local.runs.map((r) => r.result!.evaluations),
    );
  } finally {
    process.env = saved;
    await s3.stop();
  }

  // Engines: hmd serve over the same history, queried through the distributed engine.
  const api = new PrometheusApi({ storage: new ParquetQueryable(openObjectStore(DATA)), buildInfo: { version: 'test' } });
  const server = await startHttpServer({ port: 0, handler: (r) => api.handle(r) });
  try {
    const cfg = join(mkdtempSync(join(tmpdir(), 'hmd-batch-eng-')), 'hmd.yaml');
    writeFileSync(cfg, `engines:\n  - {name: history, url: "${server.url}"}\n`);
    const { limiter, classes, jittered } = recordingLimiter();
    const viaEngines = await runBatch({ files, source: { kind: 'engines', config: cfg }, limiter });
    assert.equal(decisions(viaEngines.runs), decisions(local.runs));
    assert.ok(classes.length > 0 && classes.every((c) => c === 'batch'));
    assert.ok(jittered.every((j) => j), 'remote engines are a shared backend: the batch jitter spreads the load');
  } finally {
    await server.close(0);
  }
});

S('an unreachable source is an error, never a pass; bad specs fail the batch before it runs', async (ctx) => {
  const cfg = join(ctx.dir, 'gone.yaml');
  writeFileSync(cfg, 'engines:\n  - {name: gone, url: "http://127.0.0.1:1", timeout: 2s}\n');
  const r = await runBatch({ files: [file('v1.5.1-tier1-blue')], source: { kind: 'engines', config: cfg }, limiter: new AdaptiveLimiter({ retry: { maxRetries: 0 }, minRatePerSec: 200 }) });
  const run = r.runs[0]!;
  // Every evaluation errs, so the release is held at its first stage: not promoted, not passed.
  assert.is(run.result?.revert, undefined);
  assert.is(run.result?.stages[0]!.outcome, 'held');
  assert.ok(run.result!.evaluations.every((e) => e.verdict === 'pause'));
  assert.ok(run.result!.evaluations.every((e) => e.slos.every((s) => s.status === 'error' || s.status === 'no-data')));

  const missing = join(ctx.dir, 'missing-source.yaml');
  writeFileSync(missing, readFileSync(file('v1.6.0-bad-canary'), 'utf8').replace('../fixtures/history', join(ctx.dir, 'nowhere')).replace(/\.\.\/slo-specs\//g, join(ROOT, 'slo-specs') + '/'));
  const m = await runBatch({ files: [missing] });
  assert.is(m.runs[0]!.status, 'error');
  assert.match(m.runs[0]!.error!, /nowhere/);
  assert.is(m.runs[0]!.result, undefined);

  const bad = join(ctx.dir, 'bad.yaml');
  writeFileSync(bad, 'apiVersion: hmd.dev/v1\nkind: Backtest\nmetadata: {name: x}\nspec: {}\n');
  let ran = false;
  try {
    await runBatch({ files: [file('v1.6.0-bad-canary'), bad], onEvent: () => void (ran = true) });
    assert.unreachable('a bad spec must fail the batch');
  } catch (err) {
    assert.match((err as Error).message, /bad.yaml:4:7: spec: missing `source`/);
  }
  assert.not.ok(ran, 'nothing ran');
});

S.run();
