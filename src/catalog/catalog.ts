/**
 * The catalog: typed records over the MetaStore, with the whole key layout in this file. A
 * write-through cache answers reads (DescribeCollection is on every SDK call path); every mutation
 * is one MetaStore transaction, so a crash leaves either the old or the new catalog, never a mix.
 *
 * Key layout under `root`:
 *   db/{dbId}                      DatabaseInfo
 *   collection/{collectionId}      CollectionInfo (partitions, indexes and load state inline)
 *   alias/{dbId}/{alias}           AliasInfo
 *   segment/{collectionId}/{id}    SegmentInfo (flushed segments only)
 *   deltalog/{collectionId}/{id}   DeltalogInfo
 *   checkpoint/{collectionId}/{shard}  ShardCheckpoint
 *   segment_index/{collectionId}/{segmentId}/{indexId}  SegmentIndexInfo
 *   idalloc                        next unallocated ID (decimal)
 */
import { DbError } from '../common/errors.js'
import type { Compare, MetaStore, TxnOp, Watcher, WatchEvent } from '../infra/index.js'
import { fromJson, toJson } from './codec.js'
import type { AliasInfo, CollectionInfo, DatabaseInfo, DeltalogInfo, SegmentIndexInfo, SegmentInfo, ShardCheckpoint } from './model.js'

export interface FlushCommit {
  readonly segments: readonly SegmentInfo[]
  readonly deltalogs: readonly DeltalogInfo[]
  readonly checkpoints: readonly ShardCheckpoint[]
}

const ID_BLOCK = 1_000_000n

/** What a follower's cache saw change, after applying one watch batch (one revision). */
export type CatalogChange =
  | { readonly kind: 'collection'; readonly id: bigint; readonly prev: CollectionInfo | undefined; readonly next: CollectionInfo | undefined }
  | { readonly kind: 'segment'; readonly collectionId: bigint; readonly id: bigint; readonly next: SegmentInfo | undefined }
  | { readonly kind: 'deltalog'; readonly collectionId: bigint; readonly next: DeltalogInfo }
  | { readonly kind: 'checkpoint'; readonly collectionId: bigint; readonly shard: number; readonly next: ShardCheckpoint | undefined }
  | { readonly kind: 'segment_index'; readonly collectionId: bigint; readonly segmentId: bigint; readonly indexId: bigint; readonly next: SegmentIndexInfo | undefined }
  | { readonly kind: 'other' }

/**
 * Fencing for cluster writers: a flush, compaction or index commit of these collections succeeds
 * only while the guard's compares hold (the election of their channel's owner).
 */
/** Finished manual compactions remembered for GetCompactionState. */
const COMPACTION_RECORDS = 1024

export type CommitGuard = (collectionIds: readonly bigint[]) => readonly Compare[]

export class Catalog {
  private readonly store: MetaStore
  private readonly root: string
  private readonly dbs = new Map<bigint, DatabaseInfo>()
  private readonly collections = new Map<bigint, CollectionInfo>()
  private readonly aliases = new Map<string, AliasInfo>()
  private readonly segments = new Map<bigint, Map<bigint, SegmentInfo>>()
  private readonly deltalogs = new Map<bigint, DeltalogInfo[]>()
  private readonly checkpoints = new Map<string, ShardCheckpoint>()
  private readonly segmentIndexes = new Map<bigint, SegmentIndexInfo[]>()
  private nextId = 0n
  private idCeiling = 0n
  private idLock: Promise<unknown> = Promise.resolve()
  private loadRevision = 0
  private watcher: Watcher | undefined
  private readonly syncWaiters = new Map<string, () => void>()
  private syncSeq = 0
  private guard: CommitGuard = () => []

  constructor(store: MetaStore, root = 'harrier/meta/') {
    this.store = store
    this.root = root
  }

