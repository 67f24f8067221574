/**
 * The object-store layer under the Parquet reader and writer: one small interface with two
 * implementations, a local directory (`local.ts`, the embedded default) and S3-compatible storage
 * (`s3.ts`: AWS S3, Cloudflare R2, MinIO, s3rver). `open.ts` turns a `--data`/`--out` spec into a
 * store; `asyncbuffer.ts` adapts one object to hyparquet's `AsyncBuffer`.
 *
 * Keys are relative to the store's root (a directory, or `bucket/prefix/`), always with `/`
 * separators, on every OS: `2025/06/12/0.chunks.parquet`. A key is non-empty, does not start or
 * end with `/`, has no empty, `.` or `..` segment, and holds no `\` and no NUL character
 * (`validateKey`); a store rejects anything else with an `invalid` error before any I/O.
 *
 * Every store counts what it does (`stats`): requests sent to the backend (for S3, every HTTP
 * request including retries), bytes read and written, and retries. `scoped()` gives a view of the
 * same store with counters of its own (also added to the parent's), so that one query can report
 * the bytes it read while other queries share the store.
 *
 * Errors are `ObjectStoreError`s with a `kind`, naming the object (as `describe(key)` spells it)
 * and saying what to do.
 */

/** What went wrong, in the terms a caller acts on. */
export type ObjectStoreErrorKind =
  /** The object (or the bucket, or the directory) does not exist. */
  | 'not_found'
  /** The store refused: credentials, bucket policy, file permissions. */
  | 'forbidden'
  /** The store is down, throttling or timing out (after the retries were spent). */
  | 'unavailable'
  /** The bytes are not what they should be (e.g. an object shorter than its metadata says). */
  | 'corrupt'
  /** A request that cannot succeed as asked: a malformed key or spec, a range outside the object. */
  | 'invalid';

export interface ObjectStoreErrorOptions {
  /** What to do about it, appended to the message after `: `. */
  hint?: string;
  /** The HTTP status, for S3. */
  status?: number;
  /** The backend's error code (S3 `Code`, or a Node `errno` code such as `ENOENT`). */
  code?: string;
  /** How many attempts were made (S3, after retries). */
  attempts?: number;
  cause?: unknown;
}

/**
 * A failed object-store operation. `message` reads `<object>: <what happened>[: <what to do>]`, e.g.
 * `s3://b/p/2025/06/12/0.chunks.parquet: access denied (403): check the credentials
 * (AWS_ACCESS_KEY_ID/AWS_PROFILE) and the bucket policy`.
 */
export class ObjectStoreError extends Error {
  override readonly name = 'ObjectStoreError';
  readonly kind: ObjectStoreErrorKind;
  /** The object (or store) concerned, as `ObjectStore.describe` spells it. */
  readonly object: string;
  /** The message without the object and the hint. */
  readonly what: string;
  readonly hint: string | undefined;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly attempts: number | undefined;

