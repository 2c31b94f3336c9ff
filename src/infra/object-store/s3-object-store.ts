/**
 * The cluster ObjectStore: objects in an S3 bucket (AWS S3, Ceph RGW, MinIO, ...) through
 * `@aws-sdk/client-s3`, key 'a/b' at `<prefix>/a/b`. Tested against Ceph RGW 16.
 *
 * URL: `s3://<bucket>[/<prefix>]?endpoint=http://host:port&region=us-east-1&accessKey=..&secretKey=..`
 * (see `parseS3Url` for every parameter). Credentials come from the URL, else from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else MinIO's default
 * minioadmin/minioadmin, as Milvus's own config defaults to. Path-style addressing by default,
 * because S3-compatible servers rarely have wildcard DNS for virtual-host buckets.
 *
 * How the port's semantics map onto S3:
 * - put is one PutObject, which S3 makes atomic (readers see the old or the new object). A single
 *   PutObject takes up to 5 GiB, more than a Uint8Array holds in Node 20 (4 GiB), so no multipart.
 * - get with a range is one ranged GetObject (`Range: bytes=a-b`); only the edge cases (an empty
 *   range, a range at or past the end, which S3 answers with 416) cost a HeadObject.
 * - list pages through ListObjectsV2 (1000 keys a page). S3 sorts by UTF-8 bytes, i.e. code points;
 *   that matches the other adapters' UTF-16 order except between U+E000-U+FFFF and astral
 *   characters, which Milvus's ASCII keys never contain.
 * - lastModifiedMs is whole seconds: HeadObject's Last-Modified header has no milliseconds, and
 *   stat and list must agree.
 * - delete sends DeleteObjects in batches of 1000 (the S3 limit); S3 deletes are idempotent.
 * - S3, unlike the local adapter, lets 'a' and 'a/b' coexist; the port forbids relying on it.
 *
 * The SDK retries retriable failures itself (maxAttempts, default 3); what still fails becomes a
 * DbError: NoSuchKey -> IoKeyNotFound, rejected credentials or a missing bucket -> ServiceInternal,
 * anything else (network, 5xx) -> IoFailed (retriable), the SDK's error as cause.
 *
 * This module is loaded only through `await import()` (infra/index.ts), so standalone never loads
 * the AWS SDK.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type BucketLocationConstraint,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3'
import { DbError, isDbError } from '../../common/errors.js'
import { silentLogger, type Logger } from '../../common/log.js'
import {
  checkObjectKey,
  checkObjectPrefix,
  notFound,
  resolveRange,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
} from './object-store.js'

export interface S3ObjectStoreOptions {
  readonly bucket: string
  /** Keys live under `<prefix>/`; '' (the default) = the bucket's root. A valid object key. */
  readonly prefix?: string
  /** `http(s)://host[:port]`; default: AWS's endpoint for the region. */
  readonly endpoint?: string
  /** Default 'us-east-1' (what Ceph and MinIO accept whatever their zone is called). */
  readonly region?: string
  /** Both or neither; default: env AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else minioadmin. */
  readonly accessKeyId?: string
  readonly secretAccessKey?: string
  readonly sessionToken?: string
  /** Default true: `endpoint/bucket/key`, not `bucket.endpoint/key`. */
  readonly forcePathStyle?: boolean
  /** Create the bucket at open if it is missing. Default true. */
  readonly createBucket?: boolean
  /** Attempts per request, the SDK's retries included. Default 3. */
  readonly maxAttempts?: number
  readonly log?: Logger
}

/** S3's limits: DeleteObjects takes 1000 keys; a key is at most 1024 bytes of UTF-8. */
const DELETE_BATCH = 1000
const MAX_KEY_BYTES = 1024
const DEFAULT_REGION = 'us-east-1'
const DEFAULT_CREDENTIALS = { accessKeyId: 'minioadmin', secretAccessKey: 'minioadmin' }
const URL_PARAMS = new Set([
  'endpoint',
  'region',
  'accessKey',
  'secretKey',
  'sessionToken',
  'pathStyle',
  'createBucket',
])
/** Characters XML 1.0 cannot carry even escaped; DeleteObjects' XML body cannot name such keys. */
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/u

export class S3ObjectStore implements ObjectStore {
  readonly bucket: string
  /** '' or `<prefix>/`: prepended to every key. */
  readonly root: string
  readonly #s3: S3Client
  readonly #log: Logger
  readonly #createBucket: boolean
  readonly #region: string
  #closed = false

