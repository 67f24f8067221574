/**
 * Opening an object store from a `--data` / `--out` spec.
 *
 * ## Specs
 * - `s3://BUCKET` or `s3://BUCKET/PREFIX`: S3-compatible storage (AWS S3, Cloudflare R2, MinIO, ...).
 *   Keys live under `PREFIX/` in the bucket (slashes around the prefix are normalized:
 *   `s3://b/history/` and `s3://b/history` are the same store).
 * - `file:///abs/dir`: a local directory.
 * - Anything else without a `scheme://`: a local directory path, absolute or relative (to
 *   `opts.cwd`, default the process's working directory). It need not exist yet: reading from a
 *   missing directory gives `not_found` errors, writing creates it.
 * - Any other `scheme://` is an `invalid` error.
 *
 * ## S3 settings, first match wins
 * - endpoint: `opts.endpoint`, `HMD_S3_ENDPOINT`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`; none
 *   means AWS S3. It must be a URL with a scheme (`https://<account>.r2.cloudflarestorage.com`,
 *   `http://127.0.0.1:9000`).
 * - region: `opts.region`, `AWS_REGION`, `AWS_DEFAULT_REGION`; otherwise `auto` when the endpoint's
 *   host ends with `.r2.cloudflarestorage.com` (R2), else `us-east-1`.
 * - path-style addressing (`https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`):
 *   `opts.forcePathStyle`, `HMD_S3_FORCE_PATH_STYLE` (`true`/`false`, `1`/`0`, `yes`/`no`);
 *   otherwise on when an endpoint is given (R2, MinIO and s3rver need it) and off for AWS.
 * - credentials: `opts.credentials` (explicit keys); otherwise the AWS SDK's default provider
 *   chain: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, then the profile
 *   `AWS_PROFILE` (or `opts.profile`) in `~/.aws/credentials` and `~/.aws/config` (SSO included),
 *   web identity, then container and instance metadata.
 * - retries and timeouts: `opts.maxAttempts` or `HMD_S3_MAX_ATTEMPTS` (default 5 attempts in all),
 *   `opts.timeoutMs` or `HMD_S3_TIMEOUT_MS` (default 30000 ms per attempt).
 *
 * Empty environment variables count as unset.
 */

import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalObjectStore } from './local.js';
import { S3ObjectStore, type S3Credentials, type S3StoreOptions } from './s3.js';
import { ObjectStoreError, type ObjectStore } from './types.js';

export interface OpenObjectStoreOptions {
  /** Base for relative directory paths (default `process.cwd()`). */
  cwd?: string;
  /** The environment to read (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Local directories: fsync on put (default true). */
  fsync?: boolean;
  // S3 (each overrides the environment)
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  credentials?: S3Credentials;
  profile?: string;
  maxAttempts?: number;
  timeoutMs?: number;
  /** More S3 settings (backoff, list page size, multipart sizes, ...). */
  s3?: Partial<S3StoreOptions>;
}

export type StoreSpec = { type: 'local'; path: string } | { type: 's3'; bucket: string; prefix: string };

/** Parses a spec (see the module comment) without opening anything. Throws an `invalid` ObjectStoreError. */
export function parseStoreSpec(spec: string, cwd: string = process.cwd()): StoreSpec {
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw new ObjectStoreError('invalid', String(spec), 'empty data location', { hint: 'give a directory or s3://bucket/prefix' });
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(spec);
  if (!scheme) return { type: 'local', path: isAbsolute(spec) ? resolve(spec) : resolve(cwd, spec) };
  switch (scheme[1]!.toLowerCase()) {
    case 's3': {
      const rest = spec.slice(scheme[0].length);
      const slash = rest.indexOf('/');
      const bucket = slash < 0 ? rest : rest.slice(0, slash);
      const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+/, '').replace(/\/+$/, '');
      if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/.test(bucket)) {
        throw new ObjectStoreError('invalid', spec, `invalid bucket name ${JSON.stringify(bucket)}`, { hint: 'write s3://bucket or s3://bucket/prefix' });
      }
      return { type: 's3', bucket, prefix };
    }
    case 'file':
      try {
        return { type: 'local', path: fileURLToPath(spec) };
      } catch (err) {
        throw new ObjectStoreError('invalid', spec, `invalid file URL: ${(err as Error).message}`, { hint: 'write file:///absolute/path, or just the path' });
      }
    default:
      throw new ObjectStoreError('invalid', spec, `unsupported scheme "${scheme[1]}://"`, { hint: 'give a directory or s3://bucket/prefix' });
  }
}

