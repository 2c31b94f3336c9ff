/**
 * The proxy: MilvusService over gRPC. Validates requests, resolves names, assigns consistency
 * timestamps, and turns domain results into the wire shapes the official SDK decodes. No storage
 * logic lives here; every failure becomes a Milvus-coded Status inside the reply (gRPC OK), as in
 * Milvus, so clients branch on `code`/`error_code` and never retry a client error.
 */
import type { CollectionInfo, ConsistencyLevel } from '../catalog/model.js'
import { DbError, invalid, isDbError } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import type { RootCoord } from '../coord/root-coord.js'
import { parseFilter, primaryKeyTerms } from '../expr/index.js'
import type { DataAccess } from '../nodes/data-plane.js'
import type { IndexProgress, IndexService } from '../nodes/index-service.js'
import { gather, retrieve } from '../query/executor.js'
import { decodeCollectionSchema, encodeCollectionSchema } from '../schema/schema-codec.js'
import { decodeInsertData, encodeIds } from '../schema/field-data.js'
import { isDecodeFailure, loadMilvusProto, type MilvusProto } from '../schema/milvus-proto.js'
import { primaryField } from '../schema/types.js'
import type { Metrics } from './metrics.js'
import { CONSISTENCY_NAMES, ReadPath } from './read-path.js'
import type { SegmentFanout, ShareReply, ShareRequest } from './shares.js'
import { errorStatus, okStatus } from './status.js'
import { int, kvToRecord, recordToKv, str, strList, templateValues, tsString, utcMs, type Req } from './wire.js'

export interface CallContext {
  /** From the `dbname` metadata the SDK attaches to every call. */
  readonly dbName: string
}

type Handler = (req: Req, ctx: CallContext) => Promise<Record<string, unknown>>

export interface MilvusServiceDeps {
  readonly root: RootCoord
  /** Absent on a cluster coordinator: calls that need rows answer ServiceUnavailable there. */
  readonly data?: DataAccess
  readonly indexes: IndexService
  readonly log: Logger
  readonly metrics: Metrics
  readonly version: string
  readonly deployMode: string
  /**
   * Cluster roles read a catalog that follows etcd and may trail a DDL made a moment ago on the
   * coordinator: on a "not found", they catch up (read-your-writes) and try once more.
   */
  readonly syncCatalog?: () => Promise<void>
  /** What GetComponentStates reports as this process's role. */
  readonly role?: string
  /** Cluster: each replica of a loaded collection with the query nodes it spans (GetReplicas). */
  readonly replicas?: (c: CollectionInfo) => { nodes: { nodeId: string; address: string }[] }[]
  /** Milvus node ID of this process (GetComponentStates); a function when known only once registered. */
  readonly nodeId?: string | (() => string | undefined)
  /** Cluster query nodes: the other holders of collections spread over several nodes. */
  readonly fanout?: SegmentFanout
  /** Cluster: the WAL channel (pchannel) a collection's shards map onto; standalone has one. */
  readonly channelOf?: (collectionId: bigint) => string
  /** Cluster query nodes: which query nodes (Milvus node IDs) hold each flushed segment of a collection. */
  readonly segmentHolders?: (collectionId: bigint) => ReadonlyMap<string, readonly string[]>
  /**
   * Primary keys a delete filter matches, asked of the replicas that hold flushed rows (a cluster
   * data node keeps only growing data); local evaluation otherwise.
   */
  readonly matchKeys?: (c: CollectionInfo, db: string, expr: string, partitionNames: readonly string[], templateValues: unknown) => Promise<bigint[] | string[]>
}

const CATALOG_MISSES = new Set(['CollectionNotFound', 'DatabaseNotFound', 'PartitionNotFound', 'IndexNotFound', 'CollectionNotLoaded', 'PartitionNotLoaded', 'AliasNotFound'])

