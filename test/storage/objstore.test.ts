/**
 * The object-store layer: one behaviour suite run against a local directory and against a real
 * S3 server (s3rver on 127.0.0.1), then what only S3 has (403, retries through a fault-injecting
 * proxy, timeouts against a server that never answers, the environment rules), and the hyparquet
 * AsyncBuffer adapter over both stores.
 */

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { objectAsyncBuffer, openAsyncBuffer } from '../../src/storage/objstore/asyncbuffer.js';
import { LocalObjectStore, TEMP_SUFFIX } from '../../src/storage/objstore/local.js';
import { isR2Endpoint, openObjectStore, parseStoreSpec, resolveS3Options } from '../../src/storage/objstore/open.js';
import { S3ObjectStore, type S3StoreOptions } from '../../src/storage/objstore/s3.js';
import { emptyStats, isObjectStoreError, ObjectStoreError, type ObjectStore, type ObjectStoreErrorKind, type ObjectStoreStats } from '../../src/storage/objstore/types.js';
import { startBlackhole, startFaultProxy, startS3rver, type S3rverServer } from '../helpers/s3rver.js';

// ---- helpers ----

/** Deterministic bytes: byte i of object `seed` is a function of (seed, i). */
function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = x & 0xff;
  }
  return out;
}

const eqBytes = (a: Uint8Array, b: Uint8Array, msg?: string) => {
  assert.is(a.byteLength, b.byteLength, `${msg ?? 'bytes'}: length`);
  assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), `${msg ?? 'bytes'}: content`);
};

async function rejects(p: Promise<unknown>, kind: ObjectStoreErrorKind): Promise<ObjectStoreError> {
  try {
    await p;
  } catch (err) {
    if (!isObjectStoreError(err)) throw err;
    assert.is(err.kind, kind, `kind of: ${err.message}`);
    return err;
  }
  return assert.unreachable(`expected a ${kind} error, got success`) as never;
}

const delta = (before: ObjectStoreStats, after: Readonly<ObjectStoreStats>): ObjectStoreStats => ({
  requests: after.requests - before.requests,
  bytesRead: after.bytesRead - before.bytesRead,
  bytesWritten: after.bytesWritten - before.bytesWritten,
  retries: after.retries - before.retries,
});
const snap = (s: Readonly<ObjectStoreStats>): ObjectStoreStats => ({ ...s });

async function collect(it: AsyncIterable<{ key: string; size: number }>): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  for await (const o of it) out.push(o);
  return out;
}

async function* chunked(data: Uint8Array, chunk: number, pause?: () => Promise<void>): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < data.byteLength; off += chunk) {
    if (pause) await pause();
    yield data.subarray(off, Math.min(data.byteLength, off + chunk));
  }
}

// ---- the shared behaviour suite ----

interface Ctx {
  store: ObjectStore;
  /** A second store over the same root, with a small list page (S3) to force pagination. */
  paged: ObjectStore;
  pageSize: number;
  /** The server lists in byte order (not s3rver). */
  strictListOrder: boolean;
  /** Concurrent readers see whole objects during a put (not s3rver, which writes in place; S3 and R2 do). */
  atomicPut: boolean;
}

