/**
 * The key-value engine behind the memory and file adapters: sorted keys, revisions, txn and
 * compare semantics, watch history and leases. Subclasses decide durability through `persist`;
 * the engine guarantees that no result or watch event escapes before the state it reflects is
 * durable (see `#settled`).
 */
import { randomBytes } from 'node:crypto'
import { DbError, assertNever, isDbError } from '../../common/errors.js'
import type { Logger } from '../../common/log.js'
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

/** A committed mutation as the journal records it: the ops of the branch that ran, at `rev`. */
export interface Mutation {
  readonly rev: number
  readonly ops: readonly TxnOp[]
}

export interface KvMetaStoreOptions {
  readonly log: Logger
  /** Revisions kept for `watch({ fromRevision })`; older ones are compacted. Default 10,000. */
  readonly watchHistory?: number
}

interface LeaseState {
  readonly id: string
  readonly ttlMs: number
  readonly keys: Set<string>
  timer: NodeJS.Timeout
}

interface RevisionEvents {
  readonly rev: number
  readonly events: readonly WatchEvent[]
}

interface WatchState {
  readonly prefix: string
  readonly onEvents: (events: WatchEvent[]) => void
  /** Last revision already queued (or skipped) for this watcher. */
  after: number
  queue: WatchEvent[][]
  scheduled: boolean
  cancelled: boolean
}

export abstract class KvMetaStore implements MetaStore {
  protected readonly log: Logger
  readonly #historyLimit: number
  readonly #kvs = new Map<string, KeyValue>()
  /** Every key of #kvs, sorted: prefix scans are a binary search plus a walk. */
  #keys: string[] = []
  #rev = 0
  #durableRev = 0
  readonly #leases = new Map<string, LeaseState>()
  readonly #watchers = new Set<WatchState>()
  /** One entry per revision in (#historyFloor, #rev], contiguous. */
  #history: RevisionEvents[] = []
  #historyFloor = 0
  /** Settles once the latest persisted mutation is durable (never rejects: see #fail). */
  #tail: Promise<void> = Promise.resolve()
  #failed: DbError | undefined
  #closing: Promise<void> | undefined

  protected constructor(opts: KvMetaStoreOptions) {
    this.log = opts.log
    this.#historyLimit = opts.watchHistory ?? 10_000
  }

  /**
   * Makes a committed mutation durable. Called synchronously, in revision order, right after the
   * mutation is applied in memory; promises must settle in the same order. `undefined` means
   * durable already.
   */
  protected abstract persist(m: Mutation): Promise<void> | undefined

  /** Releases files and handles; called once by close() after pending writes settled. */
  protected abstract closeResources(): Promise<void>

  // ---- reads -------------------------------------------------------------------------------

  async get(key: string): Promise<KeyValue | undefined> {
    this.#usable()
    const kv = this.#kvs.get(key)
    await this.#settled()
    return kv
  }

