/**
 * S3-compatible storage (AWS S3, Cloudflare R2, MinIO, s3rver) as an object store, through
 * `@aws-sdk/client-s3`. Key `k` is the object `<prefix>k` in the bucket.
 *
 * - Ranges are always explicit, `Range: bytes=a-b`; never suffix ranges (`bytes=-n`), which some
 *   S3-compatible stores get wrong. To read a footer, call `size` (HEAD) first, then `get` with
 *   an explicit range. A response that covers more than was asked (a server that ignores `Range`)
 *   is cut to the range; one that covers less is an error.
 * - Retries are done here, not by the SDK (its own retries are off so that every attempt is
 *   counted and bounded): full-jitter exponential backoff (a random delay in
 *   [0, min(maxDelayMs, baseDelayMs * 2^(attempt-1)))) on 5xx, throttling (429, 503, SlowDown)
 *   and timeouts/connection errors, for at most `maxAttempts` attempts in all. 403 and 404 are
 *   never retried: they become `forbidden` and `not_found` errors naming the object.
 * - Every attempt has a timeout (`timeoutMs`): no response headers within it, or no body bytes
 *   for that long, aborts the attempt (and counts as a retryable failure). Uploads get
 *   `timeoutMs` plus one second per 256 KiB of body.
 * - `put` sends one PutObject up to `multipartThreshold` bytes (default 16 MiB; the body is
 *   buffered up to that size, so memory stays bounded for streamed bodies); larger bodies go as a
 *   multipart upload in parts of `partSize` (default 8 MiB, at least 5 MiB as S3 requires), one
 *   part in memory at a time. Both are atomic on S3: readers see the old or the new object.
 * - The SDK's optional request checksums are off (`WHEN_REQUIRED`): R2 and s3rver do not all
 *   accept the aws-chunked trailers the SDK would send.
 *
 * `list` yields keys in the server's order: byte order on S3 and R2 (s3rver walks its directories
 * instead, so there keys like `a/b` and `a.x` come in another order).
 *
 * Counting: one request per HTTP attempt (retries included, each also in `retries`); `bytesRead`
 * counts the body bytes as they arrive.
 */

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import {
  ObjectStoreError,
  StoreMeter,
  throwIfAborted,
  validateKey,
  validatePrefix,
  validateRange,
  type GetOptions,
  type ObjectInfo,
  type ObjectStore,
  type ObjectStoreErrorKind,
  type ObjectStoreStats,
  type PutBody,
} from './types.js';

