/**
 * The cluster MetaStore: etcd v3 through the `etcd3` client. The port was written after etcd, so
 * most calls map one to one: revisions are etcd's own (one counter for the whole etcd cluster),
 * compares and txns are etcd txns, watches are etcd watches, leases are etcd leases.
 *
 * Keys live under a root prefix (the URL path: `etcd://h1:2379,h2:2379/harrier` → `harrier/`), so
 * several deployments or test runs share one etcd. The revision counter is still cluster-wide:
 * writes under other roots bump it too, so callers may see gaps, never reuse or reordering.
 *
 * Where etcd and the port differ, this adapter follows the port:
 * - Leases: `keepAlive()` is an explicit, single etcd LeaseKeepAlive (no background keep-alive
 *   loop), so a lease ends when its owner stops calling it, as the port says. etcd TTLs are whole
 *   seconds with a server-side minimum (ceil(1.5 × election timeout): 2 s with default flags), so
 *   `ttlMs` is rounded up to that. `close()` revokes the leases this instance granted: a process
 *   that shuts down drops its sessions at once, as the embedded store does.
 * - Writes are never retried by the client: a put or txn that timed out may or may not have been
 *   applied, and retrying a txn could report `succeeded: false` for a write that won. They fail
 *   with DbError('ServiceUnavailable') (retriable) and the caller decides.
 * - `watch()` without `fromRevision` needs etcd's current revision, which is not known
 *   synchronously: it reads it, and this instance's calls made meanwhile wait for that read (one
 *   round trip), so they are delivered and nothing written before the call is.
 * - A watch whose `fromRevision` has been compacted cannot throw from `watch()` (etcd answers
 *   later): it is logged at error level and delivers nothing. etcd never compacts unless told to
 *   (`--auto-compaction-*`); compaction must keep more history than the longest watch catch-up.
 *
 * etcd limits: 128 ops per txn (`--max-txn-ops`) and 1.5 MiB per request (`--max-request-bytes`).
 */
import {
  Etcd3,
  EtcdLeaseInvalidError,
  GRPCDeadlineExceededError,
  GRPCInvalidArgumentError,
  GRPCUnavailableError,
  type ICompare,
  type IKeyValue,
  type IOptions,
  type IRequestOp,
  type IResponseHeader,
  type IWatchResponse,
  type Watcher as EtcdWatcher,
} from 'etcd3'
import { DbError, assertNever, isDbError } from '../../common/errors.js'
import { silentLogger, type Logger } from '../../common/log.js'
import type {
  Compare,
  KeyValue,
  Lease,
  MetaStore,
  TxnOp,
  TxnRequest,
  TxnResult,
  WatchEvent,
  Watcher,
} from './meta-store.js'

export interface EtcdMetaStoreOptions {
  /** `host:port` of each etcd member (plain HTTP/2, no TLS yet). */
  readonly endpoints: readonly string[]
  /** Prepended to every key; '' for none. Normally ends with '/'. */
  readonly root?: string
  readonly log?: Logger
  /** Deadline of each unary call. Default 10 s. */
  readonly requestTimeoutMs?: number
}

/**
 * Parses `etcd://host:port[,host:port...][/root/path]`. Not a WHATWG URL when it lists several
 * hosts, so it is parsed by hand. The path, without its leading '/', plus a trailing '/', is the
 * key root (`/harrier` → `harrier/`; none → keys unprefixed).
 * @throws DbError('ParameterInvalid')
 */
export function parseEtcdUrl(url: string): { endpoints: string[]; root: string } {
  const m = /^etcd:\/\/([^/?#]+)(\/[^?#]*)?$/.exec(url)
  if (!m) {
    throw new DbError(
      'ParameterInvalid',
      `meta store url ${JSON.stringify(url)}: expected etcd://host:port[,host:port...][/root]`,
    )
  }
  const endpoints = m[1]!.split(',').map((h) => h.trim())
  for (const h of endpoints) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/.test(h)) {
      throw new DbError(
        'ParameterInvalid',
        `meta store url ${url}: bad etcd endpoint ${JSON.stringify(h)}`,
      )
    }
  }
  let path: string
  try {
    path = decodeURIComponent(m[2] ?? '')
  } catch (e) {
    throw new DbError('ParameterInvalid', `meta store url ${url}: bad path`, { cause: e })
  }
  const trimmed = path.replace(/^\/+|\/+$/g, '')
  return { endpoints, root: trimmed === '' ? '' : `${trimmed}/` }
}

