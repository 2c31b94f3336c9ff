/**
 * DDL and metadata: databases, collections, partitions, aliases, indexes and load state. Every
 * mutation runs under one lock (DDL is rare, and serialising it makes concurrent CreateCollection
 * of one name deterministic), commits to the catalog first and then tells the data plane.
 */
import type { Catalog } from '../catalog/catalog.js'
import type { CollectionInfo, ConsistencyLevel, DatabaseInfo, DeltalogInfo, IndexInfo, PartitionInfo, SegmentIndexInfo, SegmentInfo } from '../catalog/model.js'
import { DbError, invalid } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import type { TsoAllocator } from '../common/tso.js'
import { normalizeMetric } from '../index/index.js'
import { isVectorType, type CollectionSchema, type VectorTypeName } from '../schema/types.js'
import { checkIndexType } from './index-types.js'
import { validateName } from './names.js'

export const DEFAULT_DB = 'default'
export const DEFAULT_PARTITION = '_default'
const MAX_DATABASES = 64
const MAX_COLLECTIONS = 65536
const MAX_PARTITIONS = 1024
const MAX_SHARDS = 16

/**
 * What DDL sets in motion outside the catalog. Standalone hands it to the in-process data plane
 * and index service; cluster coordinators leave the data side to the nodes (which follow the
 * catalog) and only wait for query nodes or collect garbage.
 */
export interface CoordHooks {
  addCollection(info: CollectionInfo): void
  updateCollection(info: CollectionInfo): void
  dropCollection(id: bigint, files: { segments: SegmentInfo[]; deltalogs: DeltalogInfo[]; segmentIndexes: SegmentIndexInfo[] }): void
  /** Before the catalog says "loaded" (standalone: read the segments). */
  load(collectionId: bigint): Promise<void>
  /** After the catalog says "loaded" (cluster: until every query node serves it). */
  loaded(info: CollectionInfo): Promise<void>
  release(collectionId: bigint): void
  /** How many replicas a load may ask for. */
  queryNodes(): { count: number; standalone: boolean }
  schedule(): void
  dropIndex(collectionId: bigint, index: IndexInfo): Promise<void>
}

export interface CreateCollectionArgs {
  readonly db: string
  readonly name: string
  readonly schema: CollectionSchema
  readonly shardsNum: number
  readonly consistencyLevel: ConsistencyLevel
  readonly properties: Readonly<Record<string, string>>
  readonly numPartitions: number
}

export interface CreateIndexArgs {
  readonly fieldName: string
  readonly indexName: string
  readonly indexType: string
  readonly metricType: string
  readonly params: Readonly<Record<string, string>>
}

export type LoadState = 'LoadStateNotExist' | 'LoadStateNotLoad' | 'LoadStateLoading' | 'LoadStateLoaded'

export class RootCoord {
  private readonly catalog: Catalog
  private readonly data: CoordHooks
  private readonly tso: TsoAllocator
  private readonly log: Logger
  private lock: Promise<unknown> = Promise.resolve()

  private readonly indexes: CoordHooks

  constructor(deps: { catalog: Catalog; hooks: CoordHooks; tso: TsoAllocator; log: Logger }) {
    this.catalog = deps.catalog
    this.data = deps.hooks
    this.indexes = deps.hooks
    this.tso = deps.tso
    this.log = deps.log
  }

  /** Creates the `default` database on first start. */
  async bootstrap(): Promise<void> {
    if (!this.catalog.databaseByName(DEFAULT_DB)) {
      await this.catalog.putDatabase({ id: 1n, name: DEFAULT_DB, createdTs: this.tso.next(), properties: {} })
    }
  }