export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_BASE_DELAY_MS = 100;
export const DEFAULT_MAX_DELAY_MS = 5_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MULTIPART_THRESHOLD = 16 << 20;
export const DEFAULT_PART_SIZE = 8 << 20;
/** S3's smallest part (all parts but the last). */
export const MIN_PART_SIZE = 5 << 20;
/** S3's largest single PutObject; a `multipartThreshold` above it is lowered to it. */
export const MAX_SINGLE_PUT = 5 * 1024 ** 3;

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket (`history/prod`); a trailing `/` is added. Default: none. */
  prefix?: string;
  /** Endpoint URL (`https://<account>.r2.cloudflarestorage.com`, `http://127.0.0.1:4568`); default: AWS. */
  endpoint?: string;
  /** Default `us-east-1`. (`openObjectStore` applies the environment rules.) */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`); default: on when an endpoint is given. */
  forcePathStyle?: boolean;
  /** Explicit keys; default: the SDK's default provider chain (environment, AWS_PROFILE, SSO, ...). */
  credentials?: S3Credentials;
  /** A profile of ~/.aws/config and ~/.aws/credentials, for the default chain. */
  profile?: string;
  /** Attempts per request, the first included (default 5). */
  maxAttempts?: number;
  /** Backoff base and cap (defaults 100 ms, 5 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per-attempt timeout: to the response headers, and between body chunks (default 30 s). */
  timeoutMs?: number;
  /** ListObjectsV2 MaxKeys (default 1000, S3's maximum). */
  listPageSize?: number;
  multipartThreshold?: number;
  partSize?: number;
  /** Randomness for the jitter, in [0, 1) (default Math.random). */
  random?: () => number;
  /** Extra S3Client configuration, applied last. */
  clientConfig?: Partial<S3ClientConfig>;
}

const RETRYABLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
]);
const FORBIDDEN_CODES = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'AccountProblem',
  'InvalidSecurity',
  'Forbidden',
  'Unauthorized',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const CREDENTIALS_HINT = 'check the credentials (AWS_ACCESS_KEY_ID/AWS_PROFILE) and the bucket policy';

interface Classified {
  kind: ObjectStoreErrorKind;
  retry: boolean;
  what: string;
  hint?: string;
  status?: number;
  code?: string;
}

/** Thrown inside an attempt when its timer fires. */
class AttemptTimeout extends Error {
  override readonly name = 'AttemptTimeout';
}

interface Attempt {
  /** Aborted when the attempt times out or the caller aborts. */
  signal: AbortSignal;
  /** Restarts the attempt's timer (progress was made). */
  touch(): void;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

function normalizePrefix(prefix: string | undefined): string {
  const p = (prefix ?? '').replace(/^\/+/, '').replace(/\/+$/, '');
  return p === '' ? '' : `${p}/`;
}

export class S3ObjectStore implements ObjectStore {
  readonly type = 's3' as const;
  readonly bucket: string;
  /** '' or ending with '/'. */
  readonly prefix: string;
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly forcePathStyle: boolean;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly listPageSize: number;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly random: () => number;
  private readonly client: S3Client;
  private readonly meter: StoreMeter;
  private readonly owner: boolean;
  private readonly options: S3StoreOptions;

  constructor(opts: S3StoreOptions, shared?: { client: S3Client; meter: StoreMeter }) {
    if (!opts.bucket || /[/\s]/.test(opts.bucket)) {
      throw new ObjectStoreError('invalid', `s3://${opts.bucket ?? ''}`, `invalid bucket name ${JSON.stringify(opts.bucket)}`);
    }
    this.bucket = opts.bucket;
    this.prefix = normalizePrefix(opts.prefix);
    if (this.prefix !== '') validatePrefix(this.prefix, () => `s3://${this.bucket}/${this.prefix}`);
    this.endpoint = opts.endpoint;
    this.region = opts.region ?? 'us-east-1';
    this.forcePathStyle = opts.forcePathStyle ?? opts.endpoint !== undefined;
    this.maxAttempts = Math.max(1, Math.floor(opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS));
    this.baseDelayMs = opts.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.maxDelayMs = opts.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.listPageSize = Math.min(1000, Math.max(1, Math.floor(opts.listPageSize ?? 1000)));
    this.partSize = Math.max(MIN_PART_SIZE, Math.floor(opts.partSize ?? DEFAULT_PART_SIZE));
    this.multipartThreshold = Math.min(MAX_SINGLE_PUT, Math.max(1, Math.floor(opts.multipartThreshold ?? DEFAULT_MULTIPART_THRESHOLD)));
    this.random = opts.random ?? Math.random;
    this.options = opts;
    if (shared) {
      this.client = shared.client;
      this.meter = shared.meter;
      this.owner = false;
    } else {
      if (this.endpoint !== undefined) {
        try {
          new URL(this.endpoint);
        } catch {
          throw new ObjectStoreError('invalid', this.describe(), `invalid endpoint ${JSON.stringify(this.endpoint)}`, {
            hint: 'give a URL with its scheme, e.g. https://<account>.r2.cloudflarestorage.com or http://127.0.0.1:9000',
          });
        }
      }
      const config: S3ClientConfig = {
        region: this.region,
        forcePathStyle: this.forcePathStyle,
        maxAttempts: 1,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        // The SDK's own timeouts are a backstop; the attempt timer (`call`) is the one that fires.
        requestHandler: { connectionTimeout: this.timeoutMs, socketTimeout: this.timeoutMs + 1_000 },
        ...(this.endpoint !== undefined ? { endpoint: this.endpoint } : { followRegionRedirects: true }),
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
        ...(opts.profile ? { profile: opts.profile } : {}),
        ...opts.clientConfig,
      };
      // The SDK warns on every process under Node < 22 that its future versions will need 22;
      // hmd supports Node 20, and the warning would land in the CLI's stderr. Set the variable
      // to anything but "true" to see it.
      process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
      this.client = new S3Client(config);
      this.meter = new StoreMeter();
      this.owner = true;
    }
  }

  get stats(): Readonly<ObjectStoreStats> {
    return this.meter.stats;
  }

  scoped(): S3ObjectStore {
    return new S3ObjectStore(this.options, { client: this.client, meter: this.meter.child() });
  }

  async close(): Promise<void> {
    if (this.owner) this.client.destroy();
  }

  describe(key?: string): string {
    return `s3://${this.bucket}/${this.prefix}${key ?? ''}`;
  }

  private fullKey(key: string): string {
    validateKey(key, (k) => this.describe(k));
    return this.prefix + key;
  }

  // ---- retries ----

  /**
   * Runs one request with retries. `fn` gets the attempt's signal (pass it to `client.send`) and
   * `touch` (call it on progress, e.g. per body chunk).
   */
  private async call<T>(op: string, key: string | undefined, fn: (a: Attempt) => Promise<T>, signal?: AbortSignal, timeoutMs = this.timeoutMs): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(signal);
      const ac = new AbortController();
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = true;
          ac.abort(new AttemptTimeout(`no response within ${timeoutMs} ms`));
        }, timeoutMs);
      };
      const onCallerAbort = () => ac.abort(signal!.reason);
      signal?.addEventListener('abort', onCallerAbort, { once: true });
      arm();
      this.meter.request();
      try {
        return await fn({ signal: ac.signal, touch: arm });
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (err instanceof ObjectStoreError) throw err;
        const c = this.classify(err, op, timedOut, timeoutMs);
        if (c.retry && attempt < this.maxAttempts) {
          this.meter.retry();
          const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
          await sleep(this.random() * cap, signal);
          continue;
        }
        const tries = attempt > 1 ? ` (after ${attempt} attempts)` : '';
        throw new ObjectStoreError(c.kind, this.describe(key), `${c.what}${tries}`, {
          hint: c.hint,
          status: c.status,
          code: c.code,
          attempts: attempt,
          cause: err,
        });
      } finally {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onCallerAbort);
      }
    }
  }

  private classify(err: unknown, op: string, timedOut: boolean, timeoutMs: number): Classified {
    const e = (err ?? {}) as {
      name?: string;
      Code?: string;
      code?: string;
      message?: string;
      $metadata?: { httpStatusCode?: number };
      $response?: { statusCode?: number };
      cause?: { code?: string };
    };
    if (timedOut) {
      return {
        kind: 'unavailable',
        retry: true,
        what: `${op} timed out: nothing received for ${timeoutMs} ms`,
        hint: `check that the endpoint (${this.endpoint ?? 'AWS S3'}) is reachable`,
        code: 'Timeout',
      };
    }
    const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
    const code = e.Code ?? (e.name && e.name !== 'Error' && e.name !== 'Unknown' && e.name !== 'UnknownError' ? e.name : undefined);
    const nodeCode = e.code ?? e.cause?.code;
    // The SDK's messages can run over lines (deserialization notes); the first line says it.
    const msg = (e.message ?? '').split('\n')[0]!.trim();
    const detail = msg && msg !== code && msg !== 'UnknownError' && msg !== 'Unknown' ? `: ${msg}` : '';
    const label = [status, code && code !== String(status) ? code : undefined].filter((x) => x !== undefined).join(' ');

    if (e.name === 'CredentialsProviderError' || /Could not load credentials/i.test(e.message ?? '')) {
      return {
        kind: 'forbidden',
        retry: false,
        what: 'no credentials found',
        hint: 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or give the keys explicitly',
        code: e.name,
      };
    }
    if (status === 404 || code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchBucket') {
      if (code === 'NoSuchBucket') {
        return { kind: 'not_found', retry: false, what: `no such bucket "${this.bucket}" (404)`, hint: 'check the bucket name, the endpoint and the region', status, code };
      }
      return { kind: 'not_found', retry: false, what: 'no such object (404)', hint: 'check the prefix and that the data was written there', status, code };
    }
    if (status === 401 || status === 403 || (code !== undefined && FORBIDDEN_CODES.has(code))) {
      return { kind: 'forbidden', retry: false, what: `access denied (${label || 403})`, hint: CREDENTIALS_HINT, status, code };
    }
    if (status === 416 || code === 'InvalidRange') {
      return { kind: 'invalid', retry: false, what: `range not satisfiable (${label || 416})`, hint: 'the object is smaller than the range read', status, code };
    }
    if (status === 429 || (status !== undefined && status >= 500) || (code !== undefined && RETRYABLE_CODES.has(code))) {
      const what = status === 429 || code === 'SlowDown' || code?.startsWith('Throttl') ? 'throttled' : 'server error';
      return { kind: 'unavailable', retry: true, what: `${op} failed: ${what} (${label})`, hint: 'the store is overloaded or down; try again later', status, code };
    }
    if (status === 301 || status === 307 || code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || code === 'IllegalLocationConstraintException') {
      return {
        kind: 'invalid',
        retry: false,
        what: `wrong region or endpoint (${label})`,
        hint: 'set the bucket\'s region (AWS_REGION) or the endpoint (HMD_S3_ENDPOINT)',
        status,
        code,
      };
    }
    if (status !== undefined && status >= 400) {
      return { kind: 'invalid', retry: false, what: `${op} refused (${label})${detail}`, status, code };
    }
    if (nodeCode === 'ENOTFOUND') {
      return { kind: 'unavailable', retry: false, what: `${op} failed: host not found (ENOTFOUND)`, hint: `check the endpoint (${this.endpoint ?? 'AWS S3'})`, code: nodeCode };
    }
    if ((nodeCode !== undefined && NETWORK_CODES.has(nodeCode)) || e.name === 'TimeoutError' || e.name === 'AbortError' || /socket hang up|ECONNRESET|premature close|aborted/i.test(e.message ?? '')) {
      return {
        kind: 'unavailable',
        retry: true,
        what: `${op} failed: ${nodeCode ?? e.name}${detail}`,
        hint: `check that the endpoint (${this.endpoint ?? 'AWS S3'}) is reachable`,
        code: nodeCode ?? e.name,
      };
    }
    if (status !== undefined && status >= 200 && status < 300) {
      // A 2xx the SDK could not parse (e.g. a proxy's HTML page): not the store's answer.
      return { kind: 'unavailable', retry: true, what: `${op} failed: unreadable response (${label})${detail}`, status, code };
    }
    // Anything else without an HTTP status is a transport problem: retry.
    return { kind: 'unavailable', retry: true, what: `${op} failed: ${e.name ?? 'error'}${detail || `: ${String(err)}`}`, status, code };
  }

  // ---- reads ----

  async get(key: string, opts: GetOptions = {}, signal?: AbortSignal): Promise<Uint8Array> {
    const Key = this.fullKey(key);
    const range = opts.range;
    if (range) validateRange(range, this.describe(key));
    return this.call(
      'GET',
      key,
      async (a) => {
        const res = await this.client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key, ...(range ? { Range: `bytes=${range[0]}-${range[1]}` } : {}) }),
          { abortSignal: a.signal },
        );
        a.touch();
        const data = await this.readBody(res.Body, res.ContentLength, a);
        if (!range) {
          if (res.ContentLength !== undefined && data.byteLength !== res.ContentLength) {
            throw new ObjectStoreError('corrupt', this.describe(key), `short body: ${data.byteLength} of ${res.ContentLength} bytes`);
          }
          return data;
        }
        const [s, e] = range;
        const want = e - s + 1;
        // Where the body starts in the object: Content-Range, or 0 for a server that ignored Range.
        let bodyStart = 0;
        let total: number | undefined;
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.ContentRange ?? '');
        if (m) {
          bodyStart = Number(m[1]);
          if (m[3] !== '*') total = Number(m[3]);
        } else if (res.ContentRange) {
          throw new ObjectStoreError('corrupt', this.describe(key), `unexpected Content-Range ${JSON.stringify(res.ContentRange)} for bytes=${s}-${e}`);
        } else {
          total = data.byteLength;
        }
        if (total !== undefined && e >= total) {
          throw new ObjectStoreError('invalid', this.describe(key), `byte range ${s}-${e} reaches past the end of the object (${total} bytes)`);
        }
        const off = s - bodyStart;
        if (off < 0 || off + want > data.byteLength) {
          throw new ObjectStoreError('corrupt', this.describe(key), `the server returned bytes ${bodyStart}-${bodyStart + data.byteLength - 1} for bytes=${s}-${e}`);
        }
        return off === 0 && data.byteLength === want ? data : data.slice(off, off + want);
      },
      signal,
    );
  }

  /** Reads a response body into one exact-size buffer, counting bytes as they arrive. */
  private async readBody(body: unknown, contentLength: number | undefined, a: Attempt): Promise<Uint8Array> {
    if (body === undefined || body === null) return new Uint8Array(0);
    const stream = body as AsyncIterable<Uint8Array> & { destroy?: (err?: Error) => void };
    const onAbort = () => stream.destroy?.(a.signal.reason as Error);
    if (a.signal.aborted) onAbort();
    a.signal.addEventListener('abort', onAbort, { once: true });
    try {
      let exact = contentLength !== undefined && Number.isSafeInteger(contentLength) && contentLength >= 0 ? new Uint8Array(contentLength) : undefined;
      const chunks: Uint8Array[] = [];
      let n = 0;
      for await (const chunk of stream) {
        a.touch();
        this.meter.read(chunk.byteLength);
        if (exact && n + chunk.byteLength <= exact.byteLength) exact.set(chunk, n);
        else {
          // More than Content-Length said (or no length): keep the chunks and assemble at the end.
          if (exact) chunks.push(exact.subarray(0, n));
          exact = undefined;
          chunks.push(chunk);
        }
        n += chunk.byteLength;
      }
      if (a.signal.aborted) throw a.signal.reason;
      if (exact) return n === exact.byteLength ? exact : exact.subarray(0, n);
      const out = concat(chunks, n);
      return out;
    } catch (err) {
      if (a.signal.aborted) throw a.signal.reason;
      throw err;
    } finally {
      a.signal.removeEventListener('abort', onAbort);
    }
  }

  async size(key: string, signal?: AbortSignal): Promise<number> {
    const Key = this.fullKey(key);
    return this.call(
      'HEAD',
      key,
      async (a) => {
        const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }), { abortSignal: a.signal });
        if (res.ContentLength === undefined) {
          throw new ObjectStoreError('corrupt', this.describe(key), 'HEAD returned no Content-Length');
        }
        return res.ContentLength;
      },
      signal,
    );
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

  async *list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix, (k) => this.describe(k));
    const Prefix = this.prefix + prefix;
    let token: string | undefined;
    do {
      const page = await this.call(
        'LIST',
        prefix,
        (a) =>
          this.client.send(
            new ListObjectsV2Command({ Bucket: this.bucket, Prefix: Prefix === '' ? undefined : Prefix, MaxKeys: this.listPageSize, ContinuationToken: token }),
            { abortSignal: a.signal },
          ),
        signal,
      );
      if (page.Name === undefined && page.KeyCount === undefined && page.MaxKeys === undefined && page.Contents === undefined) {
        // A 200 that is not a listing (e.g. a web page): do not take it for an empty prefix.
        throw new ObjectStoreError('corrupt', this.describe(prefix), 'the answer to ListObjectsV2 is not a listing', {
          hint: `check the endpoint (${this.endpoint ?? 'AWS S3'}) and the path-style setting`,
        });
      }
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || !o.Key.startsWith(this.prefix)) continue;
        yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0 };
      }
      if (page.IsTruncated && !page.NextContinuationToken) {
        throw new ObjectStoreError('corrupt', this.describe(prefix), 'the listing is truncated but has no continuation token', {
          hint: 'the server does not implement ListObjectsV2 pagination (s3rver needs node --openssl-legacy-provider)',
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  // ---- writes ----

  private putTimeout(bytes: number): number {
    return this.timeoutMs + Math.ceil(bytes / (256 * 1024)) * 1000;
  }

  async put(key: string, body: PutBody, signal?: AbortSignal): Promise<void> {
    const Key = this.fullKey(key);
    throwIfAborted(signal);
    if (body instanceof Uint8Array) {
      if (body.byteLength <= this.multipartThreshold) return this.putOne(key, Key, body, signal);
      return this.putMultipart(key, Key, sliceParts(body, this.partSize), signal);
    }
    // A stream: buffer up to the threshold; past it, switch to multipart with what is buffered.
    const it = body[Symbol.asyncIterator]();
    const head: Uint8Array[] = [];
    let n = 0;
    for (;;) {
      const r = await it.next();
      if (r.done) return this.putOne(key, Key, concat(head, n), signal);
      head.push(r.value);
      n += r.value.byteLength;
      if (n > this.multipartThreshold) break;
    }
    const rest: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => it,
    };
    return this.putMultipart(key, Key, rechunk(head, rest, this.partSize), signal);
  }

  private async putOne(key: string, Key: string, data: Uint8Array, signal?: AbortSignal): Promise<void> {
    await this.call(
      'PUT',
      key,
      (a) => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: data, ContentLength: data.byteLength }), { abortSignal: a.signal }),
      signal,
      this.putTimeout(data.byteLength),
    );
    this.meter.written(data.byteLength);
  }

  private async putMultipart(key: string, Key: string, parts: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    const created = await this.call(
      'PUT (create multipart upload)',
      key,
      (a) => this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key }), { abortSignal: a.signal }),
      signal,
    );
    const UploadId = created.UploadId;
    if (!UploadId) throw new ObjectStoreError('corrupt', this.describe(key), 'CreateMultipartUpload returned no UploadId');
    const done: CompletedPart[] = [];
    let written = 0;
    try {
      let PartNumber = 0;
      for await (const part of parts) {
        PartNumber++;
        const res = await this.call(
          `PUT (part ${PartNumber})`,
          key,
          (a) =>
            this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key, UploadId, PartNumber, Body: part, ContentLength: part.byteLength }), {
              abortSignal: a.signal,
            }),
          signal,
          this.putTimeout(part.byteLength),
        );
        done.push({ ETag: res.ETag, PartNumber });
        written += part.byteLength;
      }
      await this.call(
        'PUT (complete multipart upload)',
        key,
        (a) =>
          this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId, MultipartUpload: { Parts: done } }), {
            abortSignal: a.signal,
          }),
        signal,
      );
      this.meter.written(written);
    } catch (err) {
      // Best effort: do not leave the parts billed; the original error is what matters.
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }), { abortSignal: AbortSignal.timeout(this.timeoutMs) })
        .catch(() => {});
      throw err;
    }
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    const Key = this.fullKey(key);
    try {
      await this.call('DELETE', key, (a) => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }), { abortSignal: a.signal }), signal);
    } catch (err) {
      if (err instanceof ObjectStoreError && err.kind === 'not_found' && err.code !== 'NoSuchBucket') return;
      throw err;
    }
  }

  async deletePrefix(prefix: string, signal?: AbortSignal): Promise<number> {
    if (prefix !== '' && !prefix.endsWith('/')) {
      throw new ObjectStoreError('invalid', this.describe(prefix), 'deletePrefix needs a prefix that ends with / (or the empty prefix)');
    }
    const keys: string[] = [];
    for await (const o of this.list(prefix, signal)) keys.push(o.key);
    // A few deletes at a time (DeleteObjects needs Content-MD5, which not every S3 clone takes).
    let next = 0;
    const worker = async () => {
      while (next < keys.length) await this.delete(keys[next++]!, signal);
    };
    await Promise.all(Array.from({ length: Math.min(8, keys.length) }, worker));
    return keys.length;
  }
}

function concat(chunks: Uint8Array[], n: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.byteLength === n) return chunks[0]!;
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

function* sliceParts(data: Uint8Array, partSize: number): Generator<Uint8Array> {
  for (let off = 0; off < data.byteLength; off += partSize) yield data.subarray(off, Math.min(data.byteLength, off + partSize));
}

/** Re-cuts `head` followed by `rest` into parts of exactly `partSize` bytes (the last one shorter). */
async function* rechunk(head: Uint8Array[], rest: AsyncIterable<Uint8Array>, partSize: number): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(partSize);
  let n = 0;
  async function* all(): AsyncGenerator<Uint8Array> {
    yield* head;
    yield* rest;
  }
  for await (let chunk of all()) {
    while (chunk.byteLength > 0) {
      const take = Math.min(partSize - n, chunk.byteLength);
      buf.set(chunk.subarray(0, take), n);
      n += take;
      chunk = chunk.subarray(take);
      if (n === partSize) {
        yield buf;
        buf = new Uint8Array(partSize);
        n = 0;
      }
    }
  }
  if (n > 0) yield buf.subarray(0, n);
}