const envValue = (env: Record<string, string | undefined>, name: string): string | undefined => {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
};

function envBool(env: Record<string, string | undefined>, name: string, where: string): boolean | undefined {
  const v = envValue(env, name);
  if (v === undefined) return undefined;
  const l = v.toLowerCase();
  if (l === 'true' || l === '1' || l === 'yes') return true;
  if (l === 'false' || l === '0' || l === 'no') return false;
  throw new ObjectStoreError('invalid', where, `${name}=${JSON.stringify(v)} is not a boolean`, { hint: 'use true or false' });
}

function envPositiveInt(env: Record<string, string | undefined>, name: string, where: string): number | undefined {
  const v = envValue(env, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new ObjectStoreError('invalid', where, `${name}=${JSON.stringify(v)} is not a positive integer`);
  return n;
}

/** True for Cloudflare R2 endpoints (`https://<account>.r2.cloudflarestorage.com`, also `.eu.` and `.fedramp.`). */
export function isR2Endpoint(endpoint: string | undefined): boolean {
  if (!endpoint) return false;
  try {
    return new URL(endpoint).hostname.toLowerCase().endsWith('.r2.cloudflarestorage.com');
  } catch {
    return false;
  }
}

/** The S3 settings `openObjectStore` would use for `s3://bucket/prefix`, after the rules above. */
export function resolveS3Options(bucket: string, prefix: string, opts: OpenObjectStoreOptions = {}): S3StoreOptions {
  const env = opts.env ?? process.env;
  const where = `s3://${bucket}/${prefix ? `${prefix}/` : ''}`;
  const endpoint = opts.endpoint ?? envValue(env, 'HMD_S3_ENDPOINT') ?? envValue(env, 'AWS_ENDPOINT_URL_S3') ?? envValue(env, 'AWS_ENDPOINT_URL');
  if (endpoint !== undefined) {
    let ok = false;
    try {
      ok = /^https?:$/.test(new URL(endpoint).protocol);
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new ObjectStoreError('invalid', where, `invalid S3 endpoint ${JSON.stringify(endpoint)}`, {
        hint: 'give an http(s) URL with its scheme, e.g. https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:9000',
      });
    }
  }
  const region = opts.region ?? envValue(env, 'AWS_REGION') ?? envValue(env, 'AWS_DEFAULT_REGION') ?? (isR2Endpoint(endpoint) ? 'auto' : 'us-east-1');
  const forcePathStyle = opts.forcePathStyle ?? envBool(env, 'HMD_S3_FORCE_PATH_STYLE', where) ?? endpoint !== undefined;
  const maxAttempts = opts.maxAttempts ?? envPositiveInt(env, 'HMD_S3_MAX_ATTEMPTS', where);
  const timeoutMs = opts.timeoutMs ?? envPositiveInt(env, 'HMD_S3_TIMEOUT_MS', where);
  return {
    ...opts.s3,
    bucket,
    prefix,
    region,
    forcePathStyle,
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}

/**
 * Opens the store a spec names (see the module comment for the rules). Nothing is contacted
 * yet: errors such as a missing bucket or refused credentials come with the first request.
 * Throws an `invalid` ObjectStoreError for a malformed spec or setting.
 */
export function openObjectStore(spec: string, opts: OpenObjectStoreOptions = {}): ObjectStore {
  const s = parseStoreSpec(spec, opts.cwd);
  if (s.type === 'local') return new LocalObjectStore(s.path, { fsync: opts.fsync });
  return new S3ObjectStore(resolveS3Options(s.bucket, s.prefix, opts));
}
