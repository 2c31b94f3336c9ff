/**
 * The data side of standalone Harrier: the streaming node (WAL append, timestamp order), the data
 * node (seal, flush to the object store, checkpoint, WAL truncation) and the query node (replicas
 * of every shard, segment load/release), sharing one in-memory copy of each shard.
 *
 * Recovery rebuilds all of it from the three sources of truth: catalog + flushed segment files +
 * the WAL tail after each shard's checkpoint.
 */
import type { Catalog, CatalogChange } from '../catalog/catalog.js'
import type { CollectionInfo, DeltalogInfo, SegmentIndexInfo, SegmentInfo, ShardCheckpoint } from '../catalog/model.js'
import { DbError, invalid, isDbError } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import { NativeMemoryTrimmer } from '../index/index.js'
import type { Timestamp, TsoAllocator } from '../common/tso.js'
import type { ObjectStore, Wal, WalReader } from '../infra/index.js'
import type { Column } from '../schema/columns.js'
import { concatColumns, takeRows } from '../schema/field-data.js'
import type { FieldSchema } from '../schema/types.js'
import { RowChunk, Segment } from '../segment/segment.js'
import { CollectionRuntime } from '../segment/collection-runtime.js'
import { MAX_PARTS_PER_MESSAGE, type FlushSnapshot } from '../segment/shard.js'
import { decodeDeltaLog, decodeInsertLog, deltaLogKey, encodeDeltaLog, encodeInsertLog, insertLogKey } from '../storage/binlog.js'
import { DmlChannel } from '../streaming/dml-channel.js'
import { decodeDmlMessage, type DmlMessage, type DmlPart, type PrimaryKeys } from '../storage/dml-message.js'
import { bucketOf } from '../streaming/routing.js'

export interface SegmentListing {
  readonly id: bigint
  readonly partitionId: bigint
  readonly numRows: number
  readonly state: 'Growing' | 'Sealed' | 'Flushed'
  readonly loaded: boolean
  /** Indexes attached in memory (built and loaded). */
  readonly indexIds: readonly bigint[]
}

export interface DataPlaneConfig {
  /** A growing segment seals once it holds this many rows (Milvus: ~512 MB; rows are simpler to reason about). */
  readonly segmentMaxRows: number
  /** Growing data older than this is flushed by the background loop. */
  readonly flushIntervalMs: number
  /** How often the background loop looks for segments to compact. */
  readonly compactionIntervalMs: number
  /**
   * Keep flushed segments in memory (default true: standalone serves reads from this replica).
   * A cluster data node serves no reads, so it keeps only growing data and reads flushed segments
   * back from the object store when it compacts them.
   */
  readonly holdFlushed?: boolean
}

/**
 * Which collections and flushed segments a cluster query node holds (the query coordinator's
 * placement, see cluster/query-coord.ts). Standalone has none: it holds everything.
 */
export interface SegmentPlacement {
  /** This node is in one of the collection's replicas: it follows its rows and holds a share. */
  serves(collectionId: bigint): boolean
  /**
   * This node should hold the flushed segment: it owns it, or (`loadedHere`) it held it before
   * and the new owner does not have it yet.
   */
  holds(collectionId: bigint, segmentId: bigint, loadedHere: boolean): boolean
  /** Told after a refresh, which may have loaded or dropped segments (publish what is held). */
  changed?(): void
}

/** How long an old holder keeps a segment after its new owner reports holding it. */
const HANDOVER_GRACE_MS = 2000

/**
 * What the access layer and the index service use of the rows: one data plane, or a data node's
 * planes for the channels it owns (ChannelSet).
 */
export type DataAccess = Pick<
  DataPlane,
  | 'insert'
  | 'delete'
  | 'flush'
  | 'compact'
  | 'runtime'
  | 'readTimestamp'
  | 'rowCount'
  | 'now'
  | 'stats'
  | 'segmentInfos'
  | 'otherShares'
  | 'awaitSegments'
  | 'awaitApplied'
  | 'checkSegments'
  | 'shareEpoch'
  | 'onFlushed'
  | 'setSegmentLoader'
>

export interface DataPlaneObserver {
  walAppended(seconds: number): void
  flushed(outcome: 'success' | 'fail', seconds: number, rows: number): void
}

export interface DataPlaneDeps {
  readonly catalog: Catalog
  readonly objects: ObjectStore
  /** The owned channel; absent on followers (recoverAsFollower), which only read. */
  readonly wal?: Wal
  readonly tso: TsoAllocator
  readonly log: Logger
  readonly config: DataPlaneConfig
  /** Timings for the metrics of the process hosting this replica. */
  readonly observer?: DataPlaneObserver
  /** Told once when the owned WAL is fenced or broken for good (cluster: step down). */
  readonly onWalFailure?: (e: DbError) => void
  /**
   * Cluster with several WAL channels: the channel each collection's shards map onto. An owner
   * then keeps only the collections of its channel; a follower reads each collection's rows from
   * its channel's reader. Absent: one channel holds everything.
   */
  readonly channelOf?: (collectionId: bigint) => string
}

/** One insert/upsert batch after validation: every stored field, full length. */
export interface RowBatch {
  readonly numRows: number
  readonly columns: ReadonlyMap<string, Column>
  readonly primaryKeys: PrimaryKeys
}

export interface RecoveryStats {
  readonly collections: number
  readonly flushedSegments: number
  readonly loadedRows: number
  readonly replayedMessages: number
  readonly replayedRows: number
  readonly ms: number
}

export class DataPlane {
  private readonly deps: DataPlaneDeps
  private readonly runtimes = new Map<bigint, CollectionRuntime>()
  /** Segment loads free whole decoded files; this hands those pages back once loading pauses. */
  private readonly trimmer = new NativeMemoryTrimmer()
  private channel!: DmlChannel
  private flushLock: Promise<unknown> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined
  private lastFlushMs = Date.now()
  private lastCompactMs = Date.now()
  private readonly flushListeners: ((collectionIds: bigint[]) => void)[] = []
  private segmentLoader: ((rt: CollectionRuntime, seg: Segment) => Promise<void>) | undefined
  /** Follower mode: one per followed WAL channel ('' when there is only one). */
  private readonly followers = new Map<string, FollowerState>()
  private walFailed = false
  private placement: SegmentPlacement | undefined
  /** Collections whose share of flushed segments is loaded here (all loaded ones without a placement). */
  private readonly served = new Set<bigint>()
  private catalogLock: Promise<unknown> = Promise.resolve()
  private stopped = false
  private retired = false

  constructor(deps: DataPlaneDeps) {
    this.deps = deps
  }

  /** The follower reading a collection's channel. */
  private followerOf(collectionId: bigint): FollowerState | undefined {
    return this.followers.get(this.deps.channelOf?.(collectionId) ?? '') ?? (this.deps.channelOf ? undefined : this.followers.values().next().value)
  }

  /** An owner keeps only the collections of its channel; a follower follows them all. */
  private owns(collectionId: bigint): boolean {
    const { channelOf, wal } = this.deps
    return !channelOf || !wal || channelOf(collectionId) === wal.channel
  }

  /** Called after each flush commit with the collections that got new flushed segments. */
  onFlushed(fn: (collectionIds: bigint[]) => void): void {
    this.flushListeners.push(fn)
  }

  /** Runs for every flushed segment read from storage, before it becomes searchable (attaches its indexes). */
  setSegmentLoader(fn: (rt: CollectionRuntime, seg: Segment) => Promise<void>): void {
    this.segmentLoader = fn
  }