  /** Whether a catalog under `root` holds any collection (a cluster that already has data). */
  static async hasCollections(store: MetaStore, root = 'harrier/meta/'): Promise<boolean> {
    return (await store.scan(`${root}collection/`)).length > 0
  }

  private k(...parts: (string | bigint | number)[]): string {
    return this.root + parts.map(String).join('/')
  }

  /** Data-plane commits (flush, compaction, segment indexes) also require this guard (cluster fencing). */
  setCommitGuard(guard: CommitGuard): void {
    this.guard = guard
  }

  async load(): Promise<void> {
    // Read before the scan: a follower's watch replays from here, so nothing between is missed.
    this.loadRevision = await this.store.currentRevision()
    const scan = async <T>(prefix: string): Promise<T[]> =>
      (await this.store.scan(this.k(prefix) + '/')).map((kv) => fromJson<T>(kv.value))
    for (const d of await scan<DatabaseInfo>('db')) this.dbs.set(d.id, d)
    for (const c of await scan<CollectionInfo>('collection')) this.collections.set(c.id, c)
    for (const a of await scan<AliasInfo>('alias')) this.aliases.set(`${a.dbId}/${a.alias}`, a)
    for (const s of await scan<SegmentInfo>('segment')) this.segmentMap(s.collectionId).set(s.id, s)
    for (const d of await scan<DeltalogInfo>('deltalog')) this.deltalogList(d.collectionId).push(d)
    for (const c of await scan<ShardCheckpoint>('checkpoint')) this.checkpoints.set(`${c.collectionId}/${c.shard}`, c)
    for (const i of await scan<SegmentIndexInfo>('segment_index')) this.segmentIndexList(i.collectionId).push(i)
    const alloc = await this.store.get(this.k('idalloc'))
    // Restart above the persisted ceiling: IDs between nextId and the ceiling may have been used.
    this.nextId = this.idCeiling = alloc ? BigInt(alloc.value) : 1000n
  }

  /** Unique, never reused across restarts (a block is reserved durably before any ID of it is used). */
  async allocIds(n: number): Promise<bigint> {
    const run = async (): Promise<bigint> => {
      const need = BigInt(n)
      if (this.nextId + need > this.idCeiling) {
        // Blocks are reserved by compare-and-swap, so several processes (cluster roles) sharing
        // the store never hand out the same ID.
        for (;;) {
          const cur = await this.store.get(this.k('idalloc'))
          const base = cur ? BigInt(cur.value) : 1000n
          const start = base > this.nextId ? base : this.nextId
          const ceiling = start + (need > ID_BLOCK ? need : ID_BLOCK)
          const res = await this.store.txn({
            compare: [{ key: this.k('idalloc'), target: 'modRevision', op: '=', value: cur?.modRevision ?? 0 }],
            success: [{ type: 'put', key: this.k('idalloc'), value: ceiling.toString() }],
          })
          if (!res.succeeded) continue
          this.nextId = start
          this.idCeiling = ceiling
          break
        }
      }
      const start = this.nextId
      this.nextId += need
      return start
    }
    const p = this.idLock.then(run, run)
    this.idLock = p.catch(() => undefined)
    return p
  }

  // ---- databases
  listDatabases(): DatabaseInfo[] {
    return [...this.dbs.values()].sort((a, b) => (a.id < b.id ? -1 : 1))
  }
  databaseByName(name: string): DatabaseInfo | undefined {
    for (const d of this.dbs.values()) if (d.name === name) return d
    return undefined
  }
  async putDatabase(db: DatabaseInfo): Promise<void> {
    await this.store.put(this.k('db', db.id), toJson(db))
    this.dbs.set(db.id, db)
  }
  async dropDatabase(id: bigint): Promise<void> {
    await this.store.delete(this.k('db', id))
    this.dbs.delete(id)
  }