  constructor(kind: ObjectStoreErrorKind, object: string, what: string, opts: ObjectStoreErrorOptions = {}) {
    super(`${object}: ${what}${opts.hint ? `: ${opts.hint}` : ''}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.kind = kind;
    this.object = object;
    this.what = what;
    this.hint = opts.hint;
    this.status = opts.status;
    this.code = opts.code;
    this.attempts = opts.attempts;
  }
}

/** True when `err` is an ObjectStoreError (of `kind`, when given). */
export function isObjectStoreError(err: unknown, kind?: ObjectStoreErrorKind): err is ObjectStoreError {
  return err instanceof ObjectStoreError && (kind === undefined || err.kind === kind);
}

/** Counters kept by a store (cumulative since it was opened) or by a scoped view of it. */
export interface ObjectStoreStats {
  /** Requests sent to the backend: HTTP requests for S3 (retries included), file operations for a directory. */
  requests: number;
  /** Bytes received by `get` (for S3, as they arrive, also those of failed attempts). */
  bytesRead: number;
  /** Bytes stored by `put`. */
  bytesWritten: number;
  /** Requests repeated after a retryable failure (S3). */
  retries: number;
}

export function emptyStats(): ObjectStoreStats {
  return { requests: 0, bytesRead: 0, bytesWritten: 0, retries: 0 };
}

/** Adds `b` into `a` (e.g. to sum the stats of several scoped views). */
export function addStats(a: ObjectStoreStats, b: Readonly<ObjectStoreStats>): ObjectStoreStats {
  a.requests += b.requests;
  a.bytesRead += b.bytesRead;
  a.bytesWritten += b.bytesWritten;
  a.retries += b.retries;
  return a;
}

/**
 * The counters of a store and of its scoped views: each event is counted here and in every
 * ancestor, so the root always holds the totals.
 */
export class StoreMeter {
  readonly stats: ObjectStoreStats = emptyStats();
  constructor(private readonly parent?: StoreMeter) {}

  request(n = 1): void {
    for (let m: StoreMeter | undefined = this; m; m = m.parent) m.stats.requests += n;
  }
  read(bytes: number): void {
    for (let m: StoreMeter | undefined = this; m; m = m.parent) m.stats.bytesRead += bytes;
  }
  written(bytes: number): void {
    for (let m: StoreMeter | undefined = this; m; m = m.parent) m.stats.bytesWritten += bytes;
  }
  retry(): void {
    for (let m: StoreMeter | undefined = this; m; m = m.parent) m.stats.retries += 1;
  }
  child(): StoreMeter {
    return new StoreMeter(this);
  }
}

/** A byte range, both ends inclusive, as in HTTP's `Range: bytes=start-end`. */
export type ByteRangeInclusive = readonly [start: number, endInclusive: number];

export interface GetOptions {
  /**
   * Read only these bytes. Both ends are inclusive and must lie inside the object: a range
   * reaching past the end is an `invalid` error (not a short read), so the caller gets exactly
   * `end - start + 1` bytes or an error. To read a footer, get the size first (`size`).
   */
  range?: ByteRangeInclusive;
}

export interface ObjectInfo {
  /** Relative to the store's root, `/`-separated. */
  key: string;
  /** Bytes. */
  size: number;
}

/** What `put` accepts: the bytes at once, or as a stream of chunks (e.g. from a Parquet writer). */
export type PutBody = Uint8Array | AsyncIterable<Uint8Array>;

export interface ObjectStore {
  /** `local` for a directory, `s3` for S3-compatible storage. */
  readonly type: 'local' | 's3';
  /** Live counters (read them before and after an operation to get its share). */
  readonly stats: Readonly<ObjectStoreStats>;

  /**
   * Where an object lives, for messages: `s3://bucket/prefix/key`, or the file's path. Without a
   * key, the store itself (`s3://bucket/prefix/`, or the directory).
   */
  describe(key?: string): string;

  /** The object's bytes, or only `opts.range` of them. `not_found` when it does not exist. */
  get(key: string, opts?: GetOptions, signal?: AbortSignal): Promise<Uint8Array>;
  /** The object's size in bytes (S3: HEAD). `not_found` when it does not exist. */
  size(key: string, signal?: AbortSignal): Promise<number>;
  /** Whether the object exists (S3: HEAD; a 403 is an error, not `false`). */
  exists(key: string, signal?: AbortSignal): Promise<boolean>;
  /**
   * Stores an object atomically: readers see the old object or the new one, never a part; an
   * existing object is replaced. Parent "directories" are created as needed.
   */
  put(key: string, body: PutBody, signal?: AbortSignal): Promise<void>;
  /**
   * The objects whose keys start with `prefix` (a string prefix, as S3's: `2025/06/` or
   * `2025/06/1`; `''` lists everything), fetched page by page, in byte order of their keys (S3, R2
   * and the local store; an S3 clone may list in its own order, e.g. s3rver).
   */
  list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo>;
  /** Removes an object; removing one that does not exist is not an error. */
  delete(key: string, signal?: AbortSignal): Promise<void>;
  /** Removes every object under `prefix` (which must be `''` or end with `/`); returns how many. */
  deletePrefix(prefix: string, signal?: AbortSignal): Promise<number>;
  /** A view of this store (same backend, same connections) with counters of its own. */
  scoped(): ObjectStore;
  /** Releases connections (S3). The store must not be used afterwards. */
  close(): Promise<void>;
}

/** Why `key` is not a valid key, or undefined when it is. */
export function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key === '') return 'empty key';
  if (key.startsWith('/')) return 'a key must not start with /';
  if (key.endsWith('/')) return 'a key must not end with /';
  if (key.includes('\\')) return 'a key must use / as separator, not \\';
  if (key.includes('\0')) return 'a key must not contain NUL';
  for (const seg of key.split('/')) {
    if (seg === '') return 'a key must not contain an empty segment (//)';
    if (seg === '.' || seg === '..') return `a key must not contain a "${seg}" segment`;
  }
  return undefined;
}

/** Why `prefix` is not a valid list prefix ('' is valid, and so is any key with or without a trailing '/'). */
export function prefixProblem(prefix: string): string | undefined {
  if (prefix === '') return undefined;
  return keyProblem(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
}

/** Throws an `invalid` ObjectStoreError when `key` is not a valid key. */
export function validateKey(key: string, describe: (key: string) => string): void {
  const p = keyProblem(key);
  if (p) throw new ObjectStoreError('invalid', describe(String(key)), `invalid object key ${JSON.stringify(key)}: ${p}`);
}

/** Throws an `invalid` ObjectStoreError when `prefix` is not a valid list prefix. */
export function validatePrefix(prefix: string, describe: (key: string) => string): void {
  const p = prefixProblem(prefix);
  if (p) throw new ObjectStoreError('invalid', describe(String(prefix)), `invalid key prefix ${JSON.stringify(prefix)}: ${p}`);
}

/** Throws an `invalid` ObjectStoreError unless `range` is two integers 0 <= start <= end. */
export function validateRange(range: ByteRangeInclusive, object: string): void {
  const [s, e] = range;
  if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || s < 0 || e < s) {
    throw new ObjectStoreError('invalid', object, `invalid byte range ${s}-${e}: need integers 0 <= start <= end (both inclusive)`);
  }
}

/** Byte order of UTF-8 strings (S3's list order), which differs from JS's UTF-16 order past U+FFFF. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Rejects with `signal.reason` when it is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