  runtime(collectionId: bigint): CollectionRuntime {
    const rt = this.runtimes.get(collectionId)
    if (!rt) throw new DbError('CollectionNotFound', `collection id ${collectionId}`)
    // A query node holds flushed segments only of the collections placed on it; for the others
    // it cannot even find the rest of the rows, so it must not answer.
    if (this.placement && rt.info.load && !this.served.has(collectionId)) {
      throw new DbError('CollectionNotLoaded', `collection ${rt.info.name} is not served by this query node`)
    }
    return rt
  }

  /**
   * Cluster query nodes: load only the flushed segments `placement` assigns here. Growing data of
   * every collection is still followed, so a segment placed here later is only read from the
   * object store. Call refreshPlacement() when the placement or the holders change.
   */
  setPlacement(placement: SegmentPlacement): void {
    this.placement = placement
  }

  /** Collections this replica serves: placed here, with its share of flushed segments loaded. */
  servedCollections(): bigint[] {
    return [...this.runtimes.values()].filter((rt) => rt.info.load && (!this.placement || this.served.has(rt.info.id))).map((rt) => rt.info.id)
  }

  /** Flushed segments of the collection held here (published, so delegators can route to them). */
  loadedSegments(collectionId: bigint): bigint[] {
    return [...(this.runtimes.get(collectionId)?.loadedSegments ?? [])]
  }

  /**
   * The flushed segments of the collection, as this replica has applied them, that it does not
   * hold: other nodes' shares. Synchronous, so it agrees with the rows a local read sees in the
   * same tick (a flush replaces growing rows and adds segments in one step).
   */
  otherShares(collectionId: bigint, partitionIds?: ReadonlySet<bigint>): SegmentInfo[] {
    const rt = this.runtimes.get(collectionId)
    if (!rt) return []
    return [...rt.flushed.values()].filter((s) => !rt.loadedSegments.has(s.id) && (!partitionIds || partitionIds.has(s.partitionId)))
  }

  /**
   * Which flushed segments this replica knows and holds, as one string: equal before and after an
   * await means no flush, compaction or handover changed the collection's local rows meanwhile.
   */
  shareEpoch(collectionId: bigint): string {
    const rt = this.runtimes.get(collectionId)
    if (!rt) return ''
    const ids = (xs: Iterable<bigint>) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(',')
    return `${ids(rt.flushed.keys())}|${ids(rt.loadedSegments)}`
  }

