/**
 * One object as hyparquet's `AsyncBuffer` (`{ byteLength, slice(start, end?) }`), read through
 * ranged `ObjectStore.get`s:
 *
 * - The footer region (the last `footerBytes`, default 64 KiB) is fetched with one request the
 *   first time a slice touches it, and kept: hyparquet's metadata read is then one request. The
 *   fetch also covers the start of the slice that triggered it (only the footer region is kept),
 *   so hyparquet's default `initialFetchSize` (512 KiB) costs one request too; pass
 *   `initialFetchSize: buf.footerBytes` to `parquetMetadataAsync` to read no more than the footer
 *   region. An object no larger than the footer region is read whole, once, and kept.
 * - Other slices wait one event-loop turn (`setImmediate`), and those requested meanwhile are
 *   sorted and merged when the gap between them is at most `coalesceGapBytes` (default 32 KiB)
 *   and the merged read stays within `maxCoalescedBytes` (default 8 MiB): one request for many
 *   nearby column chunks. Gaps are read and counted; `coalesceGapBytes: 0` merges only touching
 *   or overlapping slices.
 * - `stats` counts the requests made and the bytes fetched through this buffer (also added to
 *   `opts.stats` when given), so a query can report what it read. The store counts them as well.
 * - A slice returns exactly `end - start` bytes (ArrayBuffer.slice semantics: `end` defaults to
 *   the length, and both ends are clamped into [0, byteLength]). If the store returns a different
 *   length, the object changed or is truncated: a `corrupt` ObjectStoreError naming it.
 */

import type { AsyncBuffer } from 'hyparquet';
import { emptyStats, ObjectStoreError, type ObjectStore, type ObjectStoreStats } from './types.js';

export const DEFAULT_FOOTER_BYTES = 64 * 1024;
export const DEFAULT_COALESCE_GAP_BYTES = 32 * 1024;
export const DEFAULT_MAX_COALESCED_BYTES = 8 << 20;

export interface ObjectAsyncBufferOptions {
  /** The object's size when known (e.g. from `list`); otherwise `openAsyncBuffer` asks (HEAD). */
  size?: number;
  footerBytes?: number;
  coalesceGapBytes?: number;
  maxCoalescedBytes?: number;
  /** Passed to every `get`. */
  signal?: AbortSignal;
  /** Also count into these stats (e.g. a query's). */
  stats?: ObjectStoreStats;
}

export interface ObjectAsyncBufferStats {
  /** `get` requests made. */
  requests: number;
  /** Bytes fetched (gaps between coalesced slices included). */
  bytesRead: number;
  /** `slice` calls. */
  slices: number;
  /** Slices answered from the footer cache without a request. */
  cacheHits: number;
}

export interface ObjectAsyncBuffer extends AsyncBuffer {
  readonly byteLength: number;
  readonly key: string;
  readonly store: ObjectStore;
  /** The size of the cached footer region (at most byteLength). */
  readonly footerBytes: number;
  readonly stats: Readonly<ObjectAsyncBufferStats>;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
}

interface Pending {
  start: number;
  end: number; // exclusive
  resolve: (b: ArrayBuffer) => void;
  reject: (e: unknown) => void;
}

/** Opens `key` as an AsyncBuffer; asks the store for the size (one HEAD) unless `opts.size` is given. */
export async function openAsyncBuffer(store: ObjectStore, key: string, opts: ObjectAsyncBufferOptions = {}): Promise<ObjectAsyncBuffer> {
  const size = opts.size ?? (await store.size(key, opts.signal));
  if (opts.stats && opts.size === undefined) opts.stats.requests += 1;
  return objectAsyncBuffer(store, key, size, opts);
}

/** An AsyncBuffer over `key`, whose size is known. */
export function objectAsyncBuffer(store: ObjectStore, key: string, size: number, opts: ObjectAsyncBufferOptions = {}): ObjectAsyncBuffer {
  return new StoreAsyncBuffer(store, key, size, opts);
}