  // ---- collections
  collection(id: bigint): CollectionInfo | undefined {
    return this.collections.get(id)
  }
  collectionsOf(dbId: bigint): CollectionInfo[] {
    return [...this.collections.values()].filter((c) => c.dbId === dbId).sort((a, b) => (a.id < b.id ? -1 : 1))
  }
  allCollections(): CollectionInfo[] {
    return [...this.collections.values()]
  }
  collectionByName(dbId: bigint, name: string): CollectionInfo | undefined {
    for (const c of this.collections.values()) if (c.dbId === dbId && c.name === name) return c
    return undefined
  }
  async putCollection(c: CollectionInfo): Promise<void> {
    await this.store.put(this.k('collection', c.id), toJson(c))
    this.collections.set(c.id, c)
  }

  /** Removes the collection with its aliases, segment records, deltalogs and checkpoints in one txn. */
  async dropCollection(id: bigint): Promise<{ segments: SegmentInfo[]; deltalogs: DeltalogInfo[]; segmentIndexes: SegmentIndexInfo[] }> {
    const ops: TxnOp[] = [
      { type: 'deletePrefix', prefix: this.k('segment_index', id) + '/' },
      { type: 'delete', key: this.k('collection', id) },
      { type: 'deletePrefix', prefix: this.k('segment', id) + '/' },
      { type: 'deletePrefix', prefix: this.k('deltalog', id) + '/' },
      { type: 'deletePrefix', prefix: this.k('checkpoint', id) + '/' },
    ]
    const aliases = [...this.aliases.values()].filter((a) => a.collectionId === id)
    for (const a of aliases) ops.push({ type: 'delete', key: this.k('alias', a.dbId, a.alias) })
    await this.store.txn({ compare: [], success: ops })
    const segments = [...(this.segments.get(id)?.values() ?? [])]
    const deltalogs = this.deltalogs.get(id) ?? []
    const segmentIndexes = this.segmentIndexes.get(id) ?? []
    this.segmentIndexes.delete(id)
    this.collections.delete(id)
    this.segments.delete(id)
    this.deltalogs.delete(id)
    for (const a of aliases) this.aliases.delete(`${a.dbId}/${a.alias}`)
    for (const key of [...this.checkpoints.keys()]) if (key.startsWith(`${id}/`)) this.checkpoints.delete(key)
    return { segments, deltalogs, segmentIndexes }
  }

  // ---- aliases
  alias(dbId: bigint, alias: string): AliasInfo | undefined {
    return this.aliases.get(`${dbId}/${alias}`)
  }
  aliasesOf(dbId: bigint, collectionId?: bigint): AliasInfo[] {
    return [...this.aliases.values()]
      .filter((a) => a.dbId === dbId && (collectionId === undefined || a.collectionId === collectionId))
      .sort((a, b) => (a.alias < b.alias ? -1 : 1))
  }
  async putAlias(a: AliasInfo): Promise<void> {
    await this.store.put(this.k('alias', a.dbId, a.alias), toJson(a))
    this.aliases.set(`${a.dbId}/${a.alias}`, a)
  }
  async dropAlias(dbId: bigint, alias: string): Promise<void> {
    await this.store.delete(this.k('alias', dbId, alias))
    this.aliases.delete(`${dbId}/${alias}`)
  }

  // ---- segments and checkpoints
  segmentsOf(collectionId: bigint): SegmentInfo[] {
    return [...(this.segments.get(collectionId)?.values() ?? [])]
  }
  deltalogsOf(collectionId: bigint): DeltalogInfo[] {
    return [...(this.deltalogs.get(collectionId) ?? [])]
  }
  checkpoint(collectionId: bigint, shard: number): ShardCheckpoint | undefined {
    return this.checkpoints.get(`${collectionId}/${shard}`)
  }