  /**
   * Waits until every one of `ids` is held here (a delegator asked for them as this node's share;
   * an owner may still be reading a segment it just gained). Fails when a segment no longer exists
   * (compacted away: the asker's view is older, and it plans again).
   */
  async awaitSegments(collectionId: bigint, ids: readonly bigint[], timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs
    for (;;) {
      this.checkSegments(collectionId, ids, true)
      const rt = this.runtime(collectionId)
      if (ids.every((id) => rt.loadedSegments.has(id))) return
      if (Date.now() > until) throw new DbError('SegmentNotLoaded', `segments ${ids.join(', ')} of collection ${collectionId} are not all loaded on this query node after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  /**
   * Throws (retriable for the asker) unless every one of `ids` is held here, or, with `loading`,
   * is about to be: a segment this node neither holds nor owns (it handed it over, or the asker's
   * view of the placement is behind) or one that no longer exists (compacted) fails at once, so
   * the delegator plans the read again instead of waiting for a load that will not come.
   */
  checkSegments(collectionId: bigint, ids: readonly bigint[], loading = false): void {
    const rt = this.runtime(collectionId)
    const missing = ids.filter((id) => !rt.loadedSegments.has(id))
    if (missing.length === 0) return
    const gone = missing.filter((id) => !rt.flushed.has(id) && !this.deps.catalog.segmentsOf(collectionId).some((s) => s.id === id))
    if (gone.length > 0) throw new DbError('SegmentNotFound', `segments ${gone.join(', ')} of collection ${rt.info.name} no longer exist here (compacted); plan the read again`)
    const p = this.placement
    const notOurs = missing.filter((id) => !loading || (p !== undefined && !p.holds(collectionId, id, false)))
    if (notOurs.length > 0) throw new DbError('SegmentNotLoaded', `segments ${notOurs.join(', ')} of collection ${rt.info.name} are not held by this query node; plan the read again`)
  }

  /**
   * Waits until this replica has applied everything up to `ts` (a delegator's snapshot: the
   * timestamp of an entry or checkpoint it applied, which this replica applies too), so deletes
   * before the snapshot are marked here as well.
   */
  async awaitApplied(ts: Timestamp, timeoutMs: number, collectionId: bigint): Promise<void> {
    const f = this.followerOf(collectionId)
    if (!f || f.appliedTs >= ts) return
    const until = Date.now() + timeoutMs
    await this.catchUp(f)
    while (f.appliedTs < ts) {
      // A checkpoint's timestamp arrives with the catalog change, which may trail the WAL a moment.
      if (Date.now() > until) throw new DbError('ServiceUnavailable', `this replica has not applied up to timestamp ${ts} after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  private shouldLoad(id: bigint, info: CollectionInfo): boolean {
    return !!info.load && this.deps.config.holdFlushed !== false && (!this.placement || this.placement.serves(id))
  }

  private async loadServed(rt: CollectionRuntime): Promise<{ segments: number; rows: number }> {
    const n = await this.loadFlushed(rt)
    this.served.add(rt.info.id)
    return n
  }

  /**
   * Loads what was newly placed here and releases what moved away (whole collections or
   * segments). Each segment is read under the catalog lock on its own, so flush commits and
   * compactions arriving meanwhile are applied between them, not after a whole share.
   */
  async refreshPlacement(): Promise<void> {
    if (this.stopped) return
    for (const rt of [...this.runtimes.values()]) {
      const id = rt.info.id
      if (!this.shouldLoad(id, rt.info)) {
        if (this.served.has(id)) await this.serial('catalogLock', async () => this.release(id), 'releasing a collection failed')
        continue
      }
      const p = this.placement
      const toLoad = [...rt.flushed.values()].filter((s) => !rt.loadedSegments.has(s.id) && (!p || p.holds(id, s.id, false)))
      for (const info of toLoad) {
        await this.serial(
          'catalogLock',
          async () => {
            // Re-checked under the lock: the segment may be gone (compacted) or loaded meanwhile.
            if (this.runtimes.get(id) !== rt || rt.loadedSegments.has(info.id) || !rt.flushed.has(info.id) || (p && !p.holds(id, info.id, false))) return
            const seg = await this.readSegment(rt, info)
            if (this.segmentLoader) await this.segmentLoader(rt, seg)
            if (this.runtimes.get(id) !== rt || !rt.flushed.has(info.id)) return
            rt.shards[info.shard]!.addLoadedSegment(seg)
            rt.loadedSegments.add(info.id)
          },
          'loading a placed segment failed',
        )
      }
      await this.serial('catalogLock', async () => {
        if (this.runtimes.get(id) !== rt || !this.shouldLoad(id, rt.info)) return
        if (!this.served.has(id)) await this.loadServed(rt)
        this.dropUnheld(rt)
      })
    }
    this.placement?.changed?.()
  }

  /** When a segment's new owner was first seen holding it, per segment (the old holder's grace). */
  private readonly handedOver = new Map<bigint, number>()

  /**
   * Drops flushed segments whose new owner now holds them, after a short grace: a delegator whose
   * view trails by a moment may still send a read for them here.
   */
  private dropUnheld(rt: CollectionRuntime): void {
    const p = this.placement
    if (!p) return
    const now = Date.now()
    const drop: bigint[] = []
    let wait = 0
    for (const id of rt.loadedSegments) {
      if (p.holds(rt.info.id, id, true)) {
        this.handedOver.delete(id)
        continue
      }
      const since = this.handedOver.get(id) ?? now
      this.handedOver.set(id, since)
      if (now - since >= HANDOVER_GRACE_MS) drop.push(id)
      else wait = Math.max(wait, HANDOVER_GRACE_MS - (now - since))
    }
    if (wait > 0) setTimeout(() => void this.refreshPlacement().catch((e: unknown) => this.deps.log.warn({ err: e }, 'applying a placement change failed')), wait + 10).unref()
    if (drop.length === 0) return
    for (const sh of rt.shards) sh.dropSegments(drop)
    for (const id of drop) {
      rt.loadedSegments.delete(id)
      this.handedOver.delete(id)
    }
    this.deps.log.info({ collection: rt.info.name, segments: drop.map(String) }, 'released segments now held by their owner')
  }

  // ---------------------------------------------------------------- recovery

  async recover(): Promise<RecoveryStats> {
    const t0 = Date.now()
    const { tso, log } = this.deps
    const wal = this.ownedWal()
    // Offsets never go back, so a log whose next offset is below a checkpoint lost entries (a
    // broker whose storage was wiped, a WAL directory from another deployment). Appending there
    // would hand out offsets that replay skips as already flushed: refuse instead.
    let highest = 0n
    for (const info of this.deps.catalog.allCollections()) {
      if (!this.owns(info.id)) continue
      for (let s = 0; s < info.shardsNum; s++) {
        const cp = this.deps.catalog.checkpoint(info.id, s)
        if (cp && cp.offset > highest) highest = cp.offset
      }
    }
    if (wal.nextOffset() < highest) {
      throw new DbError('DataCorrupted', `WAL channel ${wal.channel} ends at offset ${wal.nextOffset()} but the catalog has flushed up to ${highest}: the log lost entries (was the broker's storage wiped or replaced?); restore it, or see "Back up and restore" in the admin guide`)
    }
    const loaded = await this.loadFromCatalog()
    let replayedMessages = 0
    let replayedRows = 0
    for await (const entry of wal.read(loaded.from)) {
      const msg = decodeDmlMessage(entry.payload)
      tso.observe(msg.ts)
      if (this.applyMessage(msg, entry.offset, true)) {
        replayedMessages++
        for (const p of msg.parts) if (p.kind === 'insert') replayedRows += p.numRows
      }
    }
    this.channel = new DmlChannel(wal, tso, (msg, offset) => {
      this.applyMessage(msg, offset, false)
    })
    const stats = { ...loaded.stats, replayedMessages, replayedRows, ms: Date.now() - t0 }
    log.info(stats, 'data plane recovered')
    return stats
  }

  private async loadFromCatalog(): Promise<{ from: bigint; fromOf: (channel: string) => bigint; stats: { collections: number; flushedSegments: number; loadedRows: number } }> {
    const { catalog, tso } = this.deps
    let flushedSegments = 0
    let loadedRows = 0
    for (const info of catalog.allCollections()) {
      if (!this.owns(info.id)) continue
      const rt = new CollectionRuntime(info, (s) => catalog.checkpoint(info.id, s)?.offset ?? 0n, this.deps.config.segmentMaxRows)
      this.runtimes.set(info.id, rt)
      for (let s = 0; s < info.shardsNum; s++) {
        const cp = catalog.checkpoint(info.id, s)
        if (cp) tso.observe(cp.ts)
      }
      await this.loadDeltalogs(rt, catalog.deltalogsOf(info.id))
      for (const s of catalog.segmentsOf(info.id)) rt.flushed.set(s.id, s)
      if (this.shouldLoad(info.id, info)) {
        const n = await this.loadServed(rt)
        flushedSegments += n.segments
        loadedRows += n.rows
      }
    }
    // Replay starts at the lowest checkpoint of the collections on each channel.
    const lowest = (channel: string | undefined) => {
      let from: bigint | undefined
      for (const rt of this.runtimes.values()) {
        if (channel !== undefined && this.deps.channelOf && this.deps.channelOf(rt.info.id) !== channel) continue
        for (const sh of rt.shards) if (from === undefined || sh.checkpoint < from) from = sh.checkpoint
      }
      return from ?? 0n
    }
    return { from: lowest(undefined), fromOf: (channel) => lowest(channel), stats: { collections: this.runtimes.size, flushedSegments, loadedRows } }
  }

  // ---------------------------------------------------------------- follower (cluster query node)

  /**
   * Builds the same replica as the channel owner without owning anything: catalog + flushed
   * segments, then the WAL followed from the lowest checkpoint for as long as the node lives.
   * Flushes and compactions made by the owner arrive as catalog changes (see applyCatalogChanges).
   */
  async recoverAsFollower(readers: WalReader | ReadonlyMap<string, WalReader>): Promise<RecoveryStats> {
    const t0 = Date.now()
    const loaded = await this.loadFromCatalog()
    const byChannel: ReadonlyMap<string, WalReader> = readers instanceof Map ? readers : new Map([['', readers as WalReader]])
    for (const [channel, reader] of byChannel) {
      const abort = new AbortController()
      const f: FollowerState = { reader, abort, applied: channel ? loaded.fromOf(channel) : loaded.from, appliedTs: 0n, caughtUpTs: 0n, waiters: [], done: Promise.resolve(), failed: undefined }
      for (const rt of this.runtimes.values()) {
        if (channel && this.deps.channelOf && this.deps.channelOf(rt.info.id) !== channel) continue
        for (let s = 0; s < rt.shards.length; s++) {
          const cp = this.deps.catalog.checkpoint(rt.info.id, s)
          if (cp && cp.ts > f.appliedTs) f.appliedTs = cp.ts
        }
      }
      this.followers.set(channel, f)
      f.done = this.followLoop(f)
    }
    // Catch up to the tails before serving, so the first reads are not served from a stale replica.
    const tails = await Promise.all([...this.followers.values()].map((f) => this.catchUp(f)))
    const stats = { ...loaded.stats, replayedMessages: 0, replayedRows: 0, ms: Date.now() - t0 }
    this.deps.log.info({ ...stats, channels: byChannel.size, tails: tails.map(String) }, 'replica recovered; following the WAL')
    return stats
  }

  private async followLoop(f: FollowerState): Promise<void> {
    let failures = 0
    while (!f.abort.signal.aborted) {
      try {
        const entries = f.reader.follow(f.applied, f.abort.signal)
        f.failed = undefined
        for await (const entry of entries) {
          if (entry.offset < f.applied) continue // already applied (a resumed consumer may repeat)
          const msg = decodeDmlMessage(entry.payload)
          this.deps.tso.observe(msg.ts)
          this.applyMessage(msg, entry.offset, true)
          if (entry.offset + 1n > f.applied) f.applied = entry.offset + 1n
          f.failed = undefined
          failures = 0
          if (msg.ts > f.appliedTs) f.appliedTs = msg.ts
          this.wakeWaiters(f)
        }
      } catch (e) {
        if (f.abort.signal.aborted) return
        // The broker went away or the consumer broke: resume from the next unapplied entry.
        // Reads waiting meanwhile fail fast, so the proxy can use another replica.
        f.failed = e instanceof Error ? e : new Error(String(e))
        for (const w of f.waiters.splice(0)) w.reject(new DbError('ServiceUnavailable', `replica is reconnecting to its WAL channel: ${f.failed.message}`))
        if (++failures === 1 || failures % 20 === 0) this.deps.log.warn({ err: e, failures }, 'following the WAL failed; retrying')
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(failures, 5), 3000)))
      }
    }
  }