interface WatchState {
  /** Last revision delivered (or skipped); replays after a reconnect are dropped below it. */
  after: number
  cancelled: boolean
  readonly stop: () => void
}

const DEFAULT_TIMEOUT_MS = 10_000
const INT64_MAX = (1n << 63n) - 1n

/** Names of etcd3/cockatiel errors that mean "etcd is not reachable right now". */
const UNAVAILABLE_NAMES = new Set(['BrokenCircuitError', 'TaskCancelledError', 'ClientClosedError'])
const UNAVAILABLE_MESSAGES =
  /no leader|leader changed|request timed out|timed out|too many requests|not capable|UNAVAILABLE/i

export class EtcdMetaStore implements MetaStore {
  readonly root: string
  readonly #client: Etcd3
  readonly #log: Logger
  readonly #timeoutMs: number
  readonly #where: string
  /** Highest revision seen in any response; "now" for `watch()` if reading the revision fails. */
  #lastRev = 0
  /** Decimal etcd ids of the leases granted here and not known to be gone; revoked on close. */
  readonly #leases = new Set<string>()
  readonly #watchers = new Set<WatchState>()
  readonly #pending = new Set<Promise<unknown>>()
  /** Settles when the latest write called so far has completed (see #call). */
  #lastWrite: Promise<unknown> = Promise.resolve()
  /** Reads called since that write and still running; the next write waits for them too. */
  #readsSinceWrite = new Set<Promise<unknown>>()
  #closing: Promise<void> | undefined

  private constructor(client: Etcd3, opts: EtcdMetaStoreOptions) {
    this.#client = client
    this.root = opts.root ?? ''
    this.#log = opts.log ?? silentLogger()
    this.#timeoutMs = opts.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#where = opts.endpoints.join(',')
  }

  /**
   * Connects and reads the current revision once, so an unreachable etcd fails here.
   * @throws DbError('ServiceUnavailable') if etcd cannot be reached.
   */
  static async open(opts: EtcdMetaStoreOptions): Promise<EtcdMetaStore> {
    if (opts.endpoints.length === 0)
      throw new DbError('ParameterInvalid', 'etcd meta store needs at least one endpoint')
    const timeoutMs = opts.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new DbError(
        'ParameterInvalid',
        `etcd requestTimeoutMs must be positive, got ${timeoutMs}`,
      )
    const options: IOptions = {
      hosts: opts.endpoints.map((h) => `http://${h}`),
      dialTimeout: timeoutMs,
      // Unary calls get a deadline (a partitioned member would otherwise hang them); streams
      // (watch, keep-alive) live as long as they are used.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
      faultHandling: {
        // No client-side retries: they would re-apply a put or txn whose first attempt timed out
        // after etcd applied it. etcd3 only ever calls `execute` on this policy.
        global: NO_RETRY as unknown as NonNullable<IOptions['faultHandling']>['global'],
      },
    }
    const client = new Etcd3(options)
    const store = new EtcdMetaStore(client, opts)
    try {
      await store.currentRevision()
    } catch (e) {
      client.close()
      throw new DbError('ServiceUnavailable', `cannot reach etcd at ${store.#where}`, { cause: e })
    }
    store.#log.debug({ endpoints: opts.endpoints, root: store.root }, 'etcd meta store open')
    return store
  }

  // ---- reads -------------------------------------------------------------------------------

