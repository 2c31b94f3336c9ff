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
import type { MetaStore, TxnOp } from '../infra/index.js'
import { fromJson, toJson } from './codec.js'
import type { AliasInfo, CollectionInfo, DatabaseInfo, DeltalogInfo, SegmentIndexInfo, SegmentInfo, ShardCheckpoint } from './model.js'

export interface FlushCommit {
  readonly segments: readonly SegmentInfo[]
  readonly deltalogs: readonly DeltalogInfo[]
  readonly checkpoints: readonly ShardCheckpoint[]
}

const ID_BLOCK = 1_000_000n

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

  constructor(store: MetaStore, root = 'harrier/meta/') {
    this.store = store
    this.root = root
  }

  private k(...parts: (string | bigint | number)[]): string {
    return this.root + parts.map(String).join('/')
  }

  async load(): Promise<void> {
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
        const ceiling = this.nextId + (need > ID_BLOCK ? need : ID_BLOCK)
        await this.store.put(this.k('idalloc'), ceiling.toString())
        this.idCeiling = ceiling
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
    const res = await this.store.txn({
      compare: live.map((id) => ({ key: this.k('collection', id), target: 'version', op: '>', value: 0 })),
      success: ops,
    })
    if (!res.succeeded) throw new DbError('CollectionNotFound', 'collection dropped during flush')
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