  /** The flush commit: new segments, deltalogs and advanced checkpoints become visible atomically. */
  async commitFlush(c: FlushCommit): Promise<void> {
    const ops: TxnOp[] = []
    for (const s of c.segments) ops.push({ type: 'put', key: this.k('segment', s.collectionId, s.id), value: toJson(s) })
    for (const d of c.deltalogs) ops.push({ type: 'put', key: this.k('deltalog', d.collectionId, d.id), value: toJson(d) })
    for (const p of c.checkpoints) ops.push({ type: 'put', key: this.k('checkpoint', p.collectionId, p.shard), value: toJson(p) })
    if (ops.length === 0) return
    // A collection dropped while its flush was writing files must not be resurrected by the commit.
    const live = [...new Set([...c.segments, ...c.deltalogs, ...c.checkpoints].map((x) => x.collectionId))]
    const fence = this.guard(live)
    const res = await this.store.txn({
      compare: [...live.map((id) => ({ key: this.k('collection', id), target: 'version' as const, op: '>' as const, value: 0 })), ...fence],
      success: ops,
    })
    if (!res.succeeded) {
      if (fence.length > 0 && !(await this.store.txn({ compare: fence, success: [] })).succeeded) throw new DbError('ChannelFenced', 'this node no longer owns the channel; flush abandoned')
      throw new DbError('CollectionNotFound', 'collection dropped during flush')
    }
    for (const s of c.segments) this.segmentMap(s.collectionId).set(s.id, s)
    for (const d of c.deltalogs) this.deltalogList(d.collectionId).push(d)
    for (const p of c.checkpoints) this.checkpoints.set(`${p.collectionId}/${p.shard}`, p)
  }

  /**
   * The compaction commit: the merged segment replaces its sources (and their built indexes) in one
   * transaction. Returns the index records that became garbage, for file cleanup.
   */
  async commitCompaction(collectionId: bigint, removed: readonly SegmentInfo[], added: SegmentInfo | undefined): Promise<SegmentIndexInfo[]> {
    const gone = new Set(removed.map((s) => s.id))
    const staleIndexes = (this.segmentIndexes.get(collectionId) ?? []).filter((i) => gone.has(i.segmentId))
    const ops: TxnOp[] = [
      ...removed.map((s) => ({ type: 'delete' as const, key: this.k('segment', s.collectionId, s.id) })),
      ...staleIndexes.map((i) => ({ type: 'delete' as const, key: this.k('segment_index', i.collectionId, i.segmentId, i.indexId) })),
      ...(added ? [{ type: 'put' as const, key: this.k('segment', collectionId, added.id), value: toJson(added) }] : []),
    ]
    const res = await this.store.txn({
      compare: [
        { key: this.k('collection', collectionId), target: 'version', op: '>', value: 0 },
        // Every source must still be there: a concurrent drop or compaction wins, this one retries later.
        ...removed.map((s) => ({ key: this.k('segment', s.collectionId, s.id), target: 'version' as const, op: '>' as const, value: 0 })),
        ...this.guard([collectionId]),
      ],
      success: ops,
    })
    if (!res.succeeded) throw new DbError('SegmentNotFound', 'a compaction source changed during compaction')
    const map = this.segmentMap(collectionId)
    for (const s of removed) map.delete(s.id)
    if (added) map.set(added.id, added)
    this.segmentIndexes.set(collectionId, (this.segmentIndexes.get(collectionId) ?? []).filter((i) => !gone.has(i.segmentId)))
    return staleIndexes
  }

  // ---- following (cluster roles keep their cache fresh from the store's watch)

  /**
   * Keeps this cache in step with writes made by other processes: every event since load() is
   * applied in revision order, then `onChanges` hears what changed. Idempotent with this process's
   * own write-through updates.
   */
  follow(onChanges: (changes: CatalogChange[]) => void): void {
    if (this.watcher) throw new DbError('ServiceInternal', 'catalog already follows its store')
    this.watcher = this.store.watch(this.root, { fromRevision: this.loadRevision }, (events) => {
      const changes = events.map((e) => this.applyEvent(e))
      onChanges(changes)
    })
  }