  /**
   * Waits until everything acknowledged so far (the broker's tail) is applied; returns the tail.
   * The entries are normally on their way through the follow loop. Only when they do not come is
   * the log's low end checked: if the range was truncated (flushed meanwhile), there is nothing
   * left to read there and our position moves up to the first readable entry.
   */
  private async catchUp(f: FollowerState): Promise<bigint> {
    const tail = await f.reader.tail()
    if (f.applied >= tail) return tail
    const reached = this.waitApplied(f, tail)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 100)))
    const isLate = await Promise.race([reached.then(() => false, () => false), late])
    clearTimeout(timer)
    if (isLate && f.reader.firstOffset) {
      const first = await f.reader.firstOffset()
      if (first > f.applied) {
        f.applied = first
        this.wakeWaiters(f)
      }
    }
    await reached
    return tail
  }

  private wakeWaiters(f: FollowerState): void {
    if (f.waiters.length === 0) return
    const keep: typeof f.waiters = []
    for (const w of f.waiters) if (f.applied >= w.offset) w.resolve()
    else keep.push(w)
    f.waiters = keep
  }

  private waitApplied(f: FollowerState, offset: bigint): Promise<void> {
    if (f.applied >= offset) return Promise.resolve()
    if (f.failed) return Promise.reject(new DbError('ServiceUnavailable', `replica is not following its WAL channel: ${f.failed.message}`))
    return new Promise((resolve, reject) => f.waiters.push({ offset, resolve, reject }))
  }

  /**
   * Mirrors catalog changes made by other processes: DDL (new, changed, dropped, loaded and
   * released collections), flush commits, compactions. Runs one batch at a time, in order.
   */
  applyCatalogChanges(changes: readonly CatalogChange[]): Promise<void> {
    return this.serial('catalogLock', () => this.applyCatalogChangesNow(changes), 'applying a catalog change failed')
  }

  private async applyCatalogChangesNow(changes: readonly CatalogChange[]): Promise<void> {
    const { catalog } = this.deps
    for (const ch of changes) {
      if (ch.kind !== 'collection') continue
      if (!ch.next) {
        this.runtimes.delete(ch.id)
        this.served.delete(ch.id)
        continue
      }
      const rt = this.runtimes.get(ch.id)
      if (!rt) {
        if (!this.owns(ch.id)) continue
        const created = new CollectionRuntime(ch.next, (s) => catalog.checkpoint(ch.id, s)?.offset ?? this.followerOf(ch.id)?.applied ?? 0n, this.deps.config.segmentMaxRows)
        for (const s of catalog.segmentsOf(ch.id)) created.flushed.set(s.id, s)
        this.runtimes.set(ch.id, created)
        if (this.shouldLoad(ch.id, ch.next)) await this.loadServed(created)
        continue
      }
      rt.info = ch.next
      if (this.shouldLoad(ch.id, ch.next) && !this.served.has(ch.id)) await this.loadServed(rt)
      else if (!ch.next.load && ch.prev?.load) this.release(ch.id)
    }
    // A flush commit: segments + deltalogs + checkpoints of one transaction.
    const cps = changes.filter((c): c is Extract<CatalogChange, { kind: 'checkpoint' }> => c.kind === 'checkpoint' && c.next !== undefined)
    const added = changes.filter((c): c is Extract<CatalogChange, { kind: 'segment' }> => c.kind === 'segment' && c.next !== undefined)
    const removed = changes.filter((c): c is Extract<CatalogChange, { kind: 'segment' }> => c.kind === 'segment' && c.next === undefined)
    const deltas = changes.filter((c): c is Extract<CatalogChange, { kind: 'deltalog' }> => c.kind === 'deltalog')
    for (const d of deltas) {
      const rt = this.runtimes.get(d.collectionId)
      if (rt) await this.loadDeltalogs(rt, [d.next])
    }
    const ready: { rt: CollectionRuntime; seg: Segment }[] = []
    for (const a of added) {
      const rt = this.runtimes.get(a.collectionId)
      if (!rt || !rt.info.load || rt.loadedSegments.has(a.id) || (this.placement && (!this.served.has(a.collectionId) || !this.placement.holds(a.collectionId, a.id, false)))) continue
      const seg = await this.readSegment(rt, a.next!)
      if (this.segmentLoader) await this.segmentLoader(rt, seg)
      ready.push({ rt, seg })
    }
    // Synchronous from here: one consistent swap per batch.
    for (const a of added) this.runtimes.get(a.collectionId)?.flushed.set(a.id, a.next!)
    for (const r of removed) {
      const rt = this.runtimes.get(r.collectionId)
      if (!rt) continue
      rt.flushed.delete(r.id)
      for (const sh of rt.shards) sh.dropSegments([r.id])
      rt.loadedSegments.delete(r.id)
    }
    for (const cp of cps) {
      const rt = this.runtimes.get(cp.collectionId)
      rt?.shards[cp.shard]?.dropPersistedBelow(cp.next!.offset)
      const f = this.followerOf(cp.collectionId)
      if (f && cp.next!.ts > f.appliedTs) {
        // Rows of the flushed range are now readable from the segments, even before the WAL reaches them.
        f.appliedTs = cp.next!.ts
        this.deps.tso.observe(cp.next!.ts)
      }
    }
    for (const { rt, seg } of ready) {
      if (this.runtimes.get(rt.info.id) !== rt) continue
      rt.shards[seg.shard]!.addLoadedSegment(seg)
      rt.loadedSegments.add(seg.id)
    }
  }

  /** Applies a durable message to the replicas; during replay, parts below a shard's checkpoint are skipped. */
  private applyMessage(msg: DmlMessage, offset: bigint, replay: boolean): boolean {
    const rt = this.runtimes.get(msg.collectionId)
    if (!rt) return false // dropped collection: its messages are garbage until truncated
    let applied = false
    msg.parts.forEach((part, i) => {
      const shard = rt.shards[part.shard]
      if (!shard || (replay && offset < shard.checkpoint)) return
      if (part.kind === 'insert') shard.applyInsert(part, msg.ts, offset, i)
      else shard.applyDelete(part, msg.ts, offset)
      applied = true
    })
    return applied
  }

  // ---------------------------------------------------------------- DDL hooks

  addCollection(info: CollectionInfo): void {
    this.runtimes.set(info.id, new CollectionRuntime(info, () => this.appliedOffset(), this.deps.config.segmentMaxRows))
  }

  private ownedWal(): Wal {
    if (!this.deps.wal) throw new DbError('ServiceInternal', 'this replica follows the WAL; it cannot write or flush')
    return this.deps.wal
  }

  private appliedOffset(): bigint {
    return this.followers.size > 0 ? ([...this.followers.values()][0]!.applied) : this.channel.appliedOffset()
  }

  updateCollection(info: CollectionInfo): void {
    const rt = this.runtimes.get(info.id)
    if (rt) rt.info = info
  }

  /** Forgets the collection; its files are deleted in the background (they are unreachable from the catalog). */
  dropCollection(id: bigint, files: { segments: SegmentInfo[]; deltalogs: DeltalogInfo[]; segmentIndexes: SegmentIndexInfo[] }): void {
    this.runtimes.delete(id)
    const keys = [
      ...files.segments.flatMap((s) => Object.values(s.binlogs)),
      ...files.deltalogs.map((d) => d.key),
      ...files.segmentIndexes.flatMap((i) => Object.values(i.files)),
    ]
    if (keys.length === 0) return
    this.deps.objects.delete(keys).catch((e: unknown) => this.deps.log.warn({ err: e, collectionId: id }, 'garbage collection of dropped collection files failed'))
  }

  // ---------------------------------------------------------------- writes

  /**
   * Routes rows to shards by primary key (and to partitions by partition key when the collection
   * has one), assigns growing segments, and appends one WAL record. Resolves after durable + applied.
   */
  async insert(collectionId: bigint, batch: RowBatch, partitionId: bigint | undefined, opts: { upsert: boolean }): Promise<Timestamp> {
    const rt = this.runtime(collectionId)
    const info = rt.info
    const groups = this.routeRows(rt, batch, partitionId)
    if (groups.size * 2 > MAX_PARTS_PER_MESSAGE) throw invalid(`one request may touch at most ${MAX_PARTS_PER_MESSAGE / 2} shard/partition pairs`)
    const { ts } = await this.append((ts) => {
      const parts: DmlPart[] = []
      for (const [key, rows] of groups) {
        const [shard, part] = key.split('/') as [string, string]
        const columns = groups.size === 1 ? batch.columns : this.subset(rt, batch, rows)
        const pks = columns.get(rt.pkField.name)!.data as PrimaryKeys
        if (opts.upsert) parts.push({ kind: 'delete', shard: Number(shard), pks })
        parts.push({ kind: 'insert', shard: Number(shard), partitionId: BigInt(part), numRows: rows.length, columns })
      }
      return { collectionId: info.id, ts, parts }
    })
    this.maybeFlushSoon()
    return ts
  }

  /** Deletes by primary key. Resolves after durable + applied. */
  async delete(collectionId: bigint, pks: PrimaryKeys): Promise<Timestamp> {
    const rt = this.runtime(collectionId)
    const byShard = new Map<number, number[]>()
    for (let i = 0; i < pks.length; i++) {
      const s = bucketOf(pks[i]!, rt.shards.length)
      let l = byShard.get(s)
      if (!l) byShard.set(s, (l = []))
      l.push(i)
    }
    const { ts } = await this.append((ts) => ({
      collectionId,
      ts,
      parts: [...byShard].map(([shard, idx]) => ({
        kind: 'delete' as const,
        shard,
        pks: byShard.size === 1 ? pks : pks instanceof BigInt64Array ? BigInt64Array.from(idx, (i) => pks[i]!) : idx.map((i) => pks[i]!),
      })),
    }))
    return ts
  }

  /**
   * A fenced or failed WAL instance stays unusable (a failed append poisons the channel until it
   * is reopened): the owner is told once, so a cluster data node can hand the channel over.
   */
  private async append(build: (ts: Timestamp) => DmlMessage): Promise<{ offset: bigint; ts: Timestamp }> {
    const started = performance.now()
    try {
      const r = await this.channel.append(build)
      this.deps.observer?.walAppended((performance.now() - started) / 1000)
      return r
    } catch (e) {
      if (isDbError(e) && (e.kind === 'ChannelFenced' || e.kind === 'IoFailed') && !this.walFailed) {
        this.walFailed = true
        this.deps.onWalFailure?.(e)
      }
      throw e
    }
  }

  private routeRows(rt: CollectionRuntime, batch: RowBatch, partitionId: bigint | undefined): Map<string, number[]> {
    const info = rt.info
    const pkeyField = info.schema.fields.find((f) => f.isPartitionKey)
    const pkeyCol = pkeyField ? batch.columns.get(pkeyField.name) : undefined
    const groups = new Map<string, number[]>()
    const pks = batch.primaryKeys
    const nShards = rt.shards.length
    const defaultPart = partitionId ?? info.partitions[0]!.id
    for (let i = 0; i < batch.numRows; i++) {
      const shard = bucketOf(pks[i]!, nShards)
      let part = defaultPart
      if (pkeyCol && (pkeyCol.type === 'Int64' || pkeyCol.type === 'VarChar')) {
        part = info.partitions[bucketOf(pkeyCol.data[i]!, info.partitions.length)]!.id
      }
      const key = `${shard}/${part}`
      let l = groups.get(key)
      if (!l) groups.set(key, (l = []))
      l.push(i)
    }
    return groups
  }

  private subset(rt: CollectionRuntime, batch: RowBatch, rows: number[]): Map<string, Column> {
    const picks = { chunk: new Int32Array(rows.length), row: Int32Array.from(rows) }
    const out = new Map<string, Column>()
    for (const [name, col] of batch.columns) {
      const field = rt.info.schema.fields.find((f) => f.name === name)
      if (!field) throw new DbError('ServiceInternal', `column ${name} not in schema`)
      out.set(name, takeRows(field, [col], picks))
    }
    return out
  }

  // ---------------------------------------------------------------- reads

  /** Waits until every write with ts <= `guarantee` is applied; returns the snapshot timestamp to read at. */
  async readTimestamp(guarantee: Timestamp, collectionId?: bigint): Promise<Timestamp> {
    if (this.followers.size > 0) {
      // Each collection is read at its own channel's position; without one, at every channel's.
      const fs = collectionId !== undefined ? [this.followerOf(collectionId)].filter((x): x is FollowerState => !!x) : [...this.followers.values()]
      const at = await Promise.all(fs.map((f) => this.followerTimestamp(f, guarantee)))
      return at.reduce((a, x) => (x < a ? x : a), at[0] ?? 0n)
    }
    await this.channel.waitTsafe(guarantee)
    return this.channel.tsafe()
  }

  private async followerTimestamp(f: FollowerState, guarantee: Timestamp): Promise<Timestamp> {
    {
      // A follower cannot know which timestamps the owner handed out; the WAL tail is its read
      // index: every write acknowledged before this read sits below it.
      // An idle channel has no new entries to advance appliedTs, so also remember when the replica
      // last proved itself caught up: everything acknowledged before that moment is applied, and
      // Bounded reads older than it need no broker round trip. Strong reads (guarantee = now)
      // always ask the broker.
      if (f.failed || (guarantee > f.appliedTs && guarantee > f.caughtUpTs)) {
        const asOf = this.deps.tso.next()
        await this.catchUp(f)
        if (asOf > f.caughtUpTs) f.caughtUpTs = asOf
      }
      return f.appliedTs
    }
  }

  /**
   * Row count for statistics: exact over rows in memory, plus the recorded size of flushed segments
   * that are not loaded (their deletes are not subtracted until they are loaded, as in Milvus).
   */
  rowCount(collectionId: bigint, visibleAt: Timestamp, partitionIds?: ReadonlySet<bigint>): number {
    const rt = this.runtime(collectionId)
    let n = 0
    for (const sh of rt.shards) {
      for (const seg of sh.readableSegments(partitionIds)) for (const c of seg.chunks) n += c.visibility(visibleAt).count()
    }
    for (const s of this.deps.catalog.segmentsOf(collectionId)) {
      if (!rt.loadedSegments.has(s.id) && (!partitionIds || partitionIds.has(s.partitionId))) n += s.numRows
    }
    return n
  }

  /** Segment listing for GetPersistentSegmentInfo / GetQuerySegmentInfo. */
  segmentInfos(collectionId: bigint): SegmentListing[] {
    const rt = this.runtime(collectionId)
    const out: SegmentListing[] = []
    const seen = new Set<bigint>()
    for (const sh of rt.shards) {
      for (const seg of sh.segments.values()) {
        seen.add(seg.id)
        const state = seg.state === 'growing' ? 'Growing' : seg.state === 'sealed' ? 'Sealed' : 'Flushed'
        out.push({ id: seg.id, partitionId: seg.partitionId, numRows: seg.numRows, state, loaded: true, indexIds: [...seg.indexes.values()].map((i) => i.indexId) })
      }
    }
    for (const s of this.deps.catalog.segmentsOf(collectionId)) {
      if (!seen.has(s.id)) out.push({ id: s.id, partitionId: s.partitionId, numRows: s.numRows, state: 'Flushed', loaded: false, indexIds: [] })
    }
    return out
  }

  now(): Timestamp {
    return this.deps.tso.next()
  }

  // ---------------------------------------------------------------- load / release

  async load(collectionId: bigint): Promise<void> {
    if (this.deps.config.holdFlushed === false) return
    await this.loadFlushed(this.runtime(collectionId))
  }

  release(collectionId: bigint): void {
    const rt = this.runtimes.get(collectionId)
    if (!rt) return
    for (const sh of rt.shards) sh.releaseFlushed()
    rt.loadedSegments.clear()
    this.served.delete(collectionId)
  }

  private async loadFlushed(rt: CollectionRuntime): Promise<{ segments: number; rows: number }> {
    let segments = 0
    let rows = 0
    const p = this.placement
    // A follower loads only what it has applied: a segment the catalog already lists but whose
    // flush this replica has not applied yet still has its rows here as growing data.
    const listed = this.followers.size > 0 ? [...rt.flushed.values()] : this.deps.catalog.segmentsOf(rt.info.id)
    for (const info of listed) {
      if (rt.loadedSegments.has(info.id) || (p && !p.holds(rt.info.id, info.id, false))) continue
      const seg = await this.readSegment(rt, info)
      if (this.segmentLoader) await this.segmentLoader(rt, seg)
      rt.shards[info.shard]!.addLoadedSegment(seg)
      rt.loadedSegments.add(info.id)
      segments++
      rows += seg.numRows
    }
    return { segments, rows }
  }

  private async readSegment(rt: CollectionRuntime, info: SegmentInfo): Promise<Segment> {
    const { objects } = this.deps
    const columns = new Map<string, Column>()
    const names = rt.info.schema.fields.map((f) => f.name)
    const read = async (name: string): Promise<Column | undefined> => {
      const key = info.binlogs[name]
      return key ? decodeInsertLog(key, await objects.get(key)) : undefined
    }
    const [tsCol, ...cols] = await Promise.all([read('$ts'), ...names.map(read)])
    if (!tsCol || tsCol.type !== 'Int64') throw new DbError('DataCorrupted', `segment ${info.id} has no timestamp binlog`)
    names.forEach((name, i) => {
      const c = cols[i]
      // Fields added after this segment was written read as all-null (AddCollectionField semantics).
      columns.set(name, c ?? nullColumn(rt.info.schema.fields[i]!, info.numRows))
    })
    const pk = columns.get(rt.pkField.name)
    if (!pk || (pk.type !== 'Int64' && pk.type !== 'VarChar')) throw new DbError('DataCorrupted', `segment ${info.id} has no primary keys`)
    const seg = new Segment(info.id, info.partitionId, info.shard, 'flushed')
    seg.append(new RowChunk(columns, info.numRows, pk.data, tsCol.data))
    this.trimmer.poke()
    return seg
  }

  private async loadDeltalogs(rt: CollectionRuntime, logs: DeltalogInfo[]): Promise<void> {
    for (const d of logs) {
      const { pks, ts } = decodeDeltaLog(d.key, await this.deps.objects.get(d.key))
      const shard = rt.shards[d.shard]
      if (!shard) continue
      // Deltalogs store one (pk, ts) per row; group runs of equal ts back into records.
      let start = 0
      for (let i = 1; i <= ts.length; i++) {
        if (i === ts.length || ts[i] !== ts[start]) {
          shard.applyPersistedDeletes({ pks: pks instanceof BigInt64Array ? pks.subarray(start, i) : pks.slice(start, i), ts: ts[start]! })
          start = i
        }
      }
    }
  }

  // ---------------------------------------------------------------- flush

  /** Seals and persists the growing data of the given collections (all when undefined). */
  flush(collectionIds?: readonly bigint[]): Promise<{ flushTs: Timestamp; segments: Map<bigint, bigint[]> }> {
    if (this.retired) return Promise.reject(this.retiredError())
    const run = async () => {
      const started = performance.now()
      try {
        const { rows, ...r } = await this.flushNow(collectionIds)
        this.deps.observer?.flushed('success', (performance.now() - started) / 1000, rows)
        return r
      } catch (e) {
        this.deps.observer?.flushed('fail', (performance.now() - started) / 1000, 0)
        throw e
      }
    }
    return this.serial('flushLock', run)
  }

  /** Runs `run` after everything queued on `lock` (flushes and compactions; catalog changes) has settled. */
  private serial<T>(lock: 'flushLock' | 'catalogLock', run: () => Promise<T>, failure?: string): Promise<T> {
    const p = this[lock].then(run, run)
    this[lock] = p.catch((e: unknown) => {
      if (failure) this.deps.log.error({ err: e }, failure)
    })
    return p
  }

  private async flushNow(collectionIds?: readonly bigint[]): Promise<{ flushTs: Timestamp; segments: Map<bigint, bigint[]>; rows: number }> {
    const { catalog, objects, log } = this.deps
    const flushTs = this.channel.tsafe()
    const upTo = this.channel.appliedOffset()
    const targets = collectionIds ? collectionIds.map((id) => this.runtime(id)) : [...this.runtimes.values()]
    // Synchronous snapshot of every target shard: consistent with the apply order.
    const snaps: { rt: CollectionRuntime; snap: FlushSnapshot }[] = []
    for (const rt of targets) for (const sh of rt.shards) snaps.push({ rt, snap: sh.beginFlush(upTo) })
    const result = new Map<bigint, bigint[]>()
    const merged: { rt: CollectionRuntime; shard: number; seg: Segment; chunk: RowChunk }[] = []
    try {
      const segments: SegmentInfo[] = []
      const deltalogs: DeltalogInfo[] = []
      const checkpoints: ShardCheckpoint[] = []
      for (const { rt, snap } of snaps) {
        const ids = result.get(rt.info.id) ?? []
        result.set(rt.info.id, ids)
        for (const seg of snap.segments) {
          if (seg.numRows === 0) continue
          const w = await this.writeSegment(rt, seg)
          segments.push(w.info)
          merged.push({ rt, shard: snap.shard, seg, chunk: w.merged })
          ids.push(seg.id)
        }
        if (snap.deletes.length > 0) {
          const id = await catalog.allocIds(1)
          const key = deltaLogKey(rt.info.id, snap.shard, id)
          const n = snap.deletes.reduce((a, d) => a + d.pks.length, 0)
          const ts = new BigInt64Array(n)
          let i = 0
          const isInt = rt.pkField.dataType === 'Int64'
          const pkInts = isInt ? new BigInt64Array(n) : undefined
          const pkStrs: string[] = []
          for (const d of snap.deletes) {
            for (let j = 0; j < d.pks.length; j++) {
              ts[i] = d.ts
              if (pkInts) pkInts[i] = d.pks[j] as bigint
              else pkStrs.push(d.pks[j] as string)
              i++
            }
          }
          await objects.put(key, encodeDeltaLog(pkInts ?? pkStrs, ts))
          deltalogs.push({ id, collectionId: rt.info.id, shard: snap.shard, key, numRows: n })
        }
        if (snap.firstOffset !== undefined || snap.segments.length > 0) {
          checkpoints.push({ collectionId: rt.info.id, shard: snap.shard, offset: snap.checkpoint, ts: flushTs })
        }
      }
      await catalog.commitFlush({ segments, deltalogs, checkpoints })
    } catch (e) {
      for (const { snap, rt } of snaps) if (this.runtimes.get(rt.info.id) === rt) rt.shards[snap.shard]!.abortFlush(snap)
      throw e
    }
    for (const { rt, snap } of snaps) {
      rt.shards[snap.shard]!.completeFlush(snap)
      for (const s of snap.segments) rt.loadedSegments.add(s.id)
    }
    if (this.deps.config.holdFlushed === false) {
      // Persisted: this replica keeps only growing data (deletes of these rows are still recorded by key).
      for (const m of merged) {
        m.rt.shards[m.shard]!.dropSegments([m.seg.id])
        m.rt.loadedSegments.delete(m.seg.id)
      }
    } else for (const m of merged) if (m.seg.chunks.length > 1) m.rt.shards[m.shard]!.replaceChunks(m.seg, m.chunk)
    for (const fn of this.flushListeners) fn(merged.map((m) => m.rt.info.id))
    this.lastFlushMs = Date.now()
    await this.truncateWal()
    log.debug({ collections: targets.length, upTo: upTo.toString() }, 'flushed')
    return { flushTs, segments: result, rows: merged.reduce((a, m) => a + m.seg.numRows, 0) }
  }

  private async writeSegment(rt: CollectionRuntime, seg: Segment): Promise<{ info: SegmentInfo; merged: RowChunk }> {
    const binlogs: Record<string, string> = {}
    let sizeBytes = 0
    const writes: Promise<void>[] = []
    const columns = new Map<string, Column>()
    const put = (name: string, col: Column): void => {
      const key = insertLogKey(rt.info.id, seg.partitionId, seg.id, name)
      const bytes = encodeInsertLog(col)
      sizeBytes += bytes.length
      binlogs[name] = key
      writes.push(this.deps.objects.put(key, bytes))
    }
    for (const field of rt.info.schema.fields) {
      const parts = seg.chunks.map((c) => c.columns.get(field.name)).filter((c): c is Column => c !== undefined)
      if (parts.length === seg.chunks.length) {
        const col = concatColumns(field, parts)
        columns.set(field.name, col)
        put(field.name, col)
      }
    }
    const ts = new BigInt64Array(seg.numRows)
    let off = 0
    for (const c of seg.chunks) {
      ts.set(c.timestamps, off)
      off += c.numRows
    }
    put('$ts', { type: 'Int64', data: ts })
    await Promise.all(writes)
    const pk = columns.get(rt.pkField.name)!
    const merged = new RowChunk(columns, seg.numRows, pk.data as PrimaryKeys, ts)
    return { info: { id: seg.id, collectionId: rt.info.id, partitionId: seg.partitionId, shard: seg.shard, numRows: seg.numRows, binlogs, sizeBytes }, merged }
  }

  /**
   * Compaction: merges small flushed segments of one shard and partition, and rewrites segments with
   * many deleted rows, dropping rows deleted before the compaction's snapshot. Runs under the flush
   * lock, so it never interleaves with a flush of the same segments. A replica holding flushed
   * rows compacts its loaded collections from memory; one that does not (a cluster data node)
   * reads each plan's segments back from the object store. Returns the merged segments written.
   */
  compact(collectionIds?: readonly bigint[], opts: { force?: boolean } = {}): Promise<number> {
    if (this.retired) return Promise.reject(this.retiredError())
    return this.serial('flushLock', () => this.compactNow(collectionIds, !!opts.force))
  }

  private async compactNow(collectionIds: readonly bigint[] | undefined, force: boolean): Promise<number> {
    const { catalog, objects, log } = this.deps
    const targets = collectionIds ? collectionIds.map((id) => this.runtime(id)) : [...this.runtimes.values()]
    let done = 0
    const lean = this.deps.config.holdFlushed === false
    for (const rt of targets) {
      if (!lean && !rt.info.load) continue
      const plans = lean ? this.storedCompactionPlans(rt, force) : this.compactionPlans(rt, force)
      for await (const plan of plans) {
        const ts = this.channel.tsafe()
        const sources = plan.map((p) => p.info)
        const chunks = plan.map((p) => p.seg.chunks[0]!)
        const picks = { chunk: [] as number[], row: [] as number[] }
        chunks.forEach((c, ci) =>
          c.visibility(ts).forEach((r) => {
            picks.chunk.push(ci)
            picks.row.push(r)
          }),
        )
        const sel = { chunk: Int32Array.from(picks.chunk), row: Int32Array.from(picks.row) }
        const columns = new Map<string, Column>()
        for (const field of rt.info.schema.fields) {
          const parts = chunks.map((c) => c.columns.get(field.name)).filter((c): c is Column => c !== undefined)
          if (parts.length === chunks.length) columns.set(field.name, takeRows(field, parts, sel))
        }
        const timestamps = BigInt64Array.from(picks.row, (r, i) => chunks[picks.chunk[i]!]!.timestamps[r]!)
        const first = plan[0]!
        const id = await catalog.allocIds(1)
        const seg = new Segment(id, first.info.partitionId, first.info.shard, 'flushed')
        const pk = columns.get(rt.pkField.name)!
        seg.append(new RowChunk(columns, picks.row.length, pk.data as PrimaryKeys, timestamps))
        // Every row deleted: the sources just go away.
        const info = seg.numRows > 0 ? (await this.writeSegment(rt, seg)).info : undefined
        let stale: SegmentIndexInfo[]
        try {
          stale = await catalog.commitCompaction(rt.info.id, sources, info)
        } catch (e) {
          if (info) await objects.delete(Object.values(info.binlogs)).catch(() => undefined)
          if (lean) rt.shards[first.info.shard]?.dropSegments(sources.map((s) => s.id))
          log.warn({ err: e, collection: rt.info.name }, 'compaction abandoned')
          continue
        }
        // Synchronous swap: readers see either the sources or the merged segment, never both.
        const shard = rt.shards[first.info.shard]!
        shard.dropSegments(sources.map((s) => s.id))
        for (const s of sources) rt.loadedSegments.delete(s.id)
        if (info && !lean) {
          shard.addLoadedSegment(seg)
          rt.loadedSegments.add(seg.id)
        }
        const garbage = [...sources.flatMap((s) => Object.values(s.binlogs)), ...stale.flatMap((i) => Object.values(i.files))]
        objects.delete(garbage).catch((e: unknown) => log.warn({ err: e }, 'deleting compacted files failed'))
        log.info({ collection: rt.info.name, sources: sources.map((s) => s.id.toString()), segment: id.toString(), rows: seg.numRows, dropped: sources.reduce((a, s) => a + s.numRows, 0) - seg.numRows }, 'segments compacted')
        done++
      }
    }
    if (done > 0) for (const fn of this.flushListeners) fn(targets.map((rt) => rt.info.id))
    return done
  }

  /**
   * Compaction plans for a replica that does not hold flushed segments: small segments (by the
   * catalog's row counts) packed per shard and partition, or with `force` every segment. Each
   * planned segment is read back from the object store and put in the shard for the duration
   * (so every known delete marks its rows); the caller drops them when done.
   */
  private async *storedCompactionPlans(rt: CollectionRuntime, force: boolean): AsyncGenerator<{ info: SegmentInfo; seg: Segment }[]> {
    const max = this.deps.config.segmentMaxRows
    const groups = new Map<string, SegmentInfo[]>()
    for (const info of this.deps.catalog.segmentsOf(rt.info.id)) {
      if (!force && info.numRows >= max / 2) continue
      const key = `${info.shard}/${info.partitionId}`
      let g = groups.get(key)
      if (!g) groups.set(key, (g = []))
      g.push(info)
    }
    const plans: SegmentInfo[][] = []
    for (const g of groups.values()) {
      g.sort((a, b) => (a.id < b.id ? -1 : 1))
      plans.push(...packByRows(g, (x) => x.numRows, max))
    }
    // Read one plan at a time, when the caller is ready for it: memory holds one plan's rows.
    for (const infos of plans) {
      const loaded: { info: SegmentInfo; seg: Segment }[] = []
      for (const info of infos) {
        const seg = await this.readSegment(rt, info)
        rt.shards[info.shard]!.addLoadedSegment(seg)
        loaded.push({ info, seg })
      }
      // One segment without deletes has nothing to gain from a rewrite.
      if (loaded.length === 1 && loaded[0]!.seg.chunks[0]!.deletedCount === 0) {
        rt.shards[infos[0]!.shard]!.dropSegments([infos[0]!.id])
        continue
      }
      yield loaded
    }
  }

  /**
   * Groups of flushed, in-memory segments worth rewriting, per shard and partition. `force` (manual
   * compaction) rewrites any segment with deletes and packs every segment that fits.
   */
  private compactionPlans(rt: CollectionRuntime, force: boolean): { info: SegmentInfo; seg: Segment }[][] {
    const max = this.deps.config.segmentMaxRows
    const groups = new Map<string, { info: SegmentInfo; seg: Segment; live: number }[]>()
    for (const info of this.deps.catalog.segmentsOf(rt.info.id)) {
      const seg = rt.shards[info.shard]?.segments.get(info.id)
      if (!seg || seg.state !== 'flushed' || seg.chunks.length !== 1) continue
      const live = seg.numRows - seg.chunks[0]!.deletedCount
      const key = `${info.shard}/${info.partitionId}`
      let g = groups.get(key)
      if (!g) groups.set(key, (g = []))
      g.push({ info, seg, live })
    }
    const plans: { info: SegmentInfo; seg: Segment }[][] = []
    for (const g of groups.values()) {
      // Deletion-heavy segments are rewritten alone; small ones are packed together up to the size cap.
      const deleteHeavy = (x: { seg: Segment; live: number }) => (force ? x.live < x.seg.numRows : x.seg.numRows >= 100 && x.live < x.seg.numRows * 0.8)
      const small = g.filter((x) => x.live < (force ? max : max / 2)).sort((a, b) => (a.info.id < b.info.id ? -1 : 1))
      const alone = g.filter((x) => deleteHeavy(x) && !small.includes(x))
      for (const x of alone) plans.push([x])
      for (const group of packByRows(small, (x) => x.live, max)) {
        if (group.length > 1 || deleteHeavy(group[0]!)) plans.push(group)
      }
    }
    return plans
  }

  /** Drops WAL records that every shard has persisted. */
  private async truncateWal(): Promise<void> {
    let min = this.channel.appliedOffset()
    for (const rt of this.runtimes.values()) {
      for (const sh of rt.shards) if (sh.firstUnflushedOffset !== undefined && sh.firstUnflushedOffset < min) min = sh.firstUnflushedOffset
    }
    await this.ownedWal().truncate(min)
  }

  // ---------------------------------------------------------------- background

  start(): void {
    const every = Math.max(200, Math.min(this.deps.config.flushIntervalMs, this.deps.config.compactionIntervalMs, 5000))
    this.timer = setInterval(() => {
      if (Date.now() - this.lastCompactMs >= this.deps.config.compactionIntervalMs) {
        this.lastCompactMs = Date.now()
        this.compact().catch((e: unknown) => this.deps.log.error({ err: e }, 'background compaction failed'))
      }
      if (Date.now() - this.lastFlushMs < this.deps.config.flushIntervalMs) return
      if (!this.hasSealedOrOld()) return
      this.flush().catch((e: unknown) => this.deps.log.error({ err: e }, 'background flush failed'))
    }, every)
    this.timer.unref()
  }

  private hasSealedOrOld(): boolean {
    for (const rt of this.runtimes.values()) for (const sh of rt.shards) if (sh.firstUnflushedOffset !== undefined) return true
    return false
  }

  /** Sealed-by-size segments are flushed promptly rather than on the interval. */
  private maybeFlushSoon(): void {
    for (const rt of this.runtimes.values()) {
      for (const sh of rt.shards) {
        for (const seg of sh.segments.values()) {
          if (seg.state === 'sealed') {
            this.flush([rt.info.id]).catch((e: unknown) => this.deps.log.error({ err: e }, 'flush of sealed segment failed'))
            return
          }
        }
      }
    }
  }

  /**
   * A data node handing its channel to another: no flush or compaction starts here any more (the
   * next owner's commits carry its own guard, and a late one from here must not follow them), and
   * appends and flushes already under way finish before the caller closes the WAL.
   */
  async retire(): Promise<void> {
    this.retired = true
    await this.stop()
    for (let i = 0; i < 1000 && (this.channel?.pendingCount() ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 10))
    await this.flushLock.catch(() => undefined)
  }

  private retiredError(): DbError {
    return new DbError('ServiceUnavailable', `this data node handed WAL channel ${this.deps.wal?.channel ?? ''} over`)
  }

  /** The collections this replica holds (a recovering data node reconciles them with the catalog). */
  collectionIds(): bigint[] {
    return [...this.runtimes.keys()]
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.followers.size > 0) {
      for (const f of this.followers.values()) f.abort.abort()
      await Promise.all([...this.followers.values()].map((f) => f.done))
      await this.catalogLock.catch(() => undefined)
    }
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.trimmer.close()
    await this.flushLock.catch(() => undefined)
  }

  /** Segments and rows in memory by collection and state (metrics). */
  segmentStats(): { collectionId: string; state: string; segments: number; rows: number }[] {
    const out = new Map<string, { collectionId: string; state: string; segments: number; rows: number }>()
    for (const rt of this.runtimes.values()) {
      for (const sh of rt.shards) {
        for (const seg of sh.segments.values()) {
          const state = seg.state === 'growing' ? 'Growing' : seg.state === 'sealed' ? 'Sealed' : 'Flushed'
          const key = `${rt.info.id}/${state}`
          let e = out.get(key)
          if (!e) out.set(key, (e = { collectionId: rt.info.id.toString(), state, segments: 0, rows: 0 }))
          e.segments++
          e.rows += seg.numRows
        }
      }
    }
    return [...out.values()]
  }

  stats(): { collections: number; growingRows: number; walPending: number } {
    let growingRows = 0
    for (const rt of this.runtimes.values()) for (const sh of rt.shards) for (const s of sh.segments.values()) if (s.state !== 'flushed') growingRows += s.numRows
    return { collections: this.runtimes.size, growingRows, walPending: this.channel?.pendingCount() ?? 0 }
  }
}