/** Stands in for the data plane on roles that hold no rows: any use is a clear, retriable error. */
function noDataPlane(): DataAccess {
  return new Proxy({} as DataAccess, {
    get: (_t, prop) => () => {
      throw new DbError('ServiceUnavailable', `this process holds no data (${String(prop)}): send the request through a proxy`)
    },
  })
}

/** Milvus reports Finished once every flushed segment is indexed (growing data never is). */
function indexState(p: IndexProgress): string {
  if (p.failReason) return 'Failed'
  return p.pendingRows > 0 ? 'InProgress' : 'Finished'
}

export class MilvusService {
  private readonly d: MilvusServiceDeps
  private readonly proto: MilvusProto
  private readonly handlers: Record<string, Handler>
  private readonly reads: ReadPath
  private nextIdentifier = BigInt(Date.now()) * 1000n

  private readonly data: DataAccess

  constructor(deps: MilvusServiceDeps) {
    this.d = deps
    this.data = deps.data ?? noDataPlane()
    this.proto = loadMilvusProto()
    this.reads = new ReadPath({ root: deps.root, data: this.data, metrics: deps.metrics, fanout: deps.fanout })
    this.handlers = this.buildHandlers()
  }

  implemented(method: string): boolean {
    return method in this.handlers
  }

  /** Milvus names a shard's vchannel after its pchannel: `<pchannel>_<collection>v<shard>`. */
  private pchannel(c: CollectionInfo): string {
    return this.d.channelOf?.(c.id) ?? 'by-dev-rootcoord-dml_0'
  }

  private vchannel(c: CollectionInfo, shard: number): string {
    return `${this.pchannel(c)}_${c.id}v${shard}`
  }

  private nodeId(): string {
    const id = this.d.nodeId
    return (typeof id === 'function' ? id() : id) ?? '1'
  }

  /** A delegator's request for this query node's share of a spread collection (cluster/share-rpc.ts). */
  readShare(req: ShareRequest): Promise<ShareReply> {
    return this.reads.readShare(req)
  }

  /** Runs one unary call; never throws. Replies whose type is a bare Status get the Status itself. */
  async call(method: string, req: unknown, ctx: CallContext): Promise<Record<string, unknown>> {
    const started = performance.now()
    const bareStatus = this.responseIsStatus(method)
    let outcome = 'success'
    try {
      if (isDecodeFailure(req)) throw invalid(`malformed ${method} request: ${req.__decodeError}`)
      const h = this.handlers[method]
      if (!h) throw new DbError('ServiceUnimplemented', `RPC ${method} is not implemented by Harrier yet`)
      let res: Record<string, unknown>
      try {
        res = await h((req ?? {}) as Req, ctx)
      } catch (e) {
        if (!this.d.syncCatalog || !isDbError(e) || !CATALOG_MISSES.has(e.kind)) throw e
        await this.d.syncCatalog()
        res = await h((req ?? {}) as Req, ctx)
      }
      return bareStatus ? okStatus() as unknown as Record<string, unknown> : { status: okStatus(), ...res }
    } catch (e) {
      outcome = 'fail'
      const status = errorStatus(e)
      if (status.code === 5 || status.code === 65535) this.d.log.error({ err: e, method }, 'request failed')
      else this.d.log.debug({ method, reason: status.reason }, 'request rejected')
      return bareStatus ? (status as unknown as Record<string, unknown>) : { status }
    } finally {
      this.d.metrics.observeRequest(method, outcome, (performance.now() - started) / 1000)
    }
  }

  private responseIsStatus(method: string): boolean {
    const m = this.proto.root.lookupService('milvus.proto.milvus.MilvusService').methods[method]
    return !!m && m.resolvedResponseType?.fullName === '.milvus.proto.common.Status'
  }

  private db(req: Req, ctx: CallContext): string {
    return str(req.db_name) || ctx.dbName || 'default'
  }

  private coll(req: Req, ctx: CallContext, key = 'collection_name'): CollectionInfo {
    const name = str(req[key])
    if (!name) throw invalid('collection name should not be empty')
    return this.d.root.collection(this.db(req, ctx), name)
  }