  /**
   * Waits until this cache has seen every write committed before the call (read-your-writes
   * across processes): writes a marker key under the watched prefix and waits for its event.
   */
  async sync(timeoutMs = 10_000): Promise<void> {
    if (!this.watcher) return
    const key = this.k('sync', `${process.pid}-${++this.syncSeq}-${Date.now()}`)
    const seen = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.syncWaiters.delete(key)
        reject(new DbError('ServiceUnavailable', 'catalog watch is lagging'))
      }, timeoutMs)
      this.syncWaiters.set(key, () => {
        clearTimeout(t)
        resolve()
      })
    })
    await this.store.put(key, '1')
    await seen
    await this.store.delete(key).catch(() => undefined)
  }

  stopFollowing(): void {
    this.watcher?.cancel()
    this.watcher = undefined
  }

  private applyEvent(e: WatchEvent): CatalogChange {
    const rel = e.kv.key.slice(this.root.length).split('/')
    const put = e.type === 'put'
    const [kind, a, b, c] = rel
    switch (kind) {
      case 'db': {
        if (put) {
          const d = fromJson<DatabaseInfo>(e.kv.value)
          this.dbs.set(d.id, d)
        } else this.dbs.delete(BigInt(a!))
        return { kind: 'other' }
      }
      case 'collection': {
        const id = BigInt(a!)
        const prev = this.collections.get(id)
        if (put) {
          const next = fromJson<CollectionInfo>(e.kv.value)
          this.collections.set(id, next)
          return { kind: 'collection', id, prev, next }
        }
        this.collections.delete(id)
        return { kind: 'collection', id, prev, next: undefined }
      }
      case 'alias': {
        if (put) {
          const al = fromJson<AliasInfo>(e.kv.value)
          this.aliases.set(`${al.dbId}/${al.alias}`, al)
        } else this.aliases.delete(`${a}/${rel.slice(2).join('/')}`)
        return { kind: 'other' }
      }
      case 'segment': {
        const collectionId = BigInt(a!)
        const id = BigInt(b!)
        if (put) {
          const next = fromJson<SegmentInfo>(e.kv.value)
          this.segmentMap(collectionId).set(id, next)
          return { kind: 'segment', collectionId, id, next }
        }
        this.segments.get(collectionId)?.delete(id)
        return { kind: 'segment', collectionId, id, next: undefined }
      }
      case 'deltalog': {
        if (!put) return { kind: 'other' }
        const next = fromJson<DeltalogInfo>(e.kv.value)
        const list = this.deltalogList(next.collectionId)
        if (!list.some((d) => d.id === next.id)) list.push(next)
        return { kind: 'deltalog', collectionId: next.collectionId, next }
      }
      case 'checkpoint': {
        const collectionId = BigInt(a!)
        const shard = Number(b)
        if (put) {
          const next = fromJson<ShardCheckpoint>(e.kv.value)
          this.checkpoints.set(`${collectionId}/${shard}`, next)
          return { kind: 'checkpoint', collectionId, shard, next }
        }
        this.checkpoints.delete(`${collectionId}/${shard}`)
        return { kind: 'checkpoint', collectionId, shard, next: undefined }
      }
      case 'segment_index': {
        const collectionId = BigInt(a!)
        const segmentId = BigInt(b!)
        const indexId = BigInt(c!)
        const list = this.segmentIndexList(collectionId)
        const at = list.findIndex((x) => x.segmentId === segmentId && x.indexId === indexId)
        if (put) {
          const next = fromJson<SegmentIndexInfo>(e.kv.value)
          if (at >= 0) list[at] = next
          else list.push(next)
          return { kind: 'segment_index', collectionId, segmentId, indexId, next }
        }
        if (at >= 0) list.splice(at, 1)
        return { kind: 'segment_index', collectionId, segmentId, indexId, next: undefined }
      }
      case 'sync': {
        if (put) this.syncWaiters.get(e.kv.key)?.()
        this.syncWaiters.delete(e.kv.key)
        return { kind: 'other' }
      }
      default:
        return { kind: 'other' }
    }
  }

  // ---- manual compactions

  /**
   * A finished manual compaction (its plan count), so GetCompactionState can be answered by any
   * process, also after the one that ran it is gone. The newest COMPACTION_RECORDS are kept.
   */
  async recordCompaction(id: bigint, plans: number): Promise<void> {
    await this.store.put(this.k('compaction', id), JSON.stringify({ plans }))
    const all = await this.store.scan(this.k('compaction') + '/')
    if (all.length <= COMPACTION_RECORDS) return
    const idOf = (key: string) => BigInt(key.slice(key.lastIndexOf('/') + 1))
    const oldest = all.sort((a, b) => (idOf(a.key) < idOf(b.key) ? -1 : 1)).slice(0, all.length - COMPACTION_RECORDS)
    for (const kv of oldest) await this.store.delete(kv.key)
  }

  async compactionResult(id: bigint): Promise<number | undefined> {
    const kv = await this.store.get(this.k('compaction', id))
    return kv ? (JSON.parse(kv.value) as { plans: number }).plans : undefined
  }

  // ---- segment indexes

  segmentIndexesOf(collectionId: bigint): SegmentIndexInfo[] {
    return [...(this.segmentIndexes.get(collectionId) ?? [])]
  }

  /**
   * Records a built index; refused (false) when the collection, the index or the segment (compacted
   * away while the build ran) is gone.
   */
  async putSegmentIndex(info: SegmentIndexInfo): Promise<boolean> {
    const c = this.collections.get(info.collectionId)
    if (!c || !c.indexes.some((i) => i.id === info.indexId)) return false
    const res = await this.store.txn({
      compare: [
        { key: this.k('collection', info.collectionId), target: 'version', op: '>', value: 0 },
        { key: this.k('segment', info.collectionId, info.segmentId), target: 'version', op: '>', value: 0 },
        ...this.guard([info.collectionId]),
      ],
      success: [{ type: 'put', key: this.k('segment_index', info.collectionId, info.segmentId, info.indexId), value: toJson(info) }],
    })
    if (!res.succeeded) return false
    const list = this.segmentIndexList(info.collectionId)
    const at = list.findIndex((x) => x.segmentId === info.segmentId && x.indexId === info.indexId)
    if (at >= 0) list[at] = info
    else list.push(info)
    return true
  }

  /** Forgets every segment's build of one index (DropIndex); returns them for file cleanup. */
  async dropSegmentIndexes(collectionId: bigint, indexId: bigint): Promise<SegmentIndexInfo[]> {
    const victims = (this.segmentIndexes.get(collectionId) ?? []).filter((x) => x.indexId === indexId)
    if (victims.length === 0) return []
    await this.store.txn({
      compare: [],
      success: victims.map((v) => ({ type: 'delete' as const, key: this.k('segment_index', v.collectionId, v.segmentId, v.indexId) })),
    })
    this.segmentIndexes.set(collectionId, (this.segmentIndexes.get(collectionId) ?? []).filter((x) => x.indexId !== indexId))
    return victims
  }

  private segmentIndexList(collectionId: bigint): SegmentIndexInfo[] {
    let l = this.segmentIndexes.get(collectionId)
    if (!l) this.segmentIndexes.set(collectionId, (l = []))
    return l
  }

  private segmentMap(collectionId: bigint): Map<bigint, SegmentInfo> {
    let m = this.segments.get(collectionId)
    if (!m) this.segments.set(collectionId, (m = new Map()))
    return m
  }
  private deltalogList(collectionId: bigint): DeltalogInfo[] {
    let l = this.deltalogs.get(collectionId)
    if (!l) this.deltalogs.set(collectionId, (l = []))
    return l
  }
}
