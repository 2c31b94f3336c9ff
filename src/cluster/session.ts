/**
 * Cluster membership on the MetaStore (etcd): sessions under leases, elections, and claims.
 *
 *   harrier/session/{role}/{nodeId}   SessionInfo, attached to the node's lease
 *   harrier/election/{name}           SessionInfo of the holder, attached to the holder's lease
 *   harrier/claim/{name}              nodeId of the holder (index builds), attached to its lease
 *
 * One lease per process: when the process dies (kill -9) the lease lapses after `ttlMs` and every
 * key it held goes at once, which is how peers notice. A process that loses its own lease while
 * alive (long pause, partition) can no longer prove what it holds, so it reports `onLost` and the
 * role exits: a restarted process rejoins cleanly, and fencing terms protect against its past.
 */
import { DbError, isDbError } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import type { Compare, Lease, MetaStore, Watcher } from '../infra/index.js'

export const SESSION_PREFIX = 'harrier/session/'
export const ELECTION_PREFIX = 'harrier/election/'
const CLAIM_PREFIX = 'harrier/claim/'

export type RoleName = 'proxy' | 'mixcoord' | 'datanode' | 'querynode' | 'indexnode'

export interface SessionInfo {
  readonly nodeId: string
  readonly role: RoleName
  /** host:port of the role's gRPC endpoint (internal for workers, MilvusService for proxies). */
  readonly address: string
  /** host:port of /healthz and /metrics. */
  readonly metricsAddress: string
  readonly pid: number
  readonly startedAt: string
  /** Numeric id (Milvus's node ID, int64): the session's lease id, unique in the cluster. */
  readonly serverId?: string
  /**
   * Role-specific serving state. Query nodes: the collections they serve, and per collection id
   * the flushed segments they hold (delegators route share reads by it). Data nodes: readiness.
   */
  readonly serving?: {
    readonly collections?: readonly string[]
    readonly segments?: Readonly<Record<string, readonly string[]>>
    /** Data nodes: ready to take WAL channels (counted for balance). */
    readonly ready?: boolean
  }
}

export class Session {
  readonly info: SessionInfo
  private readonly store: MetaStore
  private readonly lease: Lease
  private readonly log: Logger
  private timer: NodeJS.Timeout | undefined
  private current: SessionInfo
  private closed = false

  private constructor(store: MetaStore, lease: Lease, info: SessionInfo, log: Logger) {
    this.store = store
    this.lease = lease
    this.info = info
    this.current = info
    this.log = log
  }

  /** Registers under a fresh lease and keeps it alive; `onLost` fires once if the lease is lost. */
  static async register(store: MetaStore, info: SessionInfo, opts: { ttlMs: number; log: Logger; onLost: (why: string) => void }): Promise<Session> {
    const lease = await store.grantLease(opts.ttlMs)
    // Lease ids are hex (as etcdctl prints them); Milvus node IDs are decimal int64.
    const serverId = /^[0-9a-f]{1,16}$/i.test(lease.id) ? BigInt.asUintN(63, BigInt(`0x${lease.id}`)).toString() : String(Date.now())
    const s = new Session(store, lease, { ...info, serverId }, opts.log)
    await store.put(s.key(), JSON.stringify(s.info), { lease: lease.id })
    const every = Math.max(200, Math.floor(opts.ttlMs / 3))
    let failures = 0
    s.timer = setInterval(() => {
      lease.keepAlive().then(
        () => {
          failures = 0
        },
        (e: unknown) => {
          if (s.closed) return
          // Expired for good: everything this process held is gone.
          if (isDbError(e) && e.kind === 'IoKeyNotFound') {
            s.stopTimer()
            opts.onLost(`session lease expired: ${e.message}`)
            return
          }
          if (++failures * every >= opts.ttlMs) {
            s.stopTimer()
            opts.onLost(`session lease could not be renewed for ${failures * every} ms`)
          }
        },
      )
    }, every)
    s.timer.unref()
    return s
  }

  get leaseId(): string {
    return this.lease.id
  }

  private key(): string {
    return `${SESSION_PREFIX}${this.info.role}/${this.info.nodeId}`
  }

  /** Publishes a new serving state (query nodes: after loading or releasing a collection). */
  async update(serving: SessionInfo['serving']): Promise<void> {
    this.current = { ...this.current, serving }
    await this.store.put(this.key(), JSON.stringify(this.current), { lease: this.lease.id })
  }

  /**
   * Campaigns for `name` until elected (or `signal` aborts). Returns the fencing guard that holds
   * exactly while this process is the holder: catalog commits made under it fail once the
   * holder's key is gone or replaced.
   */
  async campaign(name: string, signal: AbortSignal, onWaiting?: (holder: SessionInfo | undefined) => void): Promise<Compare[]> {
    const key = ELECTION_PREFIX + name
    for (;;) {
      if (signal.aborted) throw new DbError('ServiceUnavailable', 'stopped while campaigning')
      const res = await this.store.txn({
        compare: [{ key, target: 'createRevision', op: '=', value: 0 }],
        success: [{ type: 'put', key, value: JSON.stringify(this.current), lease: this.lease.id }],
      })
      if (res.succeeded) {
        const kv = await this.store.get(key)
        if (!kv) continue
        this.log.info({ election: name }, 'elected')
        return [{ key, target: 'createRevision', op: '=', value: kv.createRevision }]
      }
      const holder = await this.store.get(key)
      if (holder?.lease === this.lease.id) {
        return [{ key, target: 'createRevision', op: '=', value: holder.createRevision }]
      }
      onWaiting?.(holder ? (JSON.parse(holder.value) as SessionInfo) : undefined)
      // Wait for the holder's key to go (its lease lapsed or it resigned), then try again.
      await new Promise<void>((resolve) => {
        let w: Watcher | undefined
        const done = () => {
          w?.cancel()
          clearTimeout(t)
          resolve()
        }
        // The re-check also covers a delete that happened between our get and the watch start.
        const t = setTimeout(done, 2000)
        w = this.store.watch(key, {}, (events) => {
          if (events.some((e) => e.type === 'delete')) done()
        })
        signal.addEventListener('abort', done, { once: true })
      })
    }
  }