  // ================================================================ handlers

  private buildHandlers(): Record<string, Handler> {
    const { root } = this.d
    const data = this.data
    return {
      Connect: async () => ({
        server_info: {
          build_tags: this.d.version,
          build_time: '',
          git_commit: '',
          go_version: `node ${process.version}`,
          deploy_mode: this.d.deployMode,
          reserved: { harrier: this.d.version },
        },
        identifier: (this.nextIdentifier++).toString(),
      }),
      GetVersion: async () => ({ version: this.d.version }),
      CheckHealth: async () => ({ isHealthy: true, reasons: [], quota_states: [] }),
      GetComponentStates: async () => ({
        state: { nodeID: this.nodeId(), role: this.d.role ?? 'Proxy', state_code: 'Healthy', extra_info: [] },
        subcomponent_states: [],
      }),
      AllocTimestamp: async () => ({ timestamp: tsString(data.now()) }),
      GetMetrics: async (req) => {
        let spec: { metric_type?: string }
        try {
          spec = JSON.parse(str(req.request) || '{}') as { metric_type?: string }
        } catch {
          throw invalid('GetMetrics request must be a JSON object such as {"metric_type":"system_info"}')
        }
        if (spec.metric_type !== 'system_info') throw new DbError('MetricNotFound', `metric type ${String(spec.metric_type)}`)
        return { response: JSON.stringify(this.systemInfo()), component_name: 'standalone' }
      },

      // ---------------------------------------------------------- databases
      CreateDatabase: async (req) => {
        await root.createDatabase(str(req.db_name), kvToRecord(req.properties))
        return {}
      },
      DropDatabase: async (req) => {
        await root.dropDatabase(str(req.db_name))
        return {}
      },
      ListDatabases: async () => {
        const dbs = root.listDatabases()
        return { db_names: dbs.map((d) => d.name), created_timestamp: dbs.map((d) => tsString(d.createdTs)), db_ids: dbs.map((d) => d.id.toString()) }
      },
      DescribeDatabase: async (req, ctx) => {
        const db = root.database(this.db(req, ctx))
        return { db_name: db.name, dbID: db.id.toString(), created_timestamp: tsString(db.createdTs), properties: recordToKv(db.properties) }
      },
      AlterDatabase: async (req, ctx) => {
        await root.alterDatabase(this.db(req, ctx), kvToRecord(req.properties), strList(req.delete_keys))
        return {}
      },

      // ---------------------------------------------------------- collections
      CreateCollection: async (req, ctx) => {
        const name = str(req.collection_name)
        const schemaBytes = req.schema as Uint8Array | undefined
        if (!schemaBytes || schemaBytes.length === 0) throw invalid('collection schema should not be empty')
        const schema = decodeCollectionSchema(schemaBytes, name)
        const level = str(req.consistency_level) as ConsistencyLevel
        await root.createCollection({
          db: this.db(req, ctx),
          name,
          schema,
          shardsNum: int(req.shards_num, 'shards_num', 1),
          consistencyLevel: CONSISTENCY_NAMES.includes(level) ? level : 'Bounded',
          properties: kvToRecord(req.properties),
          numPartitions: int(req.num_partitions, 'num_partitions', 0),
        })
        return {}
      },
      DropCollection: async (req, ctx) => {
        await root.dropCollection(this.db(req, ctx), str(req.collection_name))
        return {}
      },
      HasCollection: async (req, ctx) => ({ value: root.hasCollection(this.db(req, ctx), str(req.collection_name)) }),
      DescribeCollection: async (req, ctx) => {
        const id = str(req.collectionID)
        const c = str(req.collection_name) ? this.coll(req, ctx) : id && id !== '0' ? root.collectionById(BigInt(id)) : this.coll(req, ctx)
        return this.describe(c)
      },
      BatchDescribeCollection: async (req, ctx) => {
        const names = strList(req.collection_name)
        const responses = names.map((n) => {
          try {
            return { status: okStatus(), ...this.describe(root.collection(this.db(req, ctx), n)) }
          } catch (e) {
            return { status: errorStatus(e) }
          }
        })
        return { responses }
      },
      ShowCollections: async (req, ctx) => {
        let cs = root.listCollections(this.db(req, ctx))
        const only = strList(req.collection_names)
        if (only.length > 0) {
          for (const n of only) if (!cs.some((c) => c.name === n)) throw new DbError('CollectionNotFound', `collection=${n}`)
          cs = cs.filter((c) => only.includes(c.name))
        }
        if (str(req.type) === 'InMemory') cs = cs.filter((c) => c.load)
        return {
          collection_names: cs.map((c) => c.name),
          collection_ids: cs.map((c) => c.id.toString()),
          created_timestamps: cs.map((c) => tsString(c.createdTs)),
          created_utc_timestamps: cs.map((c) => utcMs(c.createdTs)),
          inMemory_percentages: cs.map((c) => (c.load ? 100 : 0)),
          query_service_available: cs.map((c) => !!c.load),
          shards_num: cs.map((c) => c.shardsNum),
        }
      },
      RenameCollection: async (req, ctx) => {
        await root.renameCollection(this.db(req, ctx), str(req.oldName), str(req.newName), str(req.newDBName))
        return {}
      },
      AlterCollection: async (req, ctx) => {
        await root.alterCollection(this.coll(req, ctx), kvToRecord(req.properties), strList(req.delete_keys))
        return {}
      },
      GetCollectionStatistics: async (req, ctx) => {
        const c = this.coll(req, ctx)
        const n = data.rowCount(c.id, await data.readTimestamp(data.now(), c.id))
        return { stats: [{ key: 'row_count', value: String(n) }] }
      },

      // ---------------------------------------------------------- partitions
      CreatePartition: async (req, ctx) => {
        await root.createPartition(this.coll(req, ctx), str(req.partition_name))
        return {}
      },
      DropPartition: async (req, ctx) => {
        await root.dropPartition(this.coll(req, ctx), str(req.partition_name))
        return {}
      },
      HasPartition: async (req, ctx) => {
        const c = this.coll(req, ctx)
        return { value: c.partitions.some((p) => p.name === str(req.partition_name)) }
      },
      ShowPartitions: async (req, ctx) => {
        const c = this.coll(req, ctx)
        let ps = c.partitions
        const only = strList(req.partition_names)
        if (only.length > 0) ps = only.map((n) => root.partition(c, n))
        return {
          partition_names: ps.map((p) => p.name),
          partitionIDs: ps.map((p) => p.id.toString()),
          created_timestamps: ps.map((p) => tsString(p.createdTs)),
          created_utc_timestamps: ps.map((p) => utcMs(p.createdTs)),
          inMemory_percentages: ps.map((p) => (root.partitionLoaded(c, p.id) ? 100 : 0)),
        }
      },
      GetPartitionStatistics: async (req, ctx) => {
        const c = this.coll(req, ctx)
        const p = root.partition(c, str(req.partition_name))
        const n = data.rowCount(c.id, await data.readTimestamp(data.now(), c.id), new Set([p.id]))
        return { stats: [{ key: 'row_count', value: String(n) }] }
      },
      LoadPartitions: async (req, ctx) => {
        const names = strList(req.partition_names)
        if (names.length === 0) throw invalid('partition names should not be empty')
        await root.load(this.coll(req, ctx), int(req.replica_number, 'replica_number', 1), names, strList(req.load_fields))
        return {}
      },
      ReleasePartitions: async (req, ctx) => {
        const names = strList(req.partition_names)
        if (names.length === 0) throw invalid('partition names should not be empty')
        await root.release(this.coll(req, ctx), names)
        return {}
      },

      // ---------------------------------------------------------- aliases
      CreateAlias: async (req, ctx) => {
        await root.createAlias(this.db(req, ctx), str(req.collection_name), str(req.alias))
        return {}
      },
      AlterAlias: async (req, ctx) => {
        await root.alterAlias(this.db(req, ctx), str(req.collection_name), str(req.alias))
        return {}
      },
      DropAlias: async (req, ctx) => {
        await root.dropAlias(this.db(req, ctx), str(req.alias))
        return {}
      },
      DescribeAlias: async (req, ctx) => {
        const a = root.describeAlias(this.db(req, ctx), str(req.alias))
        return { db_name: a.db, alias: a.alias, collection: a.collection }
      },
      ListAliases: async (req, ctx) => ({
        db_name: this.db(req, ctx),
        collection_name: str(req.collection_name),
        aliases: root.listAliases(this.db(req, ctx), str(req.collection_name) || undefined),
      }),

      // ---------------------------------------------------------- indexes
      CreateIndex: async (req, ctx) => {
        const c = this.coll(req, ctx)
        const params = kvToRecord(req.extra_params)
        // The SDK sends user params as a JSON string under `params`; flatten them like Milvus does.
        if (params.params) {
          try {
            const inner = JSON.parse(params.params) as Record<string, unknown>
            for (const [k, v] of Object.entries(inner)) if (!(k in params)) params[k] = String(v)
          } catch {
            throw invalid(`index params must be a JSON object: ${params.params}`)
          }
        }
        await root.createIndex(c, {
          fieldName: str(req.field_name),
          indexName: str(req.index_name),
          indexType: params.index_type ?? '',
          metricType: params.metric_type ?? '',
          params,
        })
        return {}
      },
      DescribeIndex: async (req, ctx) => {
        const c = this.coll(req, ctx)
        return {
          index_descriptions: root.findIndexes(c, str(req.field_name), str(req.index_name)).map((i) => {
            const p = this.d.indexes.progress(c, i)
            return {
              index_name: i.name,
              indexID: i.id.toString(),
              params: recordToKv({ ...i.params, index_type: i.indexType, ...(i.metricType ? { metric_type: i.metricType } : {}) }),
              field_name: i.fieldName,
              indexed_rows: String(p.indexedRows),
              total_rows: String(p.totalRows),
              pending_index_rows: String(p.pendingRows),
              state: indexState(p),
              index_state_fail_reason: p.failReason,
            }
          }),
        }
      },
      GetIndexStatistics: async (req, ctx) => this.handlers.DescribeIndex!(req, ctx),
      GetIndexState: async (req, ctx) => {
        const c = this.coll(req, ctx)
        const [i] = root.findIndexes(c, str(req.field_name), str(req.index_name))
        const p = this.d.indexes.progress(c, i!)
        return { state: indexState(p), fail_reason: p.failReason }
      },
      GetIndexBuildProgress: async (req, ctx) => {
        const c = this.coll(req, ctx)
        const [i] = root.findIndexes(c, str(req.field_name), str(req.index_name))
        const p = this.d.indexes.progress(c, i!)
        return { indexed_rows: String(p.indexedRows), total_rows: String(p.totalRows) }
      },
      DropIndex: async (req, ctx) => {
        await root.dropIndex(this.coll(req, ctx), str(req.field_name), str(req.index_name))
        return {}
      },

      // ---------------------------------------------------------- load
      LoadCollection: async (req, ctx) => {
        await root.load(this.coll(req, ctx), int(req.replica_number, 'replica_number', 1), undefined, strList(req.load_fields))
        return {}
      },
      ReleaseCollection: async (req, ctx) => {
        await root.release(this.coll(req, ctx))
        return {}
      },
      GetLoadState: async (req, ctx) => {
        return { state: root.loadState(this.coll(req, ctx), strList(req.partition_names)) }
      },
      GetLoadingProgress: async (req, ctx) => {
        const c = this.coll(req, ctx)
        const state = root.loadState(c, strList(req.partition_names))
        if (state !== 'LoadStateLoaded') throw new DbError('CollectionNotLoaded', `collection=${c.name}`)
        return { progress: '100', refresh_progress: '100' }
      },

      // ---------------------------------------------------------- writes
      Insert: async (req, ctx) => this.write(req, ctx, 'insert'),
      Upsert: async (req, ctx) => this.write(req, ctx, 'upsert'),
      Delete: async (req, ctx) => {
        const c = this.coll(req, ctx)
        const expr = str(req.expr).trim()
        if (!expr) throw invalid('expression should not be empty for delete')
        const plan = parseFilter(expr, c.schema, { templateValues: templateValues(req.expr_template_values) })
        const rt = data.runtime(c.id)
        const pkField = primaryField(c.schema)
        const partitionIds = this.reads.partitionFilter(c, str(req.partition_name) ? [str(req.partition_name)] : [], false)
        let pks = primaryKeyTerms(plan, c.schema)
        if ((!pks || partitionIds) && this.d.matchKeys) {
          pks = await this.d.matchKeys(c, this.db(req, ctx), expr, str(req.partition_name) ? [str(req.partition_name)] : [], req.expr_template_values)
        } else if (!pks || partitionIds) {
          // General expressions delete what a Strong query matches now, as Milvus's proxy does.
          const sel = retrieve(rt, { ts: await data.readTimestamp(data.now(), c.id), filter: plan, partitionIds, offset: 0 })
          const col = gather(pkField, sel)
          pks = col.type === 'Int64' ? [...col.data] : col.type === 'VarChar' ? col.data : []
        }
        const keys = pkField.dataType === 'Int64' ? BigInt64Array.from(pks as bigint[]) : (pks as string[])
        if (keys.length === 0) return { IDs: encodeIds(keys, pkField.dataType as 'Int64' | 'VarChar'), delete_cnt: '0', timestamp: tsString(data.now()) }
        const ts = await data.delete(c.id, keys)
        this.d.metrics.mutations('delete', keys.length)
        return { IDs: encodeIds(keys, pkField.dataType as 'Int64' | 'VarChar'), delete_cnt: String(keys.length), timestamp: tsString(ts) }
      },
      Flush: async (req, ctx) => {
        const db = this.db(req, ctx)
        const cs = strList(req.collection_names).map((n) => root.collection(db, n))
        const res = await data.flush(cs.map((c) => c.id))
        const segs: Record<string, { data: string[] }> = {}
        const flushTs: Record<string, string> = {}
        for (const c of cs) {
          segs[c.name] = { data: (res.segments.get(c.id) ?? []).map(String) }
          flushTs[c.name] = tsString(res.flushTs)
        }
        return { db_name: db, coll_segIDs: segs, flush_coll_segIDs: segs, coll_seal_times: {}, coll_flush_ts: flushTs, channel_cps: {} }
      },
      // Flush completes synchronously (segments are persisted before Flush returns).
      GetFlushState: async () => ({ flushed: true }),
      FlushAll: async () => {
        const res = await data.flush()
        return { flush_all_ts: tsString(res.flushTs) }
      },
      GetFlushAllState: async () => ({ flushed: true }),

      GetPersistentSegmentInfo: async (req, ctx) => {
        const c = root.collection(str(req.dbName) || ctx.dbName || 'default', str(req.collectionName))
        return {
          infos: data
            .segmentInfos(c.id)
            .filter((s) => s.state !== 'Growing')
            .map((s) => ({ segmentID: s.id.toString(), collectionID: c.id.toString(), partitionID: s.partitionId.toString(), num_rows: String(s.numRows), state: s.state, level: 'L1', is_sorted: false, storage_version: '0' })),
        }
      },
      GetQuerySegmentInfo: async (req, ctx) => {
        const c = root.collection(str(req.dbName) || ctx.dbName || 'default', str(req.collectionName))
        this.reads.requireLoaded(c)
        // A spread collection: this node's rows and the segments other query nodes hold.
        const self = this.nodeId()
        const holders = this.d.segmentHolders?.(c.id)
        const nodesOf = (id: bigint, local: boolean) => [...new Set([...(local ? [self] : []), ...(holders?.get(id.toString()) ?? [])])]
        const local = data.segmentInfos(c.id).filter((s) => s.loaded)
        const remote = holders ? data.otherShares(c.id).filter((s) => (holders.get(s.id.toString()) ?? []).length > 0) : []
        const listed = [
          ...local.map((s) => ({ ...s, nodeIds: nodesOf(s.id, true) })),
          ...remote.map((s) => ({ id: s.id, partitionId: s.partitionId, numRows: s.numRows, state: 'Flushed' as const, indexIds: this.d.indexes.builtIndexIds(c.id, s.id), nodeIds: nodesOf(s.id, false) })),
        ]
        return {
          infos: listed
            .map((s) => {
              const index = c.indexes.find((i) => s.indexIds.includes(i.id))
              return {
                segmentID: s.id.toString(),
                collectionID: c.id.toString(),
                partitionID: s.partitionId.toString(),
                mem_size: '0',
                num_rows: String(s.numRows),
                index_name: index?.name ?? '',
                indexID: index?.id.toString() ?? '0',
                nodeID: s.nodeIds[0] ?? self,
                state: s.state,
                nodeIds: s.nodeIds,
                level: 'L1',
                is_sorted: false,
                storage_version: '0',
              }
            }),
        }
      },
      GetReplicas: async (req, ctx) => {
        const id = str(req.collectionID)
        const c = str(req.collection_name) ? this.coll(req, ctx) : root.collectionById(BigInt(id || '0'))
        if (!c.load) return { replicas: [] }
        const partitionIds = (c.load.partitionIds ?? c.partitions.map((p) => p.id)).map(String)
        if (this.d.replicas) {
          // Each replica spans its query nodes; any of them leads reads (all follow the channel).
          return {
            replicas: this.d.replicas(c).map((rep, r) => ({
              replicaID: (c.id * 1000n + BigInt(r)).toString(),
              collectionID: c.id.toString(),
              partition_ids: partitionIds,
              shard_replicas: Array.from({ length: c.shardsNum }, (_, i) => ({
                leaderID: rep.nodes[0]?.nodeId ?? '0',
                leader_addr: rep.nodes[0]?.address ?? '',
                dm_channel_name: this.vchannel(c, i),
                node_ids: rep.nodes.map((n) => n.nodeId),
              })),
              node_ids: rep.nodes.map((n) => n.nodeId),
              resource_group_name: '__default_resource_group',
              num_outbound_node: 0,
            })),
          }
        }
        return {
          replicas: [
            {
              replicaID: c.id.toString(),
              collectionID: c.id.toString(),
              partition_ids: (c.load.partitionIds ?? c.partitions.map((p) => p.id)).map(String),
              shard_replicas: Array.from({ length: c.shardsNum }, (_, i) => ({ leaderID: '1', leader_addr: 'localhost', dm_channel_name: this.vchannel(c, i), node_ids: ['1'] })),
              node_ids: ['1'],
              resource_group_name: '__default_resource_group',
              num_outbound_node: 0,
            },
          ],
        }
      },

      ManualCompaction: async (req, ctx) => {
        const id = str(req.collectionID)
        const c = str(req.collection_name) ? this.coll(req, ctx) : root.collectionById(BigInt(id || '0'))
        if (!c.load) throw new DbError('CollectionNotLoaded', `compaction runs on loaded collections; load ${c.name} first`)
        // Compaction runs to completion inside the call, so its state is final when it returns.
        const plans = await data.compact([c.id], { force: true })
        const compactionID = await root.allocIds(1)
        // Recorded in the catalog: in a cluster the proxy may ask another data node later.
        await root.recordCompaction(compactionID, plans)
        return { compactionID: compactionID.toString(), compactionPlanCount: plans }
      },
      GetCompactionState: async (req) => {
        const text = str(req.compactionID)
        const plans = /^\d{1,19}$/.test(text) ? await root.compactionResult(BigInt(text)) : undefined
        if (plans === undefined) throw invalid(`compaction ${text} not found`)
        return { state: 'Completed', executingPlanNo: '0', timeoutPlanNo: '0', completedPlanNo: String(plans), failedPlanNo: '0' }
      },

      // ---------------------------------------------------------- reads
      Query: async (req, ctx) => this.reads.query(this.coll(req, ctx), req),
      Search: async (req, ctx) => this.reads.search(this.coll(req, ctx), req),
      HybridSearch: async (req, ctx) => this.reads.hybridSearch(this.coll(req, ctx), req),
    }
  }