  private constructor(opts: S3ObjectStoreOptions) {
    checkBucket(opts.bucket)
    const prefix = opts.prefix ?? ''
    if (prefix !== '') checkPrefixOption(prefix)
    this.bucket = opts.bucket
    this.root = prefix === '' ? '' : `${prefix}/`
    this.#log = opts.log ?? silentLogger()
    this.#createBucket = opts.createBucket ?? true
    this.#region = opts.region ?? DEFAULT_REGION
    if (opts.endpoint !== undefined) checkEndpoint(opts.endpoint)
    // The SDK's own warnings (socket pool exhausted, ...) go to our log, not the console.
    const sdkLog = sdkLogger(this.#log)
    this.#s3 = new S3Client({
      region: this.#region,
      ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
      forcePathStyle: opts.forcePathStyle ?? true,
      credentials: resolveCredentials(opts),
      maxAttempts: opts.maxAttempts ?? 3,
      logger: sdkLog,
      // Flexible checksums (CRC32 on every body, the SDK's default since 2025) are unknown to
      // many S3-compatible servers and cost a pass over each body; send them only where S3
      // requires a checksum (DeleteObjects).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // The SDK has no timeouts by default: an unreachable endpoint would hang open() for
      // minutes, a stalled connection a query forever.
      requestHandler: {
        connectionTimeout: 5_000,
        socketTimeout: 60_000,
        httpAgent: { keepAlive: true },
        logger: sdkLog,
      },
    })
  }

  /**
   * Connects, checking the bucket exists (creating it unless `createBucket: false`).
   * @throws DbError('ParameterInvalid') for bad options; ServiceInternal if the bucket is missing
   *   and may not be created or the credentials are rejected; IoFailed if S3 cannot be reached.
   */
  static async open(opts: S3ObjectStoreOptions): Promise<S3ObjectStore> {
    const store = new S3ObjectStore(opts)
    try {
      await store.#ensureBucket()
    } catch (e) {
      await store.close()
      throw e
    }
    return store
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const k = this.#key(key)
    await this.#call('put', key, () =>
      this.#s3.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: k, Body: body, ContentLength: body.length }),
      ),
    )
  }

  async get(key: string, opts?: { readonly range?: ByteRange }): Promise<Uint8Array> {
    const k = this.#key(key)
    const range = opts?.range
    if (range === undefined) return readBody(key, (await this.#getObject(key, k, undefined))!)
    // Checks the numbers before any request; the size is checked against the object below.
    resolveRange(key, Number.MAX_SAFE_INTEGER, range)
    for (let attempt = 0; ; attempt++) {
      const { offset, length } = range
      // An open-ended range where the end would not be exact anyway.
      const open = length === undefined || offset + length > Number.MAX_SAFE_INTEGER
      const last = open ? '' : String(offset + length - 1)
      const res = length === 0 ? undefined : await this.#getObject(key, k, `bytes=${offset}-${last}`)
      if (res !== undefined) {
        const body = await readBody(key, res)
        // A server may ignore Range and send the whole object (200 without Content-Range).
        if (res.ContentRange === undefined) {
          const { start, end } = resolveRange(key, body.length, range)
          return body.slice(start, end)
        }
        return body
      }
      // No bytes to read, or S3 said 416 (the range starts at or past the end): the object's size
      // decides between an empty read, ParameterInvalid and IoKeyNotFound.
      const info = await this.stat(key)
      if (info === undefined) throw notFound(key)
      const { start, end } = resolveRange(key, info.size, range)
      if (start === end) return new Uint8Array(0)
      // Otherwise the object grew between the GET and the HEAD: read it again.
      if (attempt >= 2) {
        throw new DbError('IoFailed', `object store get ${key}: the object keeps changing size`)
      }
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const k = this.#key(key)
    try {
      const res = await this.#s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: k }))
      return { key, size: res.ContentLength ?? 0, lastModifiedMs: wholeSeconds(res.LastModified) }
    } catch (e) {
      if (isMissingKey(e)) return undefined
      throw this.#error(e, 'stat', key)
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.#usable()
    checkObjectPrefix(prefix)
    const s3Prefix = this.root + prefix
    let token: string | undefined
    do {
      // A caller may close the store between pages.
      this.#usable()
      const res = await this.#call('list', prefix, () =>
        this.#s3.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: s3Prefix,
            ContinuationToken: token,
            // XML cannot carry control characters, which keys may contain: ask for them encoded.
            EncodingType: 'url',
          }),
        ),
      )
      for (const o of res.Contents ?? []) {
        const full = decodeListedKey(o.Key ?? '')
        const key = full.slice(this.root.length)
        // Skips objects this store could not have written: console "folder" markers ('dir/'),
        // keys with empty segments. get() would reject their names anyway.
        if (!full.startsWith(s3Prefix) || !isValidKey(key)) continue
        yield { key, size: o.Size ?? 0, lastModifiedMs: wholeSeconds(o.LastModified) }
      }
      if (res.IsTruncated && !res.NextContinuationToken) {
        throw new DbError('IoFailed', `object store list ${prefix}: truncated page, no token`)
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined
    } while (token !== undefined)
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.#usable()
    const full = [...new Set(keys.map((k) => this.#key(k)))]
    const viaXml = full.filter((k) => !NOT_XML.test(k))
    for (const k of full.filter((k) => NOT_XML.test(k))) {
      await this.#call('delete', k, () =>
        this.#s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: k })),
      )
    }
    for (let i = 0; i < viaXml.length; i += DELETE_BATCH) {
      const batch = viaXml.slice(i, i + DELETE_BATCH)
      const res = await this.#call('delete', batch[0]!, () =>
        this.#s3.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        ),
      )
      // Quiet mode lists only failures; S3 does not count a missing key as one, some clones do.
      const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey')
      if (failed.length > 0) {
        const first = failed[0]!
        const why = `${first.Key}: ${first.Code} ${first.Message ?? ''}`
        throw new DbError(
          'IoFailed',
          `object store delete: ${failed.length} of ${batch.length} objects not deleted (${why})`,
        )
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#s3.destroy()
  }

  async #ensureBucket(): Promise<void> {
    if (await this.#bucketExists()) return
    if (!this.#createBucket) {
      throw new DbError(
        'ServiceInternal',
        `object store bucket ${this.bucket} does not exist (createBucket=false)`,
      )
    }
    try {
      await this.#s3.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          // us-east-1 is the one region that must not be named.
          ...(this.#region === DEFAULT_REGION
            ? {}
            : {
                CreateBucketConfiguration: {
                  LocationConstraint: this.#region as BucketLocationConstraint,
                },
              }),
        }),
      )
      this.#log.info({ bucket: this.bucket }, 'created object store bucket')
    } catch (e) {
      // Another process created it first; Ceph answers BucketAlreadyExists even to its owner.
      const name = errorName(e)
      if (name === 'BucketAlreadyOwnedByYou') return
      if (name === 'BucketAlreadyExists' && (await this.#bucketExists())) return
      throw this.#error(e, 'create bucket', this.bucket)
    }
  }

  async #bucketExists(): Promise<boolean> {
    try {
      await this.#s3.send(new HeadBucketCommand({ Bucket: this.bucket }))
      return true
    } catch (e) {
      if (httpStatus(e) === 404) return false
      throw this.#error(e, 'open bucket', this.bucket)
    }
  }

  /** GetObject; undefined when a ranged read gets 416 (Range Not Satisfiable). */
  async #getObject(
    key: string,
    k: string,
    range: string | undefined,
  ): Promise<GetObjectCommandOutput | undefined> {
    try {
      return await this.#s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: k, Range: range }),
      )
    } catch (e) {
      const unsatisfiable = httpStatus(e) === 416 || errorName(e) === 'InvalidRange'
      if (range !== undefined && unsatisfiable) return undefined
      throw this.#error(e, 'get', key)
    }
  }

  async #call<T>(op: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (e) {
      throw this.#error(e, op, key)
    }
  }

  /** Validates `key` and returns its S3 key. */
  #key(key: string): string {
    this.#usable()
    checkObjectKey(key)
    checkS3Key(key)
    const full = this.root + key
    if (Buffer.byteLength(full) > MAX_KEY_BYTES) {
      throw new DbError(
        'ParameterInvalid',
        `object key ${key} is longer than S3's ${MAX_KEY_BYTES} bytes with the prefix`,
      )
    }
    return full
  }

  #usable(): void {
    if (this.#closed) throw new DbError('ServiceInternal', 'object store is closed')
  }

  #error(e: unknown, op: string, key: string): DbError {
    if (isDbError(e)) return e
    const what = `object store ${op} ${key} (s3://${this.bucket}/${this.root})`
    const name = errorName(e)
    const status = httpStatus(e)
    if (name === 'NoSuchKey') return notFound(key)
    if (name === 'NoSuchBucket') {
      return new DbError('ServiceInternal', `${what}: bucket does not exist`, { cause: e })
    }
    if (status === 403 || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch') {
      return new DbError('ServiceInternal', `${what}: access denied (${name})`, { cause: e })
    }
    if (name === 'EntityTooLarge') return new DbError('ParameterTooLarge', what, { cause: e })
    if (name === 'KeyTooLongError') {
      return new DbError('ParameterInvalid', `${what}: key too long`, { cause: e })
    }
    const detail = e instanceof Error ? e.message : String(e)
    const http = status === undefined ? '' : ` (HTTP ${status})`
    return new DbError('IoFailed', `${what}: ${name ?? 'error'}${http}: ${detail}`, { cause: e })
  }
}