  async scan(prefix: string, opts?: { readonly limit?: number }): Promise<KeyValue[]> {
    this.#usable()
    const limit = opts?.limit ?? Number.POSITIVE_INFINITY
    if (limit !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(limit) || limit <= 0)) {
      throw new DbError('ParameterInvalid', `scan limit must be a positive integer, got ${limit}`)
    }
    const out: KeyValue[] = []
    for (let i = lowerBound(this.#keys, prefix); i < this.#keys.length && out.length < limit; i++) {
      const key = this.#keys[i]!
      if (!key.startsWith(prefix)) break
      out.push(this.#kvs.get(key)!)
    }
    await this.#settled()
    return out
  }

  async currentRevision(): Promise<number> {
    this.#usable()
    const rev = this.#rev
    await this.#settled()
    return rev
  }

  // ---- writes ------------------------------------------------------------------------------

  async put(key: string, value: string, opts?: { readonly lease?: string }): Promise<number> {
    this.#usable()
    const op: TxnOp =
      opts?.lease === undefined
        ? { type: 'put', key, value }
        : { type: 'put', key, value, lease: opts.lease }
    this.#validate([op])
    this.#commit([op])
    const rev = this.#rev
    await this.#settled()
    return rev
  }

  async delete(key: string): Promise<boolean> {
    this.#usable()
    const op: TxnOp = { type: 'delete', key }
    this.#validate([op])
    const n = this.#commit([op])
    await this.#settled()
    return n > 0
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.#usable()
    const op: TxnOp = { type: 'deletePrefix', prefix }
    this.#validate([op])
    const n = this.#commit([op])
    await this.#settled()
    return n
  }

  async txn(req: TxnRequest): Promise<TxnResult> {
    this.#usable()
    for (const c of req.compare) validateCompare(c)
    this.#validate(req.success)
    this.#validate(req.failure ?? [])
    const succeeded = req.compare.every((c) => this.#holds(c))
    this.#commit(succeeded ? req.success : (req.failure ?? []))
    const revision = this.#rev
    await this.#settled()
    return { succeeded, revision }
  }

  // ---- watch -------------------------------------------------------------------------------

  watch(
    prefix: string,
    opts: { readonly fromRevision?: number },
    onEvents: (events: WatchEvent[]) => void,
  ): Watcher {
    this.#usable()
    const from = opts.fromRevision ?? this.#rev
    if (!Number.isSafeInteger(from) || from < 0) {
      throw new DbError(
        'ParameterInvalid',
        `watch fromRevision must be a non-negative integer, got ${from}`,
      )
    }
    if (from < this.#historyFloor) {
      throw new DbError(
        'ParameterInvalid',
        `watch from revision ${from}: required revision has been compacted (history starts after revision ${this.#historyFloor})`,
      )
    }
    const w: WatchState = {
      prefix,
      onEvents,
      after: from,
      queue: [],
      scheduled: false,
      cancelled: false,
    }
    // Catch up on durable history; revisions applied but not yet durable follow via #markDurable.
    for (let rev = from + 1; rev <= this.#durableRev; rev++) this.#enqueue(w, this.#historyAt(rev))
    w.after = Math.max(from, this.#durableRev)
    this.#watchers.add(w)
    return {
      cancel: () => {
        w.cancelled = true
        w.queue = []
        this.#watchers.delete(w)
      },
    }
  }

  // ---- leases ------------------------------------------------------------------------------

  async grantLease(ttlMs: number): Promise<Lease> {
    this.#usable()
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new DbError('ParameterInvalid', `lease ttlMs must be positive, got ${ttlMs}`)
    }
    const id = randomBytes(8).toString('hex')
    this.#leases.set(id, { id, ttlMs, keys: new Set(), timer: this.#leaseTimer(id, ttlMs) })
    return {
      id,
      keepAlive: async () => {
        this.#usable()
        const lease = this.#leases.get(id)
        if (!lease) throw new DbError('IoKeyNotFound', `lease ${id} has expired or was revoked`)
        clearTimeout(lease.timer)
        lease.timer = this.#leaseTimer(id, lease.ttlMs)
      },
      revoke: async () => {
        this.#usable()
        this.#endLease(id)
        await this.#settled()
      },
    }
  }

  #leaseTimer(id: string, ttlMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      if (!this.#closing && !this.#failed) this.#endLease(id)
    }, ttlMs)
    timer.unref()
    return timer
  }