  // ================================================================ helpers

  private describe(c: CollectionInfo): Record<string, unknown> {
    const db = this.d.root.listDatabases().find((d) => d.id === c.dbId)
    return {
      schema: encodeCollectionSchema(c.schema),
      collectionID: c.id.toString(),
      virtual_channel_names: Array.from({ length: c.shardsNum }, (_, i) => this.vchannel(c, i)),
      physical_channel_names: Array.from({ length: c.shardsNum }, () => this.pchannel(c)),
      created_timestamp: tsString(c.createdTs),
      created_utc_timestamp: utcMs(c.createdTs),
      shards_num: c.shardsNum,
      aliases: this.d.root.aliasesOf(c),
      start_positions: [],
      consistency_level: c.consistencyLevel,
      collection_name: c.name,
      properties: recordToKv(c.properties),
      db_name: db?.name ?? '',
      num_partitions: String(c.numPartitions || c.partitions.length),
      db_id: c.dbId.toString(),
      update_timestamp: tsString(c.updateTs),
      update_timestamp_str: utcMs(c.updateTs),
    }
  }

  private systemInfo(): Record<string, unknown> {
    const s = this.data.stats()
    return {
      nodes_info: [
        {
          identifier: 1,
          connected: [],
          infos: {
            name: 'standalone1',
            type: 'standalone',
            hardware_infos: { cpu_core_count: 0, memory: process.memoryUsage().rss },
            system_info: { deploy_mode: this.d.deployMode, build_version: this.d.version },
            created_time: new Date(Date.now() - process.uptime() * 1000).toISOString(),
            updated_time: new Date().toISOString(),
            type_info: { collections: s.collections, growing_rows: s.growingRows },
          },
        },
      ],
    }
  }

