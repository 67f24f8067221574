/**
 * A directory as an object store: the embedded default, so that the bundled fixtures work with no
 * server. Key `a/b/c.parquet` is the file `<root>/a/b/c.parquet` (`/` in keys on every OS).
 *
 * - `get` with a range opens the file and reads exactly those bytes at their position; it never
 *   reads the whole file for a range.
 * - `put` writes a temporary file in the target's directory (`.<name>.<random>.hmd-tmp`), fsyncs
 *   it, renames it over the target (atomic on POSIX and on NTFS) and fsyncs the directory, so a
 *   reader sees the old file or the new one, never a part. `list` skips such temporary files.
 * - `list` walks the directory tree, streaming, in byte order of the keys (as S3 lists).
 * - `delete` removes the file and then the directories it leaves empty (up to the root).
 *
 * Counting: one request per file operation (open+read, stat, one directory read, one put, one
 * unlink); `bytesRead` counts the bytes `get` returns.
 */

import { randomBytes } from 'node:crypto';
import { promises as fsp, type Dirent } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import {
  compareKeys,
  ObjectStoreError,
  StoreMeter,
  throwIfAborted,
  validateKey,
  validatePrefix,
  validateRange,
  type GetOptions,
  type ObjectInfo,
  type ObjectStore,
  type ObjectStoreStats,
  type PutBody,
} from './types.js';

/** The suffix of `put`'s temporary files; `list` never shows them. */
export const TEMP_SUFFIX = '.hmd-tmp';

export interface LocalStoreOptions {
  /** fsync files and their directory on `put` (default true). Tests and benchmarks may turn it off. */
  fsync?: boolean;
}

export class LocalObjectStore implements ObjectStore {
  readonly type = 'local' as const;
  /** The absolute path of the directory. */
  readonly root: string;
  private readonly meter: StoreMeter;
  private readonly fsync: boolean;

  constructor(root: string, opts: LocalStoreOptions = {}, meter?: StoreMeter) {
    this.root = resolve(root);
    this.fsync = opts.fsync ?? true;
    this.meter = meter ?? new StoreMeter();
  }

  get stats(): Readonly<ObjectStoreStats> {
    return this.meter.stats;
  }

  scoped(): LocalObjectStore {
    return new LocalObjectStore(this.root, { fsync: this.fsync }, this.meter.child());
  }

  async close(): Promise<void> {}

  describe(key?: string): string {
    if (key === undefined || key === '') return this.root;
    return join(this.root, ...key.split('/'));
  }

  private path(key: string): string {
    validateKey(key, (k) => this.describe(k));
    return this.describe(key);
  }

  private fail(err: unknown, key: string | undefined, op: string): ObjectStoreError {
    if (err instanceof ObjectStoreError) return err;
    const object = this.describe(key);
    const e = err as NodeJS.ErrnoException;
    const code = e?.code;
    const detail = e?.message ?? String(err);
    switch (code) {
      case 'ENOENT':
      case 'ENOTDIR':
      case 'EISDIR':
        return new ObjectStoreError('not_found', object, code === 'EISDIR' ? 'no such object (a directory is there)' : 'no such object', {
          hint: `check the path and the data directory (${this.root})`,
          code,
          cause: err,
        });
      case 'EACCES':
      case 'EPERM':
      case 'EROFS':
        return new ObjectStoreError('forbidden', object, `permission denied (${op})`, {
          hint: 'check the file and directory permissions',
          code,
          cause: err,
        });
      default:
        return new ObjectStoreError('unavailable', object, `${op} failed: ${detail}`, { code, cause: err });
    }
  }