/** Consecutive groups of `items` whose sizes sum to at most `max` (an item larger than `max` stands alone). */
function packByRows<T>(items: readonly T[], size: (x: T) => number, max: number): T[][] {
  const out: T[][] = []
  let cur: T[] = []
  let rows = 0
  for (const x of items) {
    if (rows + size(x) > max && cur.length > 0) {
      out.push(cur)
      cur = []
      rows = 0
    }
    cur.push(x)
    rows += size(x)
  }
  if (cur.length > 0) out.push(cur)
  return out
}

interface FollowerState {
  readonly reader: WalReader
  readonly abort: AbortController
  /** Offset of the next entry to apply. */
  applied: bigint
  /** Snapshot timestamp covering everything applied (and every flushed range loaded). */
  appliedTs: Timestamp
  /** A moment (hybrid ts) before which every acknowledged write is known to be applied. */
  caughtUpTs: Timestamp
  waiters: { offset: bigint; resolve(): void; reject(e: unknown): void }[]
  done: Promise<void>
  failed: Error | undefined
}

function nullColumn(field: FieldSchema, n: number): Column {
  const valid = new Uint8Array(n)
  switch (field.dataType) {
    case 'Bool':
      return { type: 'Bool', data: new Uint8Array(n), valid }
    case 'Int8':
      return { type: 'Int8', data: new Int8Array(n), valid }
    case 'Int16':
      return { type: 'Int16', data: new Int16Array(n), valid }
    case 'Int32':
      return { type: 'Int32', data: new Int32Array(n), valid }
    case 'Int64':
      return { type: 'Int64', data: new BigInt64Array(n), valid }
    case 'Float':
      return { type: 'Float', data: new Float32Array(n), valid }
    case 'Double':
      return { type: 'Double', data: new Float64Array(n), valid }
    case 'VarChar':
      return { type: 'VarChar', data: new Array<string>(n).fill(''), valid }
    case 'JSON':
      return { type: 'JSON', data: new Array(n).fill(field.isDynamic ? {} : null), valid: field.isDynamic ? undefined : valid } as Column
    case 'Array':
      return { type: 'Array', elementType: field.elementType!, data: Array.from({ length: n }, () => []), valid }
    default:
      throw new DbError('DataCorrupted', `vector field ${field.name} missing from a segment`)
  }
}