  private async write(req: Req, ctx: CallContext, mode: 'insert' | 'upsert'): Promise<Record<string, unknown>> {
    const c = this.coll(req, ctx)
    const numRows = int(req.num_rows, 'num_rows', 0)
    const partName = str(req.partition_name)
    const hasPartitionKey = c.schema.fields.some((f) => f.isPartitionKey)
    if (partName && hasPartitionKey) throw invalid('not support manually specifying the partition names if partition key mode is used')
    const partitionId = partName ? this.d.root.partition(c, partName).id : undefined
    const pkField = primaryField(c.schema)
    const pkType = pkField.dataType as 'Int64' | 'VarChar'
    // IDs are reserved durably before use, so an autoID value is never handed out twice.
    const firstId = mode === 'insert' && pkField.autoId && numRows > 0 ? await this.d.root.allocIds(numRows) : 0n
    const batch = decodeInsertData(c.schema, (req.fields_data ?? []) as Record<string, unknown>[], numRows, {
      mode,
      allocateIds: (n: number) => Array.from({ length: n }, (_, i) => firstId + BigInt(i)),
    })
    const ts = await this.data.insert(c.id, batch, partitionId, { upsert: mode === 'upsert' })
    this.d.metrics.mutations(mode, batch.numRows)
    const n = String(batch.numRows)
    return {
      IDs: encodeIds(batch.primaryKeys, pkType),
      succ_index: Array.from({ length: batch.numRows }, (_, i) => i),
      err_index: [],
      acknowledged: true,
      insert_cnt: n,
      delete_cnt: '0',
      upsert_cnt: mode === 'upsert' ? n : '0',
      timestamp: tsString(ts),
    }
  }
}