  async get(key: string, opts: GetOptions = {}, signal?: AbortSignal): Promise<Uint8Array> {
    const path = this.path(key);
    if (opts.range) validateRange(opts.range, this.describe(key));
    throwIfAborted(signal);
    let fh: fsp.FileHandle | undefined;
    try {
      this.meter.request();
      fh = await fsp.open(path, 'r');
      const st = await fh.stat();
      if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      let start = 0;
      let length = st.size;
      if (opts.range) {
        const [s, e] = opts.range;
        if (e >= st.size) {
          throw new ObjectStoreError('invalid', this.describe(key), `byte range ${s}-${e} reaches past the end of the object (${st.size} bytes)`);
        }
        start = s;
        length = e - s + 1;
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        throwIfAborted(signal);
        const { bytesRead } = await fh.read(out, done, length - done, start + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      this.meter.read(done);
      if (done < length) {
        throw new ObjectStoreError('corrupt', this.describe(key), `the file ended after ${start + done} bytes while reading ${start}-${start + length - 1} (it changed while being read?)`);
      }
      return out;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw this.fail(err, key, 'read');
    } finally {
      await fh?.close().catch(() => {});
    }
  }

  async size(key: string, signal?: AbortSignal): Promise<number> {
    const path = this.path(key);
    throwIfAborted(signal);
    try {
      this.meter.request();
      const st = await fsp.stat(path);
      if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      return st.size;
    } catch (err) {
      throw this.fail(err, key, 'stat');
    }
  }

  async exists(key: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.size(key, signal);
      return true;
    } catch (err) {
      if (err instanceof ObjectStoreError && err.kind === 'not_found') return false;
      throw err;
    }
  }

  async put(key: string, body: PutBody, signal?: AbortSignal): Promise<void> {
    const path = this.path(key);
    throwIfAborted(signal);
    const dir = dirname(path);
    const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
    this.meter.request();
    let fh: fsp.FileHandle | undefined;
    try {
      // A concurrent delete may remove the (empty) directory between mkdir and open: try twice.
      for (let attempt = 0; ; attempt++) {
        await fsp.mkdir(dir, { recursive: true });
        try {
          fh = await fsp.open(tmp, 'wx');
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw err;
        }
      }
      let written = 0;
      if (body instanceof Uint8Array) {
        await fh.writeFile(body);
        written = body.byteLength;
      } else {
        for await (const chunk of body) {
          throwIfAborted(signal);
          let off = 0;
          while (off < chunk.byteLength) {
            const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
            off += bytesWritten;
          }
          written += chunk.byteLength;
        }
      }
      throwIfAborted(signal);
      if (this.fsync) await fh.sync();
      await fh.close();
      fh = undefined;
      await fsp.rename(tmp, path);
      if (this.fsync) await syncDir(dir);
      this.meter.written(written);
    } catch (err) {
      await fh?.close().catch(() => {});
      await fsp.rm(tmp, { force: true }).catch(() => {});
      if (signal?.aborted) throw signal.reason;
      // An error of the body's producer is the caller's own: pass it on as it is.
      if (!(err instanceof ObjectStoreError) && typeof (err as NodeJS.ErrnoException)?.code !== 'string') throw err;
      throw this.fail(err, key, 'write');
    }
  }

  async *list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix, (k) => this.describe(k));
    // Walk from the deepest directory the prefix names; keep the keys that start with it.
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    yield* this.walk(base, prefix, signal);
  }

  private async *walk(dirKey: string, prefix: string, signal: AbortSignal | undefined): AsyncGenerator<ObjectInfo> {
    throwIfAborted(signal);
    const dirPath = dirKey === '' ? this.root : this.describe(dirKey);
    let entries: Dirent[];
    try {
      this.meter.request();
      entries = await fsp.readdir(dirPath, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // nothing under this prefix
      throw this.fail(err, dirKey, 'list');
    }
    // Byte order of full keys: a directory `d` sorts as `d/`.
    const items = entries
      .filter((e) => e.isDirectory() || (e.isFile() && !e.name.endsWith(TEMP_SUFFIX)))
      .map((e) => ({ e, sortKey: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    for (const { e } of items) {
      const key = dirKey === '' ? e.name : `${dirKey}/${e.name}`;
      if (e.isDirectory()) {
        const asDir = `${key}/`;
        // Descend only where keys can start with the prefix.
        if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) yield* this.walk(key, prefix, signal);
      } else if (key.startsWith(prefix)) {
        let size: number;
        try {
          size = (await fsp.stat(join(dirPath, e.name))).size;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted meanwhile
          throw this.fail(err, key, 'stat');
        }
        yield { key, size };
      }
    }
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    const path = this.path(key);
    throwIfAborted(signal);
    try {
      this.meter.request();
      await fsp.unlink(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw this.fail(err, key, 'delete');
    }
    await this.removeEmptyDirs(dirname(path));
  }

  async deletePrefix(prefix: string, signal?: AbortSignal): Promise<number> {
    if (prefix !== '' && !prefix.endsWith('/')) {
      throw new ObjectStoreError('invalid', this.describe(prefix), 'deletePrefix needs a prefix that ends with / (or the empty prefix)');
    }
    validatePrefix(prefix, (k) => this.describe(k));
    const keys: string[] = [];
    for await (const o of this.list(prefix, signal)) keys.push(o.key);
    for (const k of keys) await this.delete(k, signal);
    return keys.length;
  }

  /** Removes `dir` and its parents while they are empty, never the root. */
  private async removeEmptyDirs(dir: string): Promise<void> {
    const root = this.root.endsWith(sep) ? this.root : this.root + sep;
    while (dir.startsWith(root) && dir.length > root.length) {
      try {
        await fsp.rmdir(dir);
      } catch {
        return; // not empty, gone, or not ours to remove
      }
      dir = dirname(dir);
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // directories cannot be opened for fsync there
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // best effort: some filesystems refuse fsync on directories
  } finally {
    await fh?.close().catch(() => {});
  }
}