  async get(key: string): Promise<KeyValue | undefined> {
    checkKey(key)
    const res = await this.#call('get', 'read', () =>
      this.#client.kv.range({ key: this.#key(key) }),
    )
    const kv = res.kvs[0]
    return kv ? this.#toKv(kv) : undefined
  }

  async scan(prefix: string, opts?: { readonly limit?: number }): Promise<KeyValue[]> {
    const limit = opts?.limit
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit <= 0)) {
      throw new DbError('ParameterInvalid', `scan limit must be a positive integer, got ${limit}`)
    }
    // etcd sorts a range by key (bytes) unless told otherwise; limit 0 means no limit.
    const res = await this.#call('scan', 'read', () =>
      this.#client.kv.range({ ...this.#prefixRange(prefix), limit: limit ?? 0 }),
    )
    return res.kvs.map((kv) => this.#toKv(kv))
  }

  async currentRevision(): Promise<number> {
    // Any linearizable read returns the store revision in its header; counting one key is cheapest.
    const res = await this.#call('current revision', 'read', () =>
      this.#client.kv.range({ key: Buffer.from([0]), count_only: true }),
    )
    return Number(res.header.revision)
  }

  // ---- writes ------------------------------------------------------------------------------

  async put(key: string, value: string, opts?: { readonly lease?: string }): Promise<number> {
    const op = this.#requestOp(
      opts?.lease === undefined
        ? { type: 'put', key, value }
        : { type: 'put', key, value, lease: opts.lease },
    )
    const res = await this.#call('put', 'write', () => this.#client.kv.put(op.request_put!))
    return Number(res.header.revision)
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key)
    const res = await this.#call('delete', 'write', () =>
      this.#client.kv.deleteRange({ key: this.#key(key) }),
    )
    return Number(res.deleted) > 0
  }

  async deletePrefix(prefix: string): Promise<number> {
    if (typeof prefix !== 'string')
      throw new DbError('ParameterInvalid', 'deletePrefix prefix must be a string')
    const res = await this.#call('deletePrefix', 'write', () =>
      this.#client.kv.deleteRange(this.#prefixRange(prefix)),
    )
    return Number(res.deleted)
  }

  async txn(req: TxnRequest): Promise<TxnResult> {
    const compare = req.compare.map((c) => this.#compare(c))
    const success = req.success.map((op) => this.#requestOp(op))
    const failure = (req.failure ?? []).map((op) => this.#requestOp(op))
    // etcd itself rejects a put overlapping another write of its branch ("duplicate key given in
    // txn request"), which is the port's rule, and applies nothing.
    const res = await this.#call('txn', 'write', () =>
      this.#client.kv.txn({ compare, success, failure }),
    )
    return { succeeded: res.succeeded, revision: Number(res.header.revision) }
  }

  // ---- watch -------------------------------------------------------------------------------

  watch(
    prefix: string,
    opts: { readonly fromRevision?: number },
    onEvents: (events: WatchEvent[]) => void,
  ): Watcher {
    this.#usable()
    const from = opts.fromRevision ?? this.#lastRev
    if (!Number.isSafeInteger(from) || from < 0) {
      throw new DbError(
        'ParameterInvalid',
        `watch fromRevision must be a non-negative integer, got ${from}`,
      )
    }
    const range = this.#prefixRange(prefix)
    let etcdWatcher: EtcdWatcher | undefined
    const state: WatchState = {
      after: from,
      cancelled: false,
      stop: () => {
        if (state.cancelled) return
        state.cancelled = true
        this.#watchers.delete(state)
        etcdWatcher
          ?.cancel()
          .catch((e: unknown) => this.#log.debug({ err: e, prefix }, 'etcd watch cancel failed'))
      },
    }
    this.#watchers.add(state)
    const start = (after: number): void => {
      if (state.cancelled || this.#closing) return
      state.after = after
      // `watcher()` attaches at once (create() would hand the watcher over only once etcd
      // confirmed it, leaving no way to cancel before that). etcd3 re-creates the watch after a
      // disconnect from the revision after its last response, so nothing is lost; repeats are
      // dropped by `after`.
      const w = this.#client
        .watch()
        .inRange({ start: range.key, end: range.range_end })
        .startRevision(String(after + 1))
        .watcher()
      etcdWatcher = w
      w.on('data', (res: IWatchResponse) => {
        if (!state.cancelled) this.#deliver(state, prefix, res, onEvents)
      })
      // An 'error' event without a listener would crash the process. etcd3 emits it when etcd
      // cancels the watch, which for us means the history was compacted.
      w.on('error', (err: unknown) => {
        this.#log.error(
          { err, prefix, fromRevision: after },
          'etcd watch cancelled (history compacted?): re-scan and watch again from now',
        )
        state.stop()
      })
      w.on('disconnected', (err: unknown) => {
        if (!state.cancelled && !this.#closing)
          this.#log.warn({ err, prefix }, 'etcd watch disconnected; resuming when etcd is back')
      })
    }
    if (opts.fromRevision !== undefined) {
      start(from)
    } else {
      // "From now": the revision is not known synchronously, so read it, ordered like any call
      // (see #call): writes called before watch() are at or below it and not delivered, writes
      // called after it are above it and delivered.
      this.#call('current revision', 'read', () =>
        this.#client.kv.range({ key: Buffer.from([0]), count_only: true }),
      ).then(
        (res) => start(Number(res.header.revision)),
        (e: unknown) => {
          this.#log.warn(
            { err: e, prefix },
            'etcd revision read failed; watching from the last one seen',
          )
          start(from)
        },
      )
    }
    return { cancel: state.stop }
  }

  /** Hands over one response's events, one call per revision, skipping revisions already seen. */
  #deliver(
    state: WatchState,
    prefix: string,
    res: IWatchResponse,
    onEvents: (events: WatchEvent[]) => void,
  ): void {
    this.#seen(res.header)
    let batch: WatchEvent[] = []
    let batchRev = 0
    const flush = () => {
      if (batch.length === 0) return
      state.after = batchRev
      const events = batch
      batch = []
      try {
        onEvents(events)
      } catch (e) {
        this.#log.error({ err: e, prefix }, 'meta store watch callback threw')
      }
    }
    for (const ev of res.events) {
      const rev = Number(ev.kv.mod_revision)
      if (rev <= state.after) continue
      if (rev !== batchRev) {
        flush()
        if (state.cancelled) return
        batchRev = rev
      }
      const key = this.#unkey(ev.kv.key)
      batch.push(
        ev.type === 'Delete'
          ? {
              type: 'delete',
              kv: { key, value: '', createRevision: 0, modRevision: rev, version: 0 },
            }
          : { type: 'put', kv: this.#toKv(ev.kv) },
      )
    }
    flush()
  }

  // ---- leases ------------------------------------------------------------------------------

  async grantLease(ttlMs: number): Promise<Lease> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new DbError('ParameterInvalid', `lease ttlMs must be positive, got ${ttlMs}`)
    }
    const ttl = Math.max(1, Math.ceil(ttlMs / 1000))
    const res = await this.#call('grant lease', 'read', () =>
      this.#client.leaseClient.leaseGrant({ TTL: ttl }),
    )
    const dec = res.ID
    const id = BigInt(dec).toString(16)
    this.#leases.add(dec)
    return {
      id,
      keepAlive: () => this.#keepAlive(dec, id),
      revoke: () => this.#revoke(dec),
    }
  }

  /** One LeaseKeepAlive round trip on a short-lived stream. */
  async #keepAlive(dec: string, id: string): Promise<void> {
    const res = await this.#track(
      (async () => {
        this.#usable()
        const stream = await this.#client.leaseClient.leaseKeepAlive()
        // grpc-js may report the stream's end as an error after we are done with it.
        stream.on('error', () => undefined)
        try {
          return await new Promise<{ TTL: string }>((resolve, reject) => {
            const timer = setTimeout(
              () =>
                reject(new DbError('ServiceUnavailable', `etcd lease ${id} keepAlive timed out`)),
              this.#timeoutMs,
            )
            stream.on('data', (r) => {
              clearTimeout(timer)
              resolve(r)
            })
            stream.on('error', (e) => {
              clearTimeout(timer)
              reject(e)
            })
            stream.write({ ID: dec })
          })
        } finally {
          stream.end()
        }
      })(),
    ).catch((e: unknown) => {
      throw this.#wrap(e, `keepAlive of lease ${id}`)
    })
    // etcd answers a keep-alive of a lease it no longer has with TTL 0 rather than an error.
    if (res.TTL === '0') {
      this.#leases.delete(dec)
      throw new DbError('IoKeyNotFound', `lease ${id} has expired or was revoked`)
    }
  }

  async #revoke(dec: string): Promise<void> {
    try {
      await this.#call('revoke lease', 'write', () =>
        this.#client.leaseClient.leaseRevoke({ ID: dec }),
      )
    } catch (e) {
      // Revoking a lease that is already gone is a no-op (the port's revoke is idempotent).
      if (!(isDbError(e) && e.cause instanceof EtcdLeaseInvalidError)) throw e
    }
    this.#leases.delete(dec)
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const w of [...this.#watchers]) w.stop()
      await Promise.allSettled([...this.#pending])
      // Sessions of a process that shuts down end now rather than a TTL later.
      await Promise.allSettled(
        [...this.#leases].map((ID) =>
          this.#client.leaseClient.leaseRevoke({ ID }).catch((e: unknown) => {
            if (!(e instanceof EtcdLeaseInvalidError))
              this.#log.warn(
                { err: e, lease: BigInt(ID).toString(16) },
                'etcd lease revoke on close failed',
              )
          }),
        ),
      )
      this.#leases.clear()
      this.#client.close()
    })()
    return this.#closing
  }

  // ---- helpers -----------------------------------------------------------------------------

  #usable(): void {
    if (this.#closing) throw new DbError('ServiceInternal', 'meta store is closed')
  }

  /**
   * Runs one etcd call: closed check, ordering, pending tracking (close waits), revision tracking,
   * errors. The port promises linearizability in call order, and etcd gives no order between
   * concurrent requests, so a write starts once every earlier call has completed and a read once
   * every earlier write has; reads still overlap each other.
   */
  #call<T extends { readonly header: IResponseHeader }>(
    what: string,
    kind: 'read' | 'write',
    fn: () => Promise<T>,
  ): Promise<T> {
    try {
      this.#usable()
    } catch (e) {
      return Promise.reject(e)
    }
    const after =
      kind === 'write'
        ? Promise.allSettled([this.#lastWrite, ...this.#readsSinceWrite])
        : this.#lastWrite
    const run = this.#track(
      after.then(async () => {
        try {
          const res = await fn()
          this.#seen(res.header)
          return res
        } catch (e) {
          throw this.#wrap(e, what)
        }
      }),
    )
    const settled = run.then(
      () => undefined,
      () => undefined,
    )
    if (kind === 'write') {
      this.#lastWrite = settled
      this.#readsSinceWrite = new Set()
    } else {
      const reads = this.#readsSinceWrite
      reads.add(settled)
      void settled.then(() => reads.delete(settled))
    }
    return run
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p)
    const done = () => this.#pending.delete(p)
    p.then(done, done)
    return p
  }

  #seen(header: IResponseHeader | undefined): void {
    const rev = Number(header?.revision ?? 0)
    if (rev > this.#lastRev) this.#lastRev = rev
  }

  #wrap(e: unknown, what: string): DbError {
    if (isDbError(e)) return e
    const msg = e instanceof Error ? e.message : String(e)
    const name = e instanceof Error ? e.constructor.name : ''
    if (e instanceof EtcdLeaseInvalidError)
      return new DbError('ParameterInvalid', `${what}: lease not found (expired or revoked)`, {
        cause: e,
      })
    if (/duplicate key given in txn request/.test(msg))
      return new DbError('ParameterInvalid', `${what}: duplicate key given in txn request`, {
        cause: e,
      })
    if (/too many operations in txn request/.test(msg))
      return new DbError(
        'ParameterTooLarge',
        `${what}: too many operations in one txn (etcd --max-txn-ops)`,
        { cause: e },
      )
    if (/request is too large/.test(msg))
      return new DbError(
        'ParameterTooLarge',
        `${what}: request too large (etcd --max-request-bytes)`,
        { cause: e },
      )
    if (e instanceof GRPCInvalidArgumentError)
      return new DbError('ParameterInvalid', `${what}: ${msg}`, { cause: e })
    if (
      e instanceof GRPCUnavailableError ||
      e instanceof GRPCDeadlineExceededError ||
      UNAVAILABLE_NAMES.has(name) ||
      UNAVAILABLE_MESSAGES.test(msg)
    ) {
      return new DbError('ServiceUnavailable', `etcd ${what} at ${this.#where}: ${msg}`, {
        cause: e,
      })
    }
    return new DbError('IoFailed', `etcd ${what} at ${this.#where}: ${msg}`, { cause: e })
  }

  #key(key: string): Buffer {
    return Buffer.from(this.root + key, 'utf8')
  }

  #unkey(buf: Buffer): string {
    return buf.toString('utf8').slice(this.root.length)
  }

  /** The etcd [key, range_end) of every key starting with root + prefix. */
  #prefixRange(prefix: string): { key: Buffer; range_end: Buffer } {
    const start = this.#key(prefix)
    // An empty start with range_end "\0" is etcd's "every key".
    if (start.length === 0) return { key: Buffer.from([0]), range_end: Buffer.from([0]) }
    return { key: start, range_end: prefixEnd(start) }
  }

  #toKv(kv: IKeyValue): KeyValue {
    const out: KeyValue = {
      key: this.#unkey(kv.key),
      value: kv.value.toString('utf8'),
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
      version: Number(kv.version),
    }
    return kv.lease && kv.lease !== '0' ? { ...out, lease: BigInt(kv.lease).toString(16) } : out
  }

  #requestOp(op: TxnOp): IRequestOp {
    switch (op.type) {
      case 'put':
        checkKey(op.key)
        if (typeof op.value !== 'string')
          throw new DbError('ParameterInvalid', `value of ${op.key} must be a string`)
        return {
          request_put: {
            key: this.#key(op.key),
            value: Buffer.from(op.value, 'utf8'),
            lease: op.lease === undefined ? 0 : leaseToEtcd(op.lease),
          },
        }
      case 'delete':
        checkKey(op.key)
        return { request_delete_range: { key: this.#key(op.key) } }
      case 'deletePrefix':
        if (typeof op.prefix !== 'string')
          throw new DbError('ParameterInvalid', 'deletePrefix prefix must be a string')
        return { request_delete_range: this.#prefixRange(op.prefix) }
      default:
        return assertNever(op, 'txn op')
    }
  }

  /**
   * The port's compare as etcd's. etcd already reads a missing key's numbers as 0 and fails value
   * compares on it, as the port says.
   */
  #compare(c: Compare): ICompare {
    checkKey(c.key)
    const key = this.#key(c.key)
    if (c.target === 'value') {
      if (c.op !== '=' && c.op !== '!=')
        throw new DbError('ParameterInvalid', `compare op ${String(c.op)} on value`)
      if (typeof c.value !== 'string')
        throw new DbError('ParameterInvalid', `compare value for value of ${c.key}`)
      return {
        key,
        target: 'Value',
        result: c.op === '=' ? 'Equal' : 'NotEqual',
        value: Buffer.from(c.value, 'utf8'),
      }
    }
    const result = COMPARE_RESULTS[c.op]
    if (!result) throw new DbError('ParameterInvalid', `compare op ${String(c.op)} on ${c.target}`)
    if (!Number.isFinite(c.value))
      throw new DbError('ParameterInvalid', `compare value for ${c.target} of ${c.key}`)
    // etcd compares int64s; a fractional bound would be truncated, so round it the way that keeps
    // the comparison's meaning for integer-valued fields.
    const v = compareBound(c.op, c.value)
    switch (c.target) {
      case 'version':
        return { key, target: 'Version', result, version: v }
      case 'createRevision':
        return { key, target: 'Create', result, create_revision: v }
      case 'modRevision':
        return { key, target: 'Mod', result, mod_revision: v }
      default:
        throw new DbError('ParameterInvalid', `compare target ${String((c as Compare).target)}`)
    }
  }
}