/**
 * Reads the options out of `s3://<bucket>[/<prefix>][?<parameters>]`, parameters `endpoint`,
 * `region`, `accessKey` + `secretKey`, `sessionToken`, `pathStyle` and `createBucket` (true|false).
 * The prefix is percent-decoded; a trailing '/' is ignored. Like any URL, '.' and '..' segments
 * are resolved ('s3://b/x/../y' is prefix 'y').
 * @throws DbError('ParameterInvalid') for anything else: another scheme, a port, user info,
 *   a bad bucket name or prefix, an unknown parameter, only one of accessKey/secretKey.
 */
export function parseS3Url(input: string | URL): Omit<S3ObjectStoreOptions, 'log'> {
  let url: URL
  try {
    url = typeof input === 'string' ? new URL(input) : input
  } catch {
    // Not echoed: an unparsable string may still hold a secret key.
    throw bad(undefined, 'the URL does not parse (expected s3://bucket[/prefix][?...])')
  }
  const shown = redact(url)
  if (url.protocol !== 's3:') throw bad(shown, 'scheme must be s3:')
  if (url.username !== '' || url.password !== '') {
    throw bad(shown, 'put credentials in ?accessKey=&secretKey=')
  }
  if (url.port !== '') throw bad(shown, 'the host part is the bucket; put the server in ?endpoint=')
  if (url.hash !== '') throw bad(shown, 'unexpected #fragment')
  checkBucket(url.hostname, shown)
  let prefix: string
  try {
    prefix = decodeURIComponent(url.pathname).replace(/^\//, '').replace(/\/+$/, '')
  } catch {
    throw bad(shown, 'malformed percent-encoding in the prefix')
  }
  if (prefix !== '') checkPrefixOption(prefix, shown)
  const q = url.searchParams
  for (const name of q.keys()) {
    if (!URL_PARAMS.has(name)) {
      throw bad(shown, `unknown parameter ${name} (known: ${[...URL_PARAMS].join(', ')})`)
    }
  }
  const get = (name: string): string | undefined => q.get(name) ?? undefined
  const accessKeyId = get('accessKey')
  const secretAccessKey = get('secretKey')
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw bad(shown, 'accessKey and secretKey go together')
  }
  const endpoint = get('endpoint')
  if (endpoint !== undefined) checkEndpoint(endpoint, shown)
  const region = get('region')
  if (region !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(region)) {
    throw bad(shown, `bad region ${region}`)
  }
  const flag = (name: string): boolean | undefined => {
    const v = get(name)
    if (v === undefined) return undefined
    if (v === 'true' || v === 'false') return v === 'true'
    throw bad(shown, `${name} must be true or false`)
  }
  const forcePathStyle = flag('pathStyle')
  const createBucket = flag('createBucket')
  const sessionToken = get('sessionToken')
  return {
    bucket: url.hostname,
    prefix,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(accessKeyId === undefined ? {} : { accessKeyId, secretAccessKey }),
    ...(sessionToken === undefined ? {} : { sessionToken }),
    ...(forcePathStyle === undefined ? {} : { forcePathStyle }),
    ...(createBucket === undefined ? {} : { createBucket }),
  }
}