class StoreAsyncBuffer implements ObjectAsyncBuffer {
  readonly byteLength: number;
  readonly footerBytes: number;
  readonly stats: ObjectAsyncBufferStats = { requests: 0, bytesRead: 0, slices: 0, cacheHits: 0 };
  private readonly gap: number;
  private readonly maxMerged: number;
  private readonly signal: AbortSignal | undefined;
  private readonly sink: ObjectStoreStats;
  /** The cached tail: bytes [tailStart, byteLength). */
  private tail: Uint8Array | undefined;
  private tailStart = 0;
  private tailLoading: Promise<void> | undefined;
  /** The whole fetch that loaded the tail, when it reached back before it, until its slice takes it. */
  private first: { start: number; data: Uint8Array } | undefined;
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(
    readonly store: ObjectStore,
    readonly key: string,
    size: number,
    opts: ObjectAsyncBufferOptions,
  ) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new ObjectStoreError('invalid', store.describe(key), `invalid object size ${size}`);
    }
    this.byteLength = size;
    this.footerBytes = Math.min(size, Math.max(0, Math.floor(opts.footerBytes ?? DEFAULT_FOOTER_BYTES)));
    this.gap = Math.max(0, opts.coalesceGapBytes ?? DEFAULT_COALESCE_GAP_BYTES);
    this.maxMerged = Math.max(1, opts.maxCoalescedBytes ?? DEFAULT_MAX_COALESCED_BYTES);
    this.signal = opts.signal;
    this.sink = opts.stats ?? emptyStats();
  }

  slice(start: number, end?: number): Promise<ArrayBuffer> {
    this.stats.slices++;
    const n = this.byteLength;
    const clamp = (x: number) => (x < 0 ? Math.max(0, n + x) : Math.min(n, x));
    const s = clamp(Math.trunc(start) || 0);
    const e = end === undefined ? n : clamp(Math.trunc(end) || 0);
    if (e <= s) return Promise.resolve(new ArrayBuffer(0));
    const footerStart = n - this.footerBytes;
    if (this.footerBytes > 0 && e > footerStart) return this.fromTail(s, e);
    return new Promise<ArrayBuffer>((resolve, reject) => {
      this.pending.push({ start: s, end: e, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private async fromTail(s: number, e: number): Promise<ArrayBuffer> {
    if (!this.tail) {
      // One fetch, shared by concurrent slices; it reaches back to `s` if the slice starts earlier.
      if (!this.tailLoading) {
        const region = this.byteLength - this.footerBytes;
        const from = Math.min(s, region);
        this.tailLoading = this.fetch(from, this.byteLength).then(
          (data) => {
            // Keep only the footer region (the slice that triggered the fetch gets its bytes below).
            this.tail = from < region ? data.slice(region - from) : data;
            this.tailStart = region;
            if (from < region) this.first = { start: from, data };
          },
          (err) => {
            this.tailLoading = undefined;
            throw err;
          },
        );
      }
      await this.tailLoading;
    } else {
      this.stats.cacheHits++;
    }
    const tail = this.tail!;
    if (s >= this.tailStart) return copy(tail, s - this.tailStart, e - this.tailStart);
    const first = this.first;
    if (first && s >= first.start) {
      // The slice whose fetch reached back before the footer region: served from that fetch, once.
      this.first = undefined;
      return copy(first.data, s - first.start, e - first.start);
    }
    // Starts before the cached tail: fetch only the missing head, then join.
    const head = await this.fetch(s, this.tailStart);
    const out = new Uint8Array(e - s);
    out.set(head, 0);
    out.set(tail.subarray(0, e - this.tailStart), head.byteLength);
    return out.buffer;
  }

  /** Exactly bytes [s, e) of the object, with one request. */
  private async fetch(s: number, e: number): Promise<Uint8Array> {
    this.stats.requests++;
    this.sink.requests++;
    const data = await this.store.get(this.key, { range: [s, e - 1] }, this.signal);
    this.stats.bytesRead += data.byteLength;
    this.sink.bytesRead += data.byteLength;
    if (data.byteLength !== e - s) {
      throw new ObjectStoreError('corrupt', this.store.describe(this.key), `asked for bytes ${s}-${e - 1}, got ${data.byteLength} bytes (the object changed or is truncated?)`);
    }
    return data;
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending.sort((a, b) => a.start - b.start || a.end - b.end);
    this.pending = [];
    let i = 0;
    while (i < batch.length) {
      const first = batch[i]!;
      let gStart = first.start;
      let gEnd = first.end;
      let j = i + 1;
      while (j < batch.length) {
        const next = batch[j]!;
        const newEnd = Math.max(gEnd, next.end);
        if (next.start - gEnd > this.gap || (newEnd - gStart > this.maxMerged && next.start >= gEnd)) break;
        gEnd = newEnd;
        j++;
      }
      const members = batch.slice(i, j);
      i = j;
      this.fetch(gStart, gEnd).then(
        (data) => {
          let handedOut = false;
          for (const m of members) {
            const a = m.start - gStart;
            const b = m.end - gStart;
            // The whole buffer once, without a copy, when a slice is exactly the fetch.
            if (!handedOut && a === 0 && b === data.byteLength && data.byteOffset === 0 && data.buffer.byteLength === data.byteLength && data.buffer instanceof ArrayBuffer) {
              handedOut = true;
              m.resolve(data.buffer);
            } else m.resolve(copy(data, a, b));
          }
        },
        (err) => {
          for (const m of members) m.reject(err);
        },
      );
    }
  }
}

function copy(data: Uint8Array, a: number, b: number): ArrayBuffer {
  const out = new Uint8Array(b - a);
  out.set(data.subarray(a, b));
  return out.buffer;
}