  private ddl<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.lock.then(fn, fn)
    this.lock = p.catch(() => undefined)
    return p
  }

  /** Reserves `n` consecutive IDs (autoID primary keys). */
  allocIds(n: number): Promise<bigint> {
    return this.catalog.allocIds(n)
  }

  /** Finished manual compactions, readable by every process (GetCompactionState). */
  recordCompaction(id: bigint, plans: number): Promise<void> {
    return this.catalog.recordCompaction(id, plans)
  }

  compactionResult(id: bigint): Promise<number | undefined> {
    return this.catalog.compactionResult(id)
  }

  // ------------------------------------------------------------ databases

  database(name: string): DatabaseInfo {
    const db = this.catalog.databaseByName(name || DEFAULT_DB)
    if (!db) throw new DbError('DatabaseNotFound', `database=${name}`)
    return db
  }

  listDatabases(): DatabaseInfo[] {
    return this.catalog.listDatabases()
  }

  createDatabase(name: string, properties: Record<string, string>): Promise<void> {
    return this.ddl(async () => {
      validateName('database', name)
      if (this.catalog.databaseByName(name)) throw invalid(`database already exist: ${name}`)
      if (this.catalog.listDatabases().length >= MAX_DATABASES) {
        throw new DbError('DatabaseNumLimitExceeded', `limit=${MAX_DATABASES}`)
      }
      const id = await this.catalog.allocIds(1)
      await this.catalog.putDatabase({ id, name, createdTs: this.tso.next(), properties })
    })
  }

  dropDatabase(name: string): Promise<void> {
    return this.ddl(async () => {
      if (name === DEFAULT_DB) throw invalid('can not drop default database')
      const db = this.catalog.databaseByName(name)
      if (!db) return // Milvus treats dropping a missing database as done
      if (this.catalog.collectionsOf(db.id).length > 0) {
        throw invalid(`database:${name} not empty, must drop all collections before drop database`)
      }
      await this.catalog.dropDatabase(db.id)
    })
  }

  alterDatabase(name: string, props: Record<string, string>, deleteKeys: readonly string[]): Promise<void> {
    return this.ddl(async () => {
      const db = this.database(name)
      const properties = { ...db.properties, ...props }
      for (const k of deleteKeys) delete properties[k]
      await this.catalog.putDatabase({ ...db, properties })
    })
  }

  // ------------------------------------------------------------ collections

  /** Resolves a collection name or alias within a database. */
  collection(dbName: string, name: string): CollectionInfo {
    const db = this.database(dbName)
    const c = this.catalog.collectionByName(db.id, name)
    if (c) return c
    const alias = this.catalog.alias(db.id, name)
    const viaAlias = alias ? this.catalog.collection(alias.collectionId) : undefined
    if (viaAlias) return viaAlias
    throw new DbError('CollectionNotFound', `collection=${name}`)
  }

  collectionById(id: bigint): CollectionInfo {
    const c = this.catalog.collection(id)
    if (!c) throw new DbError('CollectionNotFound', `collectionID=${id}`)
    return c
  }

  hasCollection(dbName: string, name: string): boolean {
    const db = this.database(dbName)
    return this.catalog.collectionByName(db.id, name) !== undefined || this.catalog.alias(db.id, name) !== undefined
  }

  listCollections(dbName: string): CollectionInfo[] {
    return this.catalog.collectionsOf(this.database(dbName).id)
  }

  aliasesOf(c: CollectionInfo): string[] {
    return this.catalog.aliasesOf(c.dbId, c.id).map((a) => a.alias)
  }

  createCollection(a: CreateCollectionArgs): Promise<CollectionInfo> {
    return this.ddl(async () => {
      validateName('collection', a.name)
      const db = this.database(a.db)
      const existing = this.catalog.collectionByName(db.id, a.name)
      if (existing) {
        // Milvus accepts a repeated create with an identical schema (idempotent retries).
        if (JSON.stringify(existing.schema, bigintSafe) === JSON.stringify({ ...a.schema, name: a.name }, bigintSafe)) return existing
        throw invalid(`collection name [${a.name}] already exists with a different schema`)
      }
      if (this.catalog.alias(db.id, a.name)) throw invalid(`collection name [${a.name}] conflicts with an existing alias`)
      if (this.catalog.allCollections().length >= MAX_COLLECTIONS) throw new DbError('CollectionNumLimitExceeded', `limit=${MAX_COLLECTIONS}`)
      const shardsNum = a.shardsNum <= 0 ? 1 : a.shardsNum
      if (shardsNum > MAX_SHARDS) throw invalid(`maximum shards's number should be limited to ${MAX_SHARDS}`)
      const hasPartitionKey = a.schema.fields.some((f) => f.isPartitionKey)
      const numPartitions = hasPartitionKey ? (a.numPartitions > 0 ? a.numPartitions : 16) : 0
      if (numPartitions > MAX_PARTITIONS) throw invalid(`partition number (${numPartitions}) exceeds max configuration (${MAX_PARTITIONS})`)
      const ts = this.tso.next()
      const id = await this.catalog.allocIds(1 + Math.max(1, numPartitions))
      const partitions: PartitionInfo[] = hasPartitionKey
        ? Array.from({ length: numPartitions }, (_, i) => ({ id: id + 1n + BigInt(i), name: `${DEFAULT_PARTITION}_${i}`, createdTs: ts }))
        : [{ id: id + 1n, name: DEFAULT_PARTITION, createdTs: ts }]
      const info: CollectionInfo = {
        id,
        dbId: db.id,
        name: a.name,
        schema: { ...a.schema, name: a.name },
        shardsNum,
        consistencyLevel: a.consistencyLevel,
        properties: a.properties,
        createdTs: ts,
        updateTs: ts,
        partitions,
        indexes: [],
        numPartitions,
      }
      await this.catalog.putCollection(info)
      this.data.addCollection(info)
      this.log.info({ collection: a.name, id: id.toString(), db: db.name }, 'collection created')
      return info
    })
  }

  dropCollection(dbName: string, name: string): Promise<void> {
    return this.ddl(async () => {
      const db = this.database(dbName)
      const c = this.catalog.collectionByName(db.id, name)
      if (!c) {
        if (this.catalog.alias(db.id, name)) throw invalid(`cannot drop the collection via alias = ${name}`)
        return
      }
      const files = await this.catalog.dropCollection(c.id)
      this.data.dropCollection(c.id, files)
      this.log.info({ collection: name, id: c.id.toString() }, 'collection dropped')
    })
  }

  renameCollection(dbName: string, oldName: string, newName: string, newDbName: string): Promise<void> {
    return this.ddl(async () => {
      validateName('collection', newName)
      const db = this.database(dbName)
      const c = this.catalog.collectionByName(db.id, oldName)
      if (!c) throw new DbError('CollectionNotFound', `collection=${oldName}`)
      const target = newDbName ? this.database(newDbName) : db
      if (this.catalog.collectionByName(target.id, newName) || this.catalog.alias(target.id, newName)) {
        throw invalid(`duplicated new collection name ${newName} in database ${target.name}`)
      }
      if (target.id !== db.id && this.catalog.aliasesOf(db.id, c.id).length > 0) {
        throw invalid('fail to rename collection across databases while it has aliases; drop them first')
      }
      await this.update(c, { name: newName, dbId: target.id, schema: { ...c.schema, name: newName } })
    })
  }

  alterCollection(c: CollectionInfo, props: Record<string, string>, deleteKeys: readonly string[]): Promise<void> {
    return this.ddl(async () => {
      const cur = this.collectionById(c.id)
      const properties = { ...cur.properties, ...props }
      for (const k of deleteKeys) delete properties[k]
      await this.update(cur, { properties })
    })
  }

  private async update(c: CollectionInfo, patch: Partial<CollectionInfo>): Promise<CollectionInfo> {
    const next: CollectionInfo = { ...c, ...patch, updateTs: this.tso.next() }
    await this.catalog.putCollection(next)
    this.data.updateCollection(next)
    return next
  }

  // ------------------------------------------------------------ partitions

  partition(c: CollectionInfo, name: string): PartitionInfo {
    const p = c.partitions.find((x) => x.name === name)
    if (!p) throw new DbError('PartitionNotFound', `partition=${name}`)
    return p
  }

  createPartition(c: CollectionInfo, name: string): Promise<void> {
    return this.ddl(async () => {
      const cur = this.collectionById(c.id)
      if (cur.schema.fields.some((f) => f.isPartitionKey)) throw invalid('disable create partition if partition key mode is used')
      validateName('partition', name)
      if (cur.partitions.some((p) => p.name === name)) return // idempotent, as in Milvus
      if (cur.partitions.length >= MAX_PARTITIONS) throw invalid(`partition number (${cur.partitions.length}) exceeds max configuration (${MAX_PARTITIONS})`)
      const id = await this.catalog.allocIds(1)
      await this.update(cur, { partitions: [...cur.partitions, { id, name, createdTs: this.tso.next() }] })
    })
  }

  dropPartition(c: CollectionInfo, name: string): Promise<void> {
    return this.ddl(async () => {
      const cur = this.collectionById(c.id)
      if (cur.schema.fields.some((f) => f.isPartitionKey)) throw invalid('disable drop partition if partition key mode is used')
      if (name === DEFAULT_PARTITION) throw invalid('default partition cannot be deleted')
      const p = cur.partitions.find((x) => x.name === name)
      if (!p) return
      if (this.partitionLoaded(cur, p.id)) throw invalid('partition cannot be dropped, partition is loaded, please release it first')
      await this.update(cur, { partitions: cur.partitions.filter((x) => x.id !== p.id) })
    })
  }

  partitionLoaded(c: CollectionInfo, id: bigint): boolean {
    if (!c.load) return false
    return c.load.partitionIds === undefined || c.load.partitionIds.includes(id)
  }

  // ------------------------------------------------------------ aliases

  createAlias(dbName: string, collection: string, alias: string): Promise<void> {
    return this.ddl(async () => {
      validateName('alias', alias)
      const db = this.database(dbName)
      const c = this.catalog.collectionByName(db.id, collection)
      if (!c) throw new DbError('CollectionNotFound', `collection=${collection}`)
      if (this.catalog.collectionByName(db.id, alias)) throw new DbError('AliasCollectionNameConflict', `alias=${alias}`)
      const cur = this.catalog.alias(db.id, alias)
      if (cur) {
        if (cur.collectionId === c.id) return
        throw new DbError('AliasAlreadyExist', `alias ${alias} is already used by another collection`)
      }
      await this.catalog.putAlias({ dbId: db.id, alias, collectionId: c.id, createdTs: this.tso.next() })
    })
  }

  alterAlias(dbName: string, collection: string, alias: string): Promise<void> {
    return this.ddl(async () => {
      const db = this.database(dbName)
      const c = this.catalog.collectionByName(db.id, collection)
      if (!c) throw new DbError('CollectionNotFound', `collection=${collection}`)
      const cur = this.catalog.alias(db.id, alias)
      if (!cur) throw new DbError('AliasNotFound', `alias=${alias}`)
      await this.catalog.putAlias({ ...cur, collectionId: c.id })
    })
  }

  dropAlias(dbName: string, alias: string): Promise<void> {
    return this.ddl(async () => {
      const db = this.database(dbName)
      if (!this.catalog.alias(db.id, alias)) return
      await this.catalog.dropAlias(db.id, alias)
    })
  }

  describeAlias(dbName: string, alias: string): { alias: string; collection: string; db: string } {
    const db = this.database(dbName)
    const a = this.catalog.alias(db.id, alias)
    const c = a ? this.catalog.collection(a.collectionId) : undefined
    if (!a || !c) throw new DbError('AliasNotFound', `alias=${alias}`)
    return { alias, collection: c.name, db: db.name }
  }

  listAliases(dbName: string, collection?: string): string[] {
    const db = this.database(dbName)
    const c = collection ? this.collection(dbName, collection) : undefined
    return this.catalog.aliasesOf(db.id, c?.id).map((a) => a.alias)
  }

  // ------------------------------------------------------------ indexes

  createIndex(c: CollectionInfo, a: CreateIndexArgs): Promise<void> {
    return this.ddl(async () => {
      const cur = this.collectionById(c.id)
      const field = cur.schema.fields.find((f) => f.name === a.fieldName && !f.isDynamic)
      if (!field) throw new DbError('FieldNotFound', `cannot create index on non-exist field: ${a.fieldName}`)
      const indexType = checkIndexType(field.dataType, field.name, a.indexType)
      let metricType = ''
      if (isVectorType(field.dataType)) metricType = normalizeMetric(a.metricType || undefined, field.dataType as VectorTypeName)
      else if (a.metricType) throw invalid(`metric type is not allowed for scalar index on field ${field.name}`)
      const indexName = a.indexName || field.name
      validateName('index', indexName)
      const same = cur.indexes.find((i) => i.fieldId === field.fieldId)
      if (same) {
        if (same.indexType === indexType && same.metricType === metricType && (!a.indexName || same.name === indexName)) return
        throw invalid('at most one distinct index is allowed per field')
      }
      if (cur.indexes.some((i) => i.name === indexName)) throw invalid(`index name ${indexName} is already used by another field`)
      const id = await this.catalog.allocIds(1)
      const index: IndexInfo = { id, name: indexName, fieldName: field.name, fieldId: field.fieldId, indexType, metricType, params: a.params, createdTs: this.tso.next() }
      await this.update(cur, { indexes: [...cur.indexes, index] })
      this.indexes.schedule()
    })
  }

  /** Indexes matching the filters; IndexNotFound when none does. */
  findIndexes(c: CollectionInfo, fieldName: string, indexName: string): IndexInfo[] {
    const out = c.indexes.filter((i) => (!fieldName || i.fieldName === fieldName) && (!indexName || i.name === indexName))
    if (out.length === 0) throw new DbError('IndexNotFound', `index not found[collection=${c.name}]`)
    return out
  }

  dropIndex(c: CollectionInfo, fieldName: string, indexName: string): Promise<void> {
    return this.ddl(async () => {
      const cur = this.collectionById(c.id)
      const matches = cur.indexes.filter((i) => (!fieldName || i.fieldName === fieldName) && (!indexName || i.name === indexName))
      if (matches.length === 0) return // Milvus: dropping a missing index succeeds
      if (matches.length > 1) throw invalid('there are multiple indexes, please specify the index_name')
      const victim = matches[0]!
      const field = cur.schema.fields.find((f) => f.fieldId === victim.fieldId)
      if (cur.load && field && isVectorType(field.dataType)) {
        throw invalid(`index cannot be dropped, collection is loaded, please release it first`)
      }
      await this.update(cur, { indexes: cur.indexes.filter((i) => i.id !== victim.id) })
      await this.indexes.dropIndex(cur.id, victim)
    })
  }

  // ------------------------------------------------------------ load / release

  load(c: CollectionInfo, replicaNumber: number, partitionNames?: readonly string[], loadFields?: readonly string[]): Promise<void> {
    return this.ddl(async () => {
      const cur = this.collectionById(c.id)
      for (const f of cur.schema.fields) {
        if (isVectorType(f.dataType) && !cur.indexes.some((i) => i.fieldId === f.fieldId)) {
          throw new DbError('IndexNotFound', `there is no vector index on field: [${f.name}], please create index firstly`)
        }
      }
      if (loadFields && loadFields.length > 0) {
        for (const n of loadFields) if (!cur.schema.fields.some((f) => f.name === n && !f.isDynamic)) throw new DbError('FieldNotFound', `load field ${n} not exist`)
        const pk = cur.schema.fields.find((f) => f.isPrimaryKey)!
        if (!loadFields.includes(pk.name)) throw invalid(`load field list ${JSON.stringify(loadFields)} must include the primary key field ${pk.name}`)
        if (!cur.schema.fields.some((f) => isVectorType(f.dataType) && loadFields.includes(f.name))) throw invalid('load field list must include at least one vector field')
        const pkey = cur.schema.fields.find((f) => f.isPartitionKey)
        if (pkey && !loadFields.includes(pkey.name)) throw invalid(`load field list must include the partition key field ${pkey.name}`)
      }
      const nodes = this.data.queryNodes()
      if (replicaNumber > nodes.count) throw invalid(`replica number ${replicaNumber} exceeds the number of query nodes (${nodes.count})${nodes.standalone ? ' in standalone mode' : ''}`)
      let partitionIds: bigint[] | undefined
      if (partitionNames && partitionNames.length > 0) {
        if (cur.schema.fields.some((f) => f.isPartitionKey)) throw invalid('disable load partitions if partition key mode is used')
        const ids = partitionNames.map((n) => this.partition(cur, n).id)
        const prev = cur.load ? (cur.load.partitionIds ?? cur.partitions.map((p) => p.id)) : []
        partitionIds = [...new Set([...prev, ...ids])]
        if (partitionIds.length === cur.partitions.length) partitionIds = undefined
      }
      await this.data.load(cur.id)
      const next = await this.update(cur, { load: { replicaNumber: Math.max(1, replicaNumber), partitionIds, loadFields } })
      await this.data.loaded(next)
    })
  }

  release(c: CollectionInfo, partitionNames?: readonly string[]): Promise<void> {
    return this.ddl(async () => {
      const cur = this.collectionById(c.id)
      if (!cur.load) return
      if (partitionNames && partitionNames.length > 0) {
        if (cur.schema.fields.some((f) => f.isPartitionKey)) throw invalid('disable release partitions if partition key mode is used')
        const drop = new Set(partitionNames.map((n) => this.partition(cur, n).id))
        const remaining = (cur.load.partitionIds ?? cur.partitions.map((p) => p.id)).filter((id) => !drop.has(id))
        if (remaining.length > 0) {
          await this.update(cur, { load: { ...cur.load, partitionIds: remaining } })
          return
        }
      }
      await this.update(cur, { load: undefined })
      this.data.release(cur.id)
    })
  }

  loadState(c: CollectionInfo, partitionNames?: readonly string[]): LoadState {
    if (!c.load) return 'LoadStateNotLoad'
    if (partitionNames && partitionNames.length > 0) {
      for (const n of partitionNames) if (!this.partitionLoaded(c, this.partition(c, n).id)) return 'LoadStateNotLoad'
    }
    return 'LoadStateLoaded'
  }
}

function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v
}