  /**
   * One attempt at `name`: its fencing guard when this process holds it now (newly or already),
   * undefined when another process does.
   */
  async tryCampaign(name: string): Promise<Compare[] | undefined> {
    const key = ELECTION_PREFIX + name
    await this.store.txn({
      compare: [{ key, target: 'createRevision', op: '=', value: 0 }],
      success: [{ type: 'put', key, value: JSON.stringify(this.current), lease: this.lease.id }],
    })
    const kv = await this.store.get(key)
    if (!kv || kv.lease !== this.lease.id) return undefined
    return [{ key, target: 'createRevision', op: '=', value: kv.createRevision }]
  }

  /** Gives up an election held under `guard` (a data node handing a channel to another). */
  async resign(guard: readonly Compare[]): Promise<void> {
    const key = guard[0]?.key
    if (!key) return
    await this.store.txn({ compare: [...guard], success: [{ type: 'delete', key }] })
  }

  /** Takes `name` if free (index build tasks); the returned function gives it back. */
  async claim(name: string): Promise<(() => Promise<void>) | undefined> {
    const key = CLAIM_PREFIX + name
    const res = await this.store.txn({
      compare: [{ key, target: 'createRevision', op: '=', value: 0 }],
      success: [{ type: 'put', key, value: this.info.nodeId, lease: this.lease.id }],
    })
    if (!res.succeeded) return undefined
    return async () => {
      await this.store.txn({ compare: [{ key, target: 'value', op: '=', value: this.info.nodeId }], success: [{ type: 'delete', key }] })
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Resigns everything at once (the lease's keys go in one revision). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.stopTimer()
    await this.lease.revoke().catch((e: unknown) => this.log.warn({ err: e }, 'revoking the session lease failed'))
  }
}

/**
 * The live view of the cluster every process keeps: sessions by role and election holders,
 * from one scan plus a watch. Proxies route with it; coordinators count query nodes with it.
 */
export class ClusterView {
  private readonly sessions = new Map<string, SessionInfo>()
  private readonly leaders = new Map<string, SessionInfo>()
  private watchers: Watcher[] = []
  private readonly listeners: (() => void)[] = []

  static async open(store: MetaStore): Promise<ClusterView> {
    const v = new ClusterView()
    const rev = await store.currentRevision()
    for (const kv of await store.scan(SESSION_PREFIX)) v.sessions.set(kv.key, JSON.parse(kv.value) as SessionInfo)
    for (const kv of await store.scan(ELECTION_PREFIX)) v.leaders.set(kv.key.slice(ELECTION_PREFIX.length), JSON.parse(kv.value) as SessionInfo)
    v.watchers.push(
      store.watch(SESSION_PREFIX, { fromRevision: rev }, (events) => {
        for (const e of events) {
          if (e.type === 'put') v.sessions.set(e.kv.key, JSON.parse(e.kv.value) as SessionInfo)
          else v.sessions.delete(e.kv.key)
        }
        v.changed()
      }),
      store.watch(ELECTION_PREFIX, { fromRevision: rev }, (events) => {
        for (const e of events) {
          const name = e.kv.key.slice(ELECTION_PREFIX.length)
          if (e.type === 'put') v.leaders.set(name, JSON.parse(e.kv.value) as SessionInfo)
          else v.leaders.delete(name)
        }
        v.changed()
      }),
    )
    return v
  }

  private changed(): void {
    for (const fn of this.listeners) fn()
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn)
  }

  nodes(role: RoleName): SessionInfo[] {
    return [...this.sessions.values()].filter((s) => s.role === role).sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1))
  }

  all(): SessionInfo[] {
    return [...this.sessions.values()]
  }

  leader(name: string): SessionInfo | undefined {
    return this.leaders.get(name)
  }

  /** Every held election whose name starts with `prefix`, with its holder. */
  leadersWith(prefix: string): [string, SessionInfo][] {
    return [...this.leaders].filter(([n]) => n.startsWith(prefix)).sort((a, b) => (a[0] < b[0] ? -1 : 1))
  }

  close(): void {
    for (const w of this.watchers) w.cancel()
    this.watchers = []
  }
}

/**
 * Retries `fn` with capped exponential backoff until it succeeds, reporting each wait (the
 * "waiting for etcd at ..." line and /healthz state). Non-retriable configuration errors end it.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T>, opts: { log: Logger; onWait: (state: string) => void; signal?: AbortSignal }): Promise<T> {
  let delay = 200
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (e) {
      if (isDbError(e) && (e.kind === 'ParameterInvalid' || e.kind === 'ParameterMissing')) throw e
      if (opts.signal?.aborted) throw e
      const reason = e instanceof Error ? e.message : String(e)
      opts.onWait(`waiting for ${what}`)
      if (attempt === 1 || attempt % 10 === 0) opts.log.warn({ attempt, reason }, `waiting for ${what}`)
      await new Promise((r) => setTimeout(r, delay))
      delay = Math.min(delay * 2, 3000)
    }
  }
}