function behaviourSuite(name: string, setup: () => Promise<Ctx & { teardown(): Promise<void> }>) {
  const s = suite<Partial<Ctx> & { teardown?: () => Promise<void> }>(name);
  s.before(async (ctx) => {
    const c = await setup();
    Object.assign(ctx, c);
  });
  s.after(async (ctx) => {
    await ctx.teardown?.();
  });

  s('put, get, size, exists round trip; describe names the object', async (ctx) => {
    const st = ctx.store!;
    const data = bytes(10_000, 7);
    const b0 = snap(st.stats);
    await st.put('rt/a.bin', data);
    assert.is(delta(b0, st.stats).bytesWritten, 10_000);
    eqBytes(await st.get('rt/a.bin'), data);
    assert.is(await st.size('rt/a.bin'), 10_000);
    assert.ok(await st.exists('rt/a.bin'));
    assert.not.ok(await st.exists('rt/missing.bin'));
    assert.ok(st.describe('rt/a.bin').endsWith(st.type === 's3' ? '/rt/a.bin' : join('rt', 'a.bin')), st.describe('rt/a.bin'));
    // An empty object.
    await st.put('rt/empty', new Uint8Array(0));
    assert.is(await st.size('rt/empty'), 0);
    assert.is((await st.get('rt/empty')).byteLength, 0);
  });

  s('ranged reads return exactly the bytes, and exactly those bytes are counted', async (ctx) => {
    const st = ctx.store!;
    const data = bytes(100_000, 3);
    await st.put('range/obj.bin', data);
    const ranges: [number, number][] = [
      [1, 1],
      [10, 19],
      [4_096, 65_535],
      [99_990, 99_999],
      [99_999, 99_999],
      [1, 99_999],
      [50_000, 50_000],
    ];
    for (const [a, b] of ranges) {
      const before = snap(st.stats);
      const got = await st.get('range/obj.bin', { range: [a, b] });
      eqBytes(got, data.subarray(a, b + 1), `range ${a}-${b}`);
      const d = delta(before, st.stats);
      assert.is(d.bytesRead, b - a + 1, `bytes counted for ${a}-${b}`);
      assert.is(d.requests, 1, `requests for ${a}-${b}`);
    }
    // The first byte alone (s3rver reads bytes=0-0 as "to the end"; the store cuts the answer).
    eqBytes(await st.get('range/obj.bin', { range: [0, 0] }), data.subarray(0, 1), 'range 0-0');
    eqBytes(await st.get('range/obj.bin', { range: [0, 99_999] }), data, 'range 0-end');
  });

  s('ranges outside the object, or malformed, are invalid errors naming the object', async (ctx) => {
    const st = ctx.store!;
    await st.put('range/small.bin', bytes(100));
    let e = await rejects(st.get('range/small.bin', { range: [50, 100] }), 'invalid');
    assert.ok(e.message.startsWith(st.describe('range/small.bin')), e.message);
    assert.match(e.message, /past the end|not satisfiable/);
    await rejects(st.get('range/small.bin', { range: [100, 120] }), 'invalid');
    e = await rejects(st.get('range/small.bin', { range: [5, 4] }), 'invalid');
    assert.match(e.message, /invalid byte range/);
    await rejects(st.get('range/small.bin', { range: [-1, 4] }), 'invalid');
    await rejects(st.get('range/small.bin', { range: [1.5, 4] }), 'invalid');
  });

  s('a missing object is not_found, naming it', async (ctx) => {
    const st = ctx.store!;
    for (const op of [() => st.get('nope/2025/06/12/0.chunks.parquet'), () => st.get('nope/2025/06/12/0.chunks.parquet', { range: [0, 9] }), () => st.size('nope/2025/06/12/0.chunks.parquet')]) {
      const e = await rejects(op(), 'not_found');
      assert.is(e.object, st.describe('nope/2025/06/12/0.chunks.parquet'));
      assert.ok(e.message.startsWith(st.describe('nope/2025/06/12/0.chunks.parquet')), e.message);
      assert.ok(e.hint, 'says what to do');
    }
  });

  s('malformed keys are rejected before any request', async (ctx) => {
    const st = ctx.store!;
    const before = snap(st.stats);
    for (const k of ['', '/abs', 'a//b', 'a/../b', './a', 'a\\b', 'dir/']) {
      await rejects(st.get(k), 'invalid');
      await rejects(st.put(k, new Uint8Array(1)), 'invalid');
    }
    await rejects(collect(st.list('../x')), 'invalid');
    assert.is(delta(before, st.stats).requests, 0);
  });

  s('list: keys under a prefix, in byte order, with sizes, across pages', async (ctx) => {
    const st = ctx.store!;
    const keys: string[] = [];
    for (let i = 0; i < 23; i++) keys.push(`list/2025/06/${String(i).padStart(2, '0')}/block.parquet`);
    keys.push('list/2025/06.meta', 'list/2025/06-x', 'list/2025/060', 'list/other');
    await Promise.all(keys.map((k, i) => st.put(k, bytes(i + 1, i))));
    const expected = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

    const all = await collect(st.list('list/'));
    // Byte order ('06-x' < '06.meta' < '06/...' < '060'), as S3 and R2 list; s3rver lists in
    // the order of its directory walk, so there only the set is checked.
    const order = (keys: string[]) => (ctx.strictListOrder ? keys : [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    assert.equal(
      order(all.map((o) => o.key)),
      expected,
    );
    for (const o of all) assert.is(o.size, keys.indexOf(o.key) + 1, o.key);

    // Pages: the paged store lists with a small MaxKeys (S3).
    const paged = ctx.paged!;
    const before = snap(paged.stats);
    const viaPages = await collect(paged.list('list/2025/06/'));
    assert.is(viaPages.length, 23);
    assert.equal(
      viaPages.map((o) => o.key),
      expected.filter((k) => k.startsWith('list/2025/06/')),
    );
    if (paged.type === 's3') assert.is(delta(before, paged.stats).requests, Math.ceil(23 / ctx.pageSize!), 'one LIST per page');

    // A string prefix, not only a directory.
    assert.equal(
      order((await collect(st.list('list/2025/06'))).map((o) => o.key)),
      expected.filter((k) => k.startsWith('list/2025/06')),
    );
    assert.equal(
      order((await collect(st.list('list/2025/06/1'))).map((o) => o.key)),
      expected.filter((k) => k.startsWith('list/2025/06/1')),
    );
    assert.equal(await collect(st.list('list/nothing-here/')), []);
  });

  s('put replaces an object whole; streamed bodies', async (ctx) => {
    const st = ctx.store!;
    await st.put('atomic/x.bin', bytes(5_000, 1));
    const second = bytes(3_000, 2);
    await st.put('atomic/x.bin', second);
    eqBytes(await st.get('atomic/x.bin'), second, 'replaced');
    assert.is(await st.size('atomic/x.bin'), 3_000);

    const streamed = bytes(300_000, 9);
    await st.put('atomic/streamed.bin', chunked(streamed, 7_777));
    eqBytes(await st.get('atomic/streamed.bin'), streamed, 'streamed');
    // Nothing but the objects is visible (no temporary files).
    assert.equal(
      (await collect(st.list('atomic/'))).map((o) => o.key),
      ['atomic/streamed.bin', 'atomic/x.bin'],
    );
  });

  s('a reader never sees a partial object while a put is in progress', async (ctx) => {
    const st = ctx.store!;
    if (!ctx.atomicPut) return;
    const oldData = bytes(200_000, 11);
    const newData = bytes(400_000, 12);
    await st.put('atomic/live.bin', oldData);
    let writing = true;
    const put = st.put('atomic/live.bin', chunked(newData, 20_000, () => new Promise((r) => setTimeout(r, 2)))).finally(() => {
      writing = false;
    });
    let reads = 0;
    let sawNew = false;
    while (writing || !sawNew) {
      const got = await st.get('atomic/live.bin');
      reads++;
      if (got.byteLength === oldData.byteLength) eqBytes(got, oldData, 'old while writing');
      else {
        eqBytes(got, newData, 'new');
        sawNew = true;
      }
      if (reads > 10_000) break;
    }
    await put;
    assert.ok(reads >= 2, `read ${reads} times during the put`);
    assert.ok(sawNew);
  });

  s('delete and deletePrefix', async (ctx) => {
    const st = ctx.store!;
    await st.put('del/2025/06/12/a', bytes(10));
    await st.put('del/2025/06/12/b', bytes(10));
    await st.put('del/2025/06/13/a', bytes(10));
    await st.put('del/keep', bytes(10));
    await st.delete('del/keep');
    assert.not.ok(await st.exists('del/keep'));
    await st.delete('del/keep'); // again: not an error
    assert.is(await st.deletePrefix('del/2025/06/12/'), 2);
    assert.equal(
      (await collect(st.list('del/'))).map((o) => o.key),
      ['del/2025/06/13/a'],
    );
    await rejects(st.deletePrefix('del/2025'), 'invalid');
    assert.is(await st.deletePrefix('del/'), 1);
    assert.equal(await collect(st.list('del/')), []);
  });

  s('scoped views count their own reads, and the store counts all', async (ctx) => {
    const st = ctx.store!;
    await st.put('scoped/a', bytes(1_000));
    const total0 = snap(st.stats);
    const q1 = st.scoped();
    const q2 = st.scoped();
    await q1.get('scoped/a', { range: [0, 99] });
    await q2.get('scoped/a', { range: [100, 349] });
    await q2.size('scoped/a');
    assert.is(q1.stats.bytesRead, 100);
    assert.is(q1.stats.requests, 1);
    assert.is(q2.stats.bytesRead, 250);
    assert.is(q2.stats.requests, 2);
    const d = delta(total0, st.stats);
    assert.is(d.bytesRead, 350);
    assert.is(d.requests, 3);
  });

  s('AsyncBuffer: footer in one request, coalesced slices, exact bytes and counts', async (ctx) => {
    const st = ctx.store!;
    const data = bytes(1_000_000, 21);
    await st.put('ab/file.bin', data);
    const q = st.scoped();
    const sink = emptyStats();
    const buf = await openAsyncBuffer(q, 'ab/file.bin', { footerBytes: 64 * 1024, coalesceGapBytes: 1024, stats: sink });
    assert.is(buf.byteLength, 1_000_000);
    assert.is(q.stats.requests, 1, 'HEAD for the size');

    // hyparquet's metadata read: the last 512 KiB by default, then (maybe) more: one request.
    const tail = await buf.slice(1_000_000 - 8, 1_000_000);
    eqBytes(new Uint8Array(tail), data.subarray(1_000_000 - 8));
    assert.is(buf.stats.requests, 1);
    assert.is(buf.stats.bytesRead, 64 * 1024);
    eqBytes(new Uint8Array(await buf.slice(1_000_000 - 60_000)), data.subarray(1_000_000 - 60_000));
    assert.is(buf.stats.requests, 1, 'served from the footer cache');
    assert.is(buf.stats.cacheHits, 1);

    // Nearby slices issued together: one request; a far one: its own.
    const parts = await Promise.all([buf.slice(1_000, 2_000), buf.slice(2_500, 3_000), buf.slice(3_100, 4_000), buf.slice(500_000, 500_010)]);
    eqBytes(new Uint8Array(parts[0]!), data.subarray(1_000, 2_000));
    eqBytes(new Uint8Array(parts[1]!), data.subarray(2_500, 3_000));
    eqBytes(new Uint8Array(parts[2]!), data.subarray(3_100, 4_000));
    eqBytes(new Uint8Array(parts[3]!), data.subarray(500_000, 500_010));
    assert.is(buf.stats.requests, 3, 'two more requests');
    assert.is(buf.stats.bytesRead, 64 * 1024 + 3_000 + 10, 'the gaps of the merged read included');

    // A slice reaching back before the cached footer fetches only the missing part.
    const before = buf.stats.bytesRead;
    eqBytes(new Uint8Array(await buf.slice(900_000, 1_000_000)), data.subarray(900_000));
    assert.is(buf.stats.bytesRead - before, 1_000_000 - 64 * 1024 - 900_000);

    // ArrayBuffer.slice semantics at the edges; empty slices cost nothing.
    assert.is((await buf.slice(10, 10)).byteLength, 0);
    assert.is((await buf.slice(999_990, 2_000_000)).byteLength, 10);
    // The store and the sink saw the same bytes as the buffer.
    assert.is(q.stats.bytesRead, buf.stats.bytesRead);
    assert.is(sink.bytesRead, buf.stats.bytesRead);
    assert.is(sink.requests, buf.stats.requests + 1);
    assert.is(q.stats.requests, buf.stats.requests + 1);

    // An object shorter than the size given: a corrupt error naming it.
    const wrong = objectAsyncBuffer(st, 'ab/file.bin', 1_500_000, { footerBytes: 1024 });
    const e = await rejects(wrong.slice(1_400_000, 1_500_000), 'invalid');
    assert.ok(e.message.includes('ab/file.bin'), e.message);
  });

  s('hyparquet reads a Parquet file through the AsyncBuffer: metadata in one request, only some bytes', async (ctx) => {
    const st = ctx.store!;
    const n = 100_000;
    const id = new Int32Array(n);
    const v = new Float64Array(n);
    const name: string[] = [];
    for (let i = 0; i < n; i++) {
      id[i] = i;
      v[i] = i * 0.5;
      name.push(`series-${i % 1000}`);
    }
    const file = new Uint8Array(
      parquetWriteBuffer({
        columnData: [
          { name: 'id', data: id, type: 'INT32' },
          { name: 'name', data: name, type: 'STRING' },
          { name: 'v', data: v, type: 'DOUBLE' },
        ],
        rowGroupSize: 20_000,
      }),
    );
    await st.put('pq/data.parquet', file);
    const listed = (await collect(st.list('pq/'))).find((o) => o.key === 'pq/data.parquet')!;
    const q = st.scoped();
    const buf = objectAsyncBuffer(q, 'pq/data.parquet', listed.size);
    const metadata = await parquetMetadataAsync(buf, { initialFetchSize: buf.footerBytes });
    assert.is(q.stats.requests, 1, 'metadata: one request');
    assert.is(Number(metadata.num_rows), n);
    const rows = (await parquetReadObjects({ file: buf, metadata, columns: ['v'], rowStart: 40_000, rowEnd: 40_010 })) as { v: number }[];
    assert.equal(
      rows.map((r) => r.v),
      Array.from({ length: 10 }, (_, i) => (40_000 + i) * 0.5),
    );
    assert.ok(q.stats.bytesRead < file.byteLength / 2, `read ${q.stats.bytesRead} of ${file.byteLength} bytes`);
    assert.is(q.stats.bytesRead, buf.stats.bytesRead);

    // hyparquet's default initialFetchSize (512 KiB, more than the footer region): one request too.
    const buf2 = objectAsyncBuffer(st, 'pq/data.parquet', listed.size);
    const md2 = await parquetMetadataAsync(buf2);
    assert.is(buf2.stats.requests, 1);
    assert.is(buf2.stats.bytesRead, Math.min(listed.size, 512 * 1024));
    assert.is(Number(md2.num_rows), n);
  });

  s.run();
}

// ---- local ----

let localRoot = '';
behaviourSuite('objstore: local directory', async () => {
  localRoot = mkdtempSync(join(tmpdir(), 'hmd-objstore-'));
  const store = new LocalObjectStore(localRoot);
  return {
    store,
    paged: store,
    pageSize: 1000,
    strictListOrder: true,
    atomicPut: true,
    async teardown() {
      rmSync(localRoot, { recursive: true, force: true });
    },
  };
});

const local = suite('objstore: local specifics');
local('put leaves no temporary file behind, also when the body fails', async () => {
  const root = mkdtempSync(join(tmpdir(), 'hmd-objstore-'));
  try {
    const st = new LocalObjectStore(root);
    await st.put('a/b.bin', bytes(100));
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield bytes(10);
      throw new Error('writer failed');
    }
    let threw: unknown;
    try {
      await st.put('a/b.bin', failing());
    } catch (err) {
      threw = err;
    }
    assert.is((threw as Error).message, 'writer failed', 'the producer\'s own error');
    eqBytes(await st.get('a/b.bin'), bytes(100), 'the old object is intact');
    assert.equal(readdirSync(join(root, 'a')), ['b.bin']);
    assert.not.ok(readdirSync(join(root, 'a')).some((f) => f.endsWith(TEMP_SUFFIX)));
    // Deleting the last object removes the directories it leaves empty, never the root.
    await st.delete('a/b.bin');
    assert.equal(readdirSync(root), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
local('a missing directory lists nothing and reads not_found', async () => {
  const st = new LocalObjectStore(join(tmpdir(), 'hmd-objstore-does-not-exist-' + process.pid));
  assert.equal(await collect(st.list('')), []);
  const e = await rejects(st.get('2025/06/12/0.labels.parquet'), 'not_found');
  assert.match(e.message, /no such object/);
});
local.run();

// ---- S3 (s3rver) ----

let s3: S3rverServer | undefined;
const BUCKET = 'test';
const s3opts = (extra: Partial<S3StoreOptions> = {}): S3StoreOptions => ({
  bucket: BUCKET,
  endpoint: s3!.endpoint,
  credentials: s3!.credentials,
  baseDelayMs: 5,
  maxDelayMs: 50,
  timeoutMs: 10_000,
  ...extra,
});

behaviourSuite('objstore: S3 (s3rver)', async () => {
  s3 = await startS3rver({ buckets: [BUCKET, 'other'] });
  const store = new S3ObjectStore(s3opts({ prefix: 'suite' }));
  const paged = new S3ObjectStore(s3opts({ prefix: 'suite', listPageSize: 5 }));
  return {
    store,
    paged,
    pageSize: 5,
    strictListOrder: false,
    atomicPut: false,
    async teardown() {
      await store.close();
      await paged.close();
    },
  };
});

const s3s = suite('objstore: S3 specifics');
s3s.after(async () => {
  await s3?.stop();
});

s3s('the prefix scopes keys; describe spells s3://bucket/prefix/key', async () => {
  const a = new S3ObjectStore(s3opts({ prefix: '/hist/prod/' }));
  const b = new S3ObjectStore(s3opts({ prefix: 'hist' }));
  try {
    assert.is(a.describe('2025/06/12/0.chunks.parquet'), 's3://test/hist/prod/2025/06/12/0.chunks.parquet');
    await a.put('k', bytes(3));
    assert.equal(await collect(a.list('')), [{ key: 'k', size: 3 }]);
    assert.equal(await collect(b.list('')), [{ key: 'prod/k', size: 3 }]);
    eqBytes(await b.get('prod/k'), bytes(3));
  } finally {
    await a.close();
    await b.close();
  }
});

s3s('more than 1000 keys list across pages of 1000', async () => {
  const st = new S3ObjectStore(s3opts({ prefix: 'many' }));
  try {
    const n = 1_005;
    const keys = Array.from({ length: n }, (_, i) => `k${String(i).padStart(5, '0')}`);
    for (let i = 0; i < n; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => st.put(k, new Uint8Array(1))));
    const before = snap(st.stats);
    const got = await collect(st.list(''));
    assert.is(got.length, n);
    assert.equal(
      got.map((o) => o.key),
      keys,
    );
    assert.is(delta(before, st.stats).requests, 2, 'two pages');
  } finally {
    await st.close();
  }
});

s3s('multipart upload for a large streamed body', async () => {
  const st = new S3ObjectStore(s3opts({ prefix: 'mp', multipartThreshold: 1 << 20, partSize: 5 << 20 }));
  try {
    const data = bytes(11 << 20, 5);
    const before = snap(st.stats);
    await st.put('big.bin', chunked(data, 1 << 16));
    // create + 3 parts + complete
    assert.is(delta(before, st.stats).requests, 5);
    assert.is(await st.size('big.bin'), data.byteLength);
    eqBytes(await st.get('big.bin', { range: [(5 << 20) - 10, (5 << 20) + 9] }), data.subarray((5 << 20) - 10, (5 << 20) + 10), 'across a part boundary');
    eqBytes(await st.get('big.bin'), data, 'whole');
    // A Uint8Array body past the threshold goes multipart too.
    await st.put('big2.bin', data.subarray(0, 6 << 20));
    eqBytes(await st.get('big2.bin'), data.subarray(0, 6 << 20));
  } finally {
    await st.close();
  }
});

// s3rver checks the access key id, but not SigV4 signatures: a wrong secret is not refused there.
s3s('wrong credentials: forbidden (403), naming the object, not retried', async () => {
  const st = new S3ObjectStore(s3opts({ prefix: 'p', credentials: { accessKeyId: 'WRONG', secretAccessKey: 'WRONG' } }));
  try {
    for (const [s, op] of [
      [st, () => st.get('2025/06/12/0.chunks.parquet', { range: [0, 9] })],
      [st, () => st.size('2025/06/12/0.chunks.parquet')],
      [st, () => st.exists('2025/06/12/0.chunks.parquet')],
      [st, () => st.get('2025/06/12/0.chunks.parquet')],
      [st, () => st.put('2025/06/12/0.chunks.parquet', bytes(10))],
    ] as const) {
      const before = snap(s.stats);
      const e = await rejects(op(), 'forbidden');
      assert.ok(e.message.startsWith('s3://test/p/2025/06/12/0.chunks.parquet: access denied (403'), e.message);
      assert.ok(e.message.endsWith('check the credentials (AWS_ACCESS_KEY_ID/AWS_PROFILE) and the bucket policy'), e.message);
      assert.is(e.status, 403);
      assert.is(delta(before, s.stats).requests, 1, 'not retried');
    }
    const e = await rejects(collect(st.list('2025/')), 'forbidden');
    assert.ok(e.message.startsWith('s3://test/p/2025/: access denied'), e.message);
  } finally {
    await st.close();
  }
});

s3s('a missing bucket is not_found', async () => {
  const st = new S3ObjectStore(s3opts({ bucket: 'no-such-bucket' }));
  try {
    const e = await rejects(st.get('a'), 'not_found');
    assert.match(e.message, /^s3:\/\/no-such-bucket\/a: no such bucket/);
    await rejects(collect(st.list('')), 'not_found');
  } finally {
    await st.close();
  }
});

s3s('retries: 503 SlowDown twice, then success; ranges are always explicit', async () => {
  const proxy = await startFaultProxy(s3!.endpoint, { failFirst: 0 });
  const st = new S3ObjectStore(s3opts({ endpoint: proxy.endpoint, prefix: 'retry', maxAttempts: 4 }));
  try {
    const data = bytes(50_000, 4);
    await st.put('obj', data);
    proxy.reset(2);
    const before = snap(st.stats);
    eqBytes(await st.get('obj', { range: [100, 199] }), data.subarray(100, 200));
    assert.is(proxy.requests, 3);
    assert.is(proxy.failed, 2);
    const d = delta(before, st.stats);
    assert.is(d.requests, 3);
    assert.is(d.retries, 2);
    assert.is(d.bytesRead, 100);

    // HEAD, LIST, PUT retry too.
    proxy.reset(2);
    assert.is(await st.size('obj'), 50_000);
    assert.is(proxy.requests, 3);
    proxy.reset(1);
    assert.is((await collect(st.list(''))).length, 1);
    assert.is(proxy.requests, 2);
    proxy.reset(3);
    await st.put('obj2', bytes(10));
    assert.is(proxy.requests, 4);

    // A footer read through the AsyncBuffer: HEAD, then one explicit range.
    proxy.reset(0);
    const buf = await openAsyncBuffer(st, 'obj');
    await buf.slice(49_000, 50_000);
    assert.is(proxy.requests, 2);
    for (const r of proxy.log) if (r.range !== undefined) assert.match(r.range, /^bytes=\d+-\d+$/);
    assert.ok(proxy.log.some((r) => r.range === `bytes=${50_000 - 65_536 < 0 ? 0 : 50_000 - 65_536}-49999`), JSON.stringify(proxy.log));
  } finally {
    await st.close();
    await proxy.stop();
  }
});

s3s('retries: gives up after maxAttempts with an unavailable error', async () => {
  const proxy = await startFaultProxy(s3!.endpoint, { failFirst: Infinity });
  const st = new S3ObjectStore(s3opts({ endpoint: proxy.endpoint, prefix: 'retry', maxAttempts: 3 }));
  try {
    const e = await rejects(st.get('obj', { range: [0, 9] }), 'unavailable');
    assert.is(proxy.requests, 3);
    assert.is(e.attempts, 3);
    assert.is(e.status, 503);
    assert.match(e.message, /^s3:\/\/test\/retry\/obj: GET failed: throttled \(503 SlowDown\) \(after 3 attempts\)/);
  } finally {
    await st.close();
    await proxy.stop();
  }
});

s3s('retries: 500 is retried; injected 403 and 404 are not', async () => {
  const proxy = await startFaultProxy(s3!.endpoint, { failFirst: 1, status: 500, code: 'InternalError' });
  const st = new S3ObjectStore(s3opts({ endpoint: proxy.endpoint, prefix: 'retry', maxAttempts: 3 }));
  try {
    eqBytes(await st.get('obj', { range: [0, 9] }), bytes(50_000, 4).subarray(0, 10));
    assert.is(proxy.requests, 2);
  } finally {
    await st.close();
    await proxy.stop();
  }
  for (const [status, code, kind] of [
    [403, 'AccessDenied', 'forbidden'],
    [404, 'NoSuchKey', 'not_found'],
  ] as const) {
    const p = await startFaultProxy(s3!.endpoint, { failFirst: Infinity, status, code });
    const s = new S3ObjectStore(s3opts({ endpoint: p.endpoint, prefix: 'retry', maxAttempts: 3 }));
    try {
      await rejects(s.get('obj', { range: [0, 9] }), kind);
      await rejects(s.size('obj'), kind);
      assert.is(p.requests, 2, `${status}: one request per call`);
    } finally {
      await s.close();
      await p.stop();
    }
  }
});

s3s('a server that never answers: each attempt times out, then unavailable', async () => {
  const hole = await startBlackhole();
  const st = new S3ObjectStore(s3opts({ endpoint: hole.endpoint, timeoutMs: 200, maxAttempts: 2 }));
  try {
    const before = snap(st.stats);
    const e = await rejects(st.get('a', { range: [0, 9] }), 'unavailable');
    assert.is(e.code, 'Timeout');
    assert.match(e.message, /timed out/);
    assert.is(e.attempts, 2);
    assert.is(delta(before, st.stats).requests, 2);
    assert.ok(hole.connections >= 1);
    await rejects(st.size('a'), 'unavailable');
  } finally {
    await st.close();
    await hole.stop();
  }
});

s3s('the caller aborts: its reason, no retries', async () => {
  const hole = await startBlackhole();
  const st = new S3ObjectStore(s3opts({ endpoint: hole.endpoint, timeoutMs: 10_000, maxAttempts: 5 }));
  try {
    const ac = new AbortController();
    const reason = new Error('query cancelled');
    setTimeout(() => ac.abort(reason), 100);
    let got: unknown;
    try {
      await st.get('a', {}, ac.signal);
    } catch (err) {
      got = err;
    }
    assert.is(got, reason);
    assert.is(st.stats.requests, 1);
  } finally {
    await st.close();
    await hole.stop();
  }
});

s3s('nothing listening: connection refused is unavailable after the attempts', async () => {
  const hole = await startBlackhole();
  const endpoint = hole.endpoint;
  await hole.stop(); // the port is now closed
  const st = new S3ObjectStore(s3opts({ endpoint, maxAttempts: 3 }));
  try {
    const e = await rejects(st.size('a'), 'unavailable');
    assert.is(e.attempts, 3);
    assert.match(e.message, /ECONNREFUSED/);
  } finally {
    await st.close();
  }
});

s3s('openObjectStore: s3:// with the endpoint and credentials from the environment', async () => {
  const saved = { id: process.env['AWS_ACCESS_KEY_ID'], secret: process.env['AWS_SECRET_ACCESS_KEY'] };
  process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
  const st = openObjectStore('s3://test/env-prefix/', { env: { HMD_S3_ENDPOINT: s3!.endpoint } });
  try {
    assert.is(st.type, 's3');
    assert.is(st.describe('x'), 's3://test/env-prefix/x');
    await st.put('x', bytes(4));
    eqBytes(await st.get('x'), bytes(4));
  } finally {
    await st.close();
    if (saved.id === undefined) delete process.env['AWS_ACCESS_KEY_ID'];
    else process.env['AWS_ACCESS_KEY_ID'] = saved.id;
    if (saved.secret === undefined) delete process.env['AWS_SECRET_ACCESS_KEY'];
    else process.env['AWS_SECRET_ACCESS_KEY'] = saved.secret;
  }
});

s3s.run();

// ---- specs and environment rules (no I/O) ----

const spec = suite('objstore: specs and environment rules');
spec('parseStoreSpec', () => {
  assert.equal(parseStoreSpec('s3://bucket'), { type: 's3', bucket: 'bucket', prefix: '' });
  assert.equal(parseStoreSpec('s3://bucket/'), { type: 's3', bucket: 'bucket', prefix: '' });
  assert.equal(parseStoreSpec('s3://bucket/a/b/'), { type: 's3', bucket: 'bucket', prefix: 'a/b' });
  assert.equal(parseStoreSpec('fixtures/store', '/work'), { type: 'local', path: join('/work', 'fixtures/store') });
  assert.equal(parseStoreSpec('/data/hist'), { type: 'local', path: '/data/hist' });
  assert.equal(parseStoreSpec('file:///data/hist'), { type: 'local', path: '/data/hist' });
  for (const bad of ['', 's3://', 's3:///x', 'gs://bucket/x', 'http://host/x']) {
    let e: unknown;
    try {
      parseStoreSpec(bad);
    } catch (err) {
      e = err;
    }
    assert.ok(isObjectStoreError(e, 'invalid'), `${bad}: ${String(e)}`);
  }
});
spec('resolveS3Options: endpoint, region and path-style rules', () => {
  const r = (env: Record<string, string>, o: Parameters<typeof resolveS3Options>[2] = {}) => resolveS3Options('b', 'p', { ...o, env });
  // AWS: no endpoint, us-east-1, virtual-hosted style.
  let o = r({});
  assert.is(o.endpoint, undefined);
  assert.is(o.region, 'us-east-1');
  assert.is(o.forcePathStyle, false);
  // Endpoint precedence.
  assert.is(r({ AWS_ENDPOINT_URL: 'http://c', AWS_ENDPOINT_URL_S3: 'http://b', HMD_S3_ENDPOINT: 'http://a' }).endpoint, 'http://a');
  assert.is(r({ AWS_ENDPOINT_URL: 'http://c', AWS_ENDPOINT_URL_S3: 'http://b' }).endpoint, 'http://b');
  assert.is(r({ AWS_ENDPOINT_URL: 'http://c' }).endpoint, 'http://c');
  assert.is(r({ HMD_S3_ENDPOINT: 'http://a' }, { endpoint: 'http://o' }).endpoint, 'http://o');
  assert.is(r({ HMD_S3_ENDPOINT: '' }).endpoint, undefined, 'empty is unset');
  // R2: region auto, path style.
  o = r({ HMD_S3_ENDPOINT: 'https://acct.r2.cloudflarestorage.com' });
  assert.is(o.region, 'auto');
  assert.is(o.forcePathStyle, true);
  assert.ok(isR2Endpoint('https://acct.eu.r2.cloudflarestorage.com'));
  // Another endpoint: us-east-1, path style; AWS_REGION wins; explicit path style wins.
  o = r({ HMD_S3_ENDPOINT: 'http://127.0.0.1:9000' });
  assert.is(o.region, 'us-east-1');
  assert.is(o.forcePathStyle, true);
  assert.is(r({ HMD_S3_ENDPOINT: 'https://acct.r2.cloudflarestorage.com', AWS_REGION: 'eu-west-1' }).region, 'eu-west-1');
  assert.is(r({ AWS_DEFAULT_REGION: 'eu-west-2' }).region, 'eu-west-2');
  assert.is(r({ HMD_S3_ENDPOINT: 'http://x', HMD_S3_FORCE_PATH_STYLE: 'false' }).forcePathStyle, false);
  assert.is(r({ HMD_S3_FORCE_PATH_STYLE: '1' }).forcePathStyle, true);
  assert.is(r({ HMD_S3_ENDPOINT: 'http://x' }, { forcePathStyle: false }).forcePathStyle, false);
  assert.is(r({ HMD_S3_MAX_ATTEMPTS: '7', HMD_S3_TIMEOUT_MS: '1500' }).maxAttempts, 7);
  assert.is(r({ HMD_S3_TIMEOUT_MS: '1500' }).timeoutMs, 1500);
  for (const env of [{ HMD_S3_ENDPOINT: 'minio:9000' }, { HMD_S3_FORCE_PATH_STYLE: 'maybe' }, { HMD_S3_MAX_ATTEMPTS: '0' }] as Record<string, string>[]) {
    let e: unknown;
    try {
      r(env);
    } catch (err) {
      e = err;
    }
    assert.ok(isObjectStoreError(e, 'invalid'), `${JSON.stringify(env)}: ${String(e)}`);
  }
});
spec('openObjectStore: a directory', () => {
  const st = openObjectStore('some/dir', { cwd: '/tmp/x' });
  assert.is(st.type, 'local');
  assert.is(st.describe(), join('/tmp/x', 'some/dir'));
  assert.is(st.describe('2025/06/12/0.labels.parquet'), join('/tmp/x', 'some/dir', '2025', '06', '12', '0.labels.parquet'));
});
spec.run();