  /** Forgets the lease and deletes its keys in one revision. */
  #endLease(id: string): void {
    const lease = this.#leases.get(id)
    if (!lease) return
    clearTimeout(lease.timer)
    this.#leases.delete(id)
    const keys = [...lease.keys].sort()
    if (keys.length > 0) this.#commit(keys.map((key) => ({ type: 'delete', key })))
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const lease of this.#leases.values()) clearTimeout(lease.timer)
      for (const w of this.#watchers) w.cancelled = true
      this.#watchers.clear()
      await this.#tail
      await this.closeResources()
    })()
    return this.#closing
  }

  // ---- for subclasses: recovery ------------------------------------------------------------

  /** Loads a snapshot into an empty store. Watch history starts after `revision`. */
  protected restore(revision: number, kvs: readonly KeyValue[]): void {
    for (const kv of kvs) this.#kvs.set(kv.key, Object.freeze({ ...kv }))
    this.#keys = [...this.#kvs.keys()].sort()
    this.#rev = this.#durableRev = this.#historyFloor = revision
  }

  /**
   * Re-applies a journaled mutation (already durable; leases are not checked).
   * @throws DbError('DataCorrupted') if it does not continue the revision sequence.
   */
  protected replay(m: Mutation): void {
    if (m.rev !== this.#rev + 1) {
      throw new DbError(
        'DataCorrupted',
        `meta journal: revision ${m.rev} follows revision ${this.#rev}`,
      )
    }
    if (this.#commit(m.ops, true) === 0) {
      throw new DbError('DataCorrupted', `meta journal: revision ${m.rev} changes nothing`)
    }
  }

  /** The state as of the latest applied revision (which may still be on its way to disk). */
  protected snapshotState(): { revision: number; kvs: KeyValue[] } {
    return { revision: this.#rev, kvs: this.#keys.map((k) => this.#kvs.get(k)!) }
  }

  /** Deletes keys attached to leases this process does not know (after a restart), durably. */
  protected async dropOrphanLeaseKeys(): Promise<number> {
    const orphans = this.#keys.filter((k) => {
      const lease = this.#kvs.get(k)!.lease
      return lease !== undefined && !this.#leases.has(lease)
    })
    if (orphans.length > 0) this.#commit(orphans.map((key) => ({ type: 'delete', key })))
    await this.#settled()
    return orphans.length
  }

  // ---- engine ------------------------------------------------------------------------------

  #usable(): void {
    if (this.#closing) throw new DbError('ServiceInternal', 'meta store is closed')
    if (this.#failed) throw this.#failed
  }

  /** Waits until everything applied so far is durable; rejects if that failed. */
  async #settled(): Promise<void> {
    await this.#tail
    if (this.#failed) throw this.#failed
  }

  #fail(e: unknown): void {
    if (this.#failed) return
    this.#failed = isDbError(e)
      ? e
      : new DbError('IoFailed', 'meta store write failed', { cause: e })
    this.log.error(
      { err: this.#failed },
      'meta store cannot persist; it rejects everything until reopened',
    )
  }

  /** Checks a branch before anything is applied, so a txn is all or nothing. */
  #validate(ops: readonly TxnOp[]): void {
    const puts = new Set<string>()
    const deletes = new Set<string>()
    const prefixes: string[] = []
    for (const op of ops) {
      switch (op.type) {
        case 'put':
          checkKey(op.key)
          if (typeof op.value !== 'string')
            throw new DbError('ParameterInvalid', `value of ${op.key} must be a string`)
          if (op.lease !== undefined && !this.#leases.has(op.lease)) {
            throw new DbError(
              'ParameterInvalid',
              `lease ${op.lease} not found (expired or revoked)`,
            )
          }
          if (puts.has(op.key)) throw duplicateKey(op.key)
          puts.add(op.key)
          break
        case 'delete':
          checkKey(op.key)
          deletes.add(op.key)
          break
        case 'deletePrefix':
          if (typeof op.prefix !== 'string')
            throw new DbError('ParameterInvalid', 'deletePrefix prefix must be a string')
          prefixes.push(op.prefix)
          break
        default:
          assertNever(op, 'txn op')
      }
    }
    for (const key of puts) {
      if (deletes.has(key) || prefixes.some((p) => key.startsWith(p))) throw duplicateKey(key)
    }
  }

  #holds(c: Compare): boolean {
    const kv = this.#kvs.get(c.key)
    if (c.target === 'value') {
      if (!kv) return false
      return c.op === '=' ? kv.value === c.value : kv.value !== c.value
    }
    const actual = kv ? kv[c.target] : 0
    switch (c.op) {
      case '=':
        return actual === c.value
      case '!=':
        return actual !== c.value
      case '<':
        return actual < c.value
      case '>':
        return actual > c.value
      default:
        return assertNever(c, 'compare')
    }
  }

  /**
   * Applies validated ops at the next revision. Bumps the revision, records history and persists
   * only if something changed. @returns the number of events (keys put or deleted).
   */
  #commit(ops: readonly TxnOp[], replaying = false): number {
    const rev = this.#rev + 1
    const events: WatchEvent[] = []
    for (const op of ops) {
      switch (op.type) {
        case 'put':
          events.push(this.#applyPut(op.key, op.value, op.lease, rev))
          break
        case 'delete':
          if (this.#kvs.has(op.key)) events.push(this.#applyDelete(op.key, rev))
          break
        case 'deletePrefix': {
          const lo = lowerBound(this.#keys, op.prefix)
          let hi = lo
          while (hi < this.#keys.length && this.#keys[hi]!.startsWith(op.prefix)) hi++
          for (const key of this.#keys.slice(lo, hi)) events.push(this.#applyDelete(key, rev))
          break
        }
        default:
          assertNever(op, 'txn op')
      }
    }
    if (events.length === 0) return 0
    this.#rev = rev
    this.#history.push({ rev, events })
    if (replaying) {
      this.#markDurable(rev)
      return events.length
    }
    const persisted = this.persist({ rev, ops })
    if (persisted === undefined) this.#markDurable(rev)
    else
      this.#tail = persisted.then(
        () => this.#markDurable(rev),
        (e: unknown) => this.#fail(e),
      )
    return events.length
  }

  #applyPut(key: string, value: string, lease: string | undefined, rev: number): WatchEvent {
    const prev = this.#kvs.get(key)
    if (prev?.lease !== undefined && prev.lease !== lease)
      this.#leases.get(prev.lease)?.keys.delete(key)
    if (lease !== undefined) this.#leases.get(lease)?.keys.add(key)
    const kv: KeyValue = Object.freeze({
      key,
      value,
      createRevision: prev ? prev.createRevision : rev,
      modRevision: rev,
      version: prev ? prev.version + 1 : 1,
      ...(lease === undefined ? {} : { lease }),
    })
    if (!prev) this.#keys.splice(lowerBound(this.#keys, key), 0, key)
    this.#kvs.set(key, kv)
    return { type: 'put', kv }
  }

  #applyDelete(key: string, rev: number): WatchEvent {
    const prev = this.#kvs.get(key)!
    if (prev.lease !== undefined) this.#leases.get(prev.lease)?.keys.delete(key)
    this.#kvs.delete(key)
    this.#keys.splice(lowerBound(this.#keys, key), 1)
    return {
      type: 'delete',
      kv: Object.freeze({ key, value: '', createRevision: 0, modRevision: rev, version: 0 }),
    }
  }

  #historyAt(rev: number): RevisionEvents {
    return this.#history[rev - this.#history[0]!.rev]!
  }

  /** Revisions up to `rev` are durable: hand them to watchers, then trim history. */
  #markDurable(rev: number): void {
    const prev = this.#durableRev
    this.#durableRev = rev
    if (this.#watchers.size > 0) {
      for (let r = prev + 1; r <= rev; r++) {
        const h = this.#historyAt(r)
        for (const w of this.#watchers) {
          if (h.rev <= w.after) continue
          w.after = h.rev
          this.#enqueue(w, h)
        }
      }
    }
    const excess = this.#history.length - this.#historyLimit
    // Trim in chunks so the splice cost is amortised; only durable (delivered) revisions go.
    if (excess > Math.max(64, this.#historyLimit >> 4)) {
      const n = Math.min(excess, this.#durableRev - this.#history[0]!.rev + 1)
      if (n > 0) {
        this.#historyFloor = this.#history[n - 1]!.rev
        this.#history = this.#history.slice(n)
      }
    }
  }

  #enqueue(w: WatchState, h: RevisionEvents): void {
    const events =
      w.prefix === '' ? [...h.events] : h.events.filter((e) => e.kv.key.startsWith(w.prefix))
    if (events.length === 0) return
    w.queue.push(events)
    if (w.scheduled) return
    w.scheduled = true
    queueMicrotask(() => {
      w.scheduled = false
      while (!w.cancelled && w.queue.length > 0) {
        const batch = w.queue.shift()!
        try {
          w.onEvents(batch)
        } catch (e) {
          this.log.error({ err: e, prefix: w.prefix }, 'meta store watch callback threw')
        }
      }
    })
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0)
    throw new DbError('ParameterInvalid', 'meta store key must be a non-empty string')
}

function validateCompare(c: Compare): void {
  checkKey(c.key)
  if (!['value', 'modRevision', 'createRevision', 'version'].includes(c.target)) {
    throw new DbError('ParameterInvalid', `compare target ${String(c.target)}`)
  }
  const ops = c.target === 'value' ? ['=', '!='] : ['=', '!=', '<', '>']
  if (!ops.includes(c.op))
    throw new DbError('ParameterInvalid', `compare op ${String(c.op)} on ${c.target}`)
  if (c.target === 'value' ? typeof c.value !== 'string' : !Number.isFinite(c.value)) {
    throw new DbError('ParameterInvalid', `compare value for ${c.target} of ${c.key}`)
  }
}

function duplicateKey(key: string): DbError {
  return new DbError('ParameterInvalid', `duplicate key ${key} given in txn request`)
}

/** First index whose key is >= `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (keys[mid]! < key) lo = mid + 1
    else hi = mid
  }
  return lo
}