const COMPARE_RESULTS: Readonly<Record<string, 'Equal' | 'NotEqual' | 'Less' | 'Greater'>> = {
  '=': 'Equal',
  '!=': 'NotEqual',
  '<': 'Less',
  '>': 'Greater',
}

/** The policy etcd3 runs every call through: once, as is. */
const NO_RETRY = {
  execute: <T>(fn: () => T | Promise<T>): Promise<T> => Promise.resolve().then(fn),
}

function compareBound(op: Compare['op'], value: number): string {
  if (Number.isInteger(value)) return String(value)
  // x < 2.5 ⇔ x < 3 and x > 2.5 ⇔ x > 2 for integers; = never holds and != always does.
  if (op === '<') return String(Math.ceil(value))
  if (op === '>') return String(Math.floor(value))
  return '-1'
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0)
    throw new DbError('ParameterInvalid', 'meta store key must be a non-empty string')
}

/** Port lease ids are etcd's int64 ids in hex (as etcdctl prints them). */
function leaseToEtcd(id: string): string {
  if (typeof id !== 'string' || !/^[0-9a-f]{1,16}$/.test(id))
    throw new DbError(
      'ParameterInvalid',
      `lease ${JSON.stringify(id)} not found (expired or revoked)`,
    )
  const n = BigInt(`0x${id}`)
  if (n === 0n || n > INT64_MAX)
    throw new DbError('ParameterInvalid', `lease ${id} not found (expired or revoked)`)
  return n.toString()
}

/** The smallest key greater than every key starting with `prefix` (etcd's prefix range_end). */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++
      return end.subarray(0, i + 1)
    }
  }
  // All 0xff: no key is greater, so the range runs to the end of the key space.
  return Buffer.from([0])
}