function resolveCredentials(opts: S3ObjectStoreOptions): {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
} {
  if ((opts.accessKeyId === undefined) !== (opts.secretAccessKey === undefined)) {
    throw bad(undefined, 'accessKeyId and secretAccessKey go together')
  }
  const token = opts.sessionToken === undefined ? {} : { sessionToken: opts.sessionToken }
  if (opts.accessKeyId !== undefined && opts.secretAccessKey !== undefined) {
    return { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey, ...token }
  }
  const envKey = process.env.AWS_ACCESS_KEY_ID
  const envSecret = process.env.AWS_SECRET_ACCESS_KEY
  if (envKey && envSecret) {
    const envToken = opts.sessionToken ?? process.env.AWS_SESSION_TOKEN
    return {
      accessKeyId: envKey,
      secretAccessKey: envSecret,
      ...(envToken ? { sessionToken: envToken } : {}),
    }
  }
  return { ...DEFAULT_CREDENTIALS, ...token }
}

/** S3's bucket naming rules (3-63 of a-z 0-9 . -, letter or digit at both ends, not an IP). */
function checkBucket(bucket: string, shown?: string): void {
  if (
    typeof bucket !== 'string' ||
    !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) ||
    bucket.includes('..') ||
    /^\d+\.\d+\.\d+\.\d+$/.test(bucket)
  ) {
    const why = `bad bucket name ${JSON.stringify(bucket)} (3-63 characters of a-z 0-9 . -)`
    throw bad(shown, why)
  }
}

function checkPrefixOption(prefix: string, shown?: string): void {
  try {
    checkObjectKey(prefix)
    checkS3Key(prefix)
  } catch (e) {
    const why = `bad prefix ${JSON.stringify(prefix)}: ${e instanceof Error ? e.message : String(e)}`
    throw bad(shown, why)
  }
}

function checkEndpoint(endpoint: string, shown?: string): void {
  let u: URL | undefined
  try {
    u = new URL(endpoint)
  } catch {
    u = undefined
  }
  if (
    u === undefined ||
    (u.protocol !== 'http:' && u.protocol !== 'https:') ||
    (u.pathname !== '/' && u.pathname !== '') ||
    u.search !== '' ||
    u.username !== ''
  ) {
    const why = `bad endpoint ${JSON.stringify(endpoint)} (expected http(s)://host[:port])`
    throw bad(shown, why)
  }
}

/** Beyond the port's rules: an S3 key must be valid Unicode, as it travels as UTF-8. */
function checkS3Key(key: string): void {
  if (/\p{Surrogate}/u.test(key)) {
    throw new DbError('ParameterInvalid', `object key ${JSON.stringify(key)} has an unpaired surrogate`)
  }
}

function isValidKey(key: string): boolean {
  try {
    checkObjectKey(key)
    return true
  } catch {
    return false
  }
}

async function readBody(key: string, res: GetObjectCommandOutput): Promise<Uint8Array> {
  let body: Uint8Array
  try {
    body = res.Body === undefined ? new Uint8Array(0) : await res.Body.transformToByteArray()
  } catch (e) {
    throw new DbError('IoFailed', `object store get ${key}: reading the body`, { cause: e })
  }
  if (res.ContentLength !== undefined && body.length !== res.ContentLength) {
    const got = `got ${body.length} of ${res.ContentLength} bytes`
    throw new DbError('IoUnexpectedEof', `object ${key}: ${got}`)
  }
  return body
}

/** ListObjectsV2 with EncodingType=url encodes keys like a form: '+' is a space. */
function decodeListedKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '))
  } catch (e) {
    throw new DbError('IoFailed', `object store list: undecodable key ${encoded}`, { cause: e })
  }
}

function wholeSeconds(d: Date | undefined): number {
  return d === undefined ? 0 : Math.floor(d.getTime() / 1000) * 1000
}

function isMissingKey(e: unknown): boolean {
  const name = errorName(e)
  if (name === 'NoSuchKey' || name === 'NotFound') return true
  return httpStatus(e) === 404 && name !== 'NoSuchBucket'
}

function errorName(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined
  const o = e as { name?: unknown; Code?: unknown; code?: unknown }
  if (typeof o.Code === 'string') return o.Code
  if (typeof o.name === 'string' && o.name !== 'Error') return o.name
  return typeof o.code === 'string' ? o.code : undefined
}

function httpStatus(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined
  const meta = (e as { $metadata?: { httpStatusCode?: unknown } }).$metadata
  return typeof meta?.httpStatusCode === 'number' ? meta.httpStatusCode : undefined
}

/** The SDK's logger shape over ours: debug and info are chatty, warnings are worth keeping. */
function sdkLogger(log: Logger): {
  debug(...c: unknown[]): void
  info(...c: unknown[]): void
  warn(...c: unknown[]): void
  error(...c: unknown[]): void
} {
  const text = (c: unknown[]): string => c.map(String).join(' ')
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (...c) => log.warn({ sdk: 'aws-s3' }, text(c)),
    error: (...c) => log.error({ sdk: 'aws-s3' }, text(c)),
  }
}

function redact(url: URL): string {
  const copy = new URL(url.href)
  for (const secret of ['secretKey', 'sessionToken']) {
    if (copy.searchParams.has(secret)) copy.searchParams.set(secret, '***')
  }
  if (copy.password !== '') copy.password = '***'
  return copy.href
}

/** `url` is the (redacted) URL the options came from, if any. */
function bad(url: string | undefined, why: string): DbError {
  return new DbError(
    'ParameterInvalid',
    url === undefined ? `object store: ${why}` : `object store url ${url}: ${why}`,
  )
}
