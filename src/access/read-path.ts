/**
 * The proxy's read path: Query, Search (plain, grouped, by primary key, iterator v2) and
 * HybridSearch. Parses search parameters as Milvus's proxy does, resolves consistency into a snapshot
 * timestamp, runs the executor, and shapes results the way the official SDK decodes them.
 *
 * On a cluster query node whose collection is spread over several nodes, each read is also the
 * delegator's: it reads its own rows, asks the other holders for their shares (`SegmentFanout`),
 * and merges them (query/merge.ts); `readShare` answers such a request on the holder's side.
 */
import type { CollectionInfo, ConsistencyLevel } from '../catalog/model.js'
import { DbError, invalid } from '../common/errors.js'
import type { Timestamp } from '../common/tso.js'
import type { RootCoord } from '../coord/root-coord.js'
import { parseFilter, type FilterPlan } from '../expr/index.js'
import { GraphSearchBatcher, higherIsBetter, normalizeMetric, type MetricType } from '../index/index.js'
import type { DataAccess } from '../nodes/data-plane.js'
import {
  count,
  gather,
  retrieve,
  rowsByPrimaryKey,
  searchBatched,
  searchIteratorPage,
  type GroupingSpec,
  type IteratorPage,
  type RowSelection,
  type SearchResult,
  type SearchSpec,
} from '../query/executor.js'
import { mergeRetrieved, mergeSearchResults, shareChunk, shareResult } from '../query/merge.js'
import { groupKey, vectorRows as vectorRowCount } from '../query/scan.js'
import type { CollectionRuntime } from '../segment/collection-runtime.js'
import type { RowChunk } from '../segment/segment.js'
import { decodePlaceholderVectors, encodeDynamicField, encodeFieldData, encodeIds } from '../schema/field-data.js'
import type { Column, ColumnOf, VectorColumn } from '../schema/columns.js'
import { DYNAMIC_FIELD_NAME, isVectorType, primaryField, type FieldSchema } from '../schema/types.js'
import type { Metrics } from './metrics.js'
import type { SegmentFanout, ShareReply, ShareRequest, ShareTarget } from './shares.js'
import { isIteratorToken, SearchIterators } from './search-iterators.js'
import { loadMilvusProto, type MilvusProto } from '../schema/milvus-proto.js'
import { boundedTs, int, kvToRecord, str, strList, templateValues, tsString, type Req } from './wire.js'

const MAX_TOPK = 16384
/** Milvus's quotaAndLimits.limits.maxGroupSize default. */
const MAX_GROUP_SIZE = 10
const MAX_FLOAT32 = 3.4028234663852886e38

/** Field types Milvus 2.6 can group search results by. */
const GROUPABLE_TYPES: ReadonlySet<string> = new Set(['Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'VarChar'])

/** Type names as segcore prints them in "unsupported data type X for group by operator". */
const SEGCORE_TYPE_NAMES: Readonly<Record<string, string>> = {
  Bool: 'BOOL',
  Int8: 'INT8',
  Int16: 'INT16',
  Int32: 'INT32',
  Int64: 'INT64',
  Float: 'FLOAT',
  Double: 'DOUBLE',
  VarChar: 'VARCHAR',
  JSON: 'JSON',
  Array: 'ARRAY',
  FloatVector: 'VECTOR_FLOAT',
  BinaryVector: 'VECTOR_BINARY',
  Float16Vector: 'VECTOR_FLOAT16',
  BFloat16Vector: 'VECTOR_BFLOAT16',
  SparseFloatVector: 'VECTOR_SPARSE_FLOAT',
  Int8Vector: 'VECTOR_INT8',
}

/** schema.IDs as decoded (oneof id_field names the set member). */
interface WireIds {
  id_field?: string
  int_id?: { data?: string[] } | null
  str_id?: { data?: string[] } | null
}

interface IteratorRequest {
  /** search_iter_id; undefined on an iterator's first page. */
  readonly token: string | undefined
  readonly batchSize: number
  /** search_iter_last_bound as float32; undefined on the first page. */
  readonly bound: number | undefined
  /** The session_ts of the previous page as the client echoes it back (0n: none). */
  readonly guaranteeTs: bigint
}

interface ParsedSearch {
  readonly spec: SearchSpec
  readonly nq: number
  readonly roundDecimal: number
  readonly iterator?: IteratorRequest
  readonly groupField?: FieldSchema
}

/** Go's strconv.ParseBool; undefined for anything else (Milvus then treats the flag as unset). */
function goBool(v: string | undefined): boolean | undefined {
  switch (v?.trim()) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false
    default:
      return undefined
  }
}

const BOUNDED_GRACE_MS = 5000
/** How long a holder waits for a segment it was asked for (an owner still reading it in). */
const SHARE_LOAD_WAIT_MS = 5000
/** How long a delegator keeps planning again while holders come and go (longer than a load wait). */
const SHARE_RETRY_MS = 15_000


/** Milvus's WeightedRanker normalisation: every metric mapped onto [0, 1], higher is better. */
function normalizeScore(metric: MetricType, s: number): number {
  switch (metric) {
    case 'COSINE':
      return (1 + s) / 2
    case 'IP':
      return 0.5 + Math.atan(s) / Math.PI
    default:
      return 1 - (2 * Math.atan(s)) / Math.PI
  }
}

export const CONSISTENCY_NAMES: readonly ConsistencyLevel[] = ['Strong', 'Session', 'Bounded', 'Eventually', 'Customized']

export interface ReadPathDeps {
  readonly root: RootCoord
  readonly data: DataAccess
  readonly metrics: Metrics
  /** Cluster query nodes: the other holders of a spread collection. */
  readonly fanout?: SegmentFanout
}

export interface OutputSpec {
  readonly fields: FieldSchema[]
  readonly dynamicKeys: string[] | 'all' | undefined
  readonly names: string[]
}

export class ReadPath {
  private readonly d: ReadPathDeps
  private readonly proto: MilvusProto = loadMilvusProto()
  private readonly placeholderGroup = this.proto.type('milvus.proto.common.PlaceholderGroup')
  private readonly placeholderTypes = this.proto.root.lookupEnum('milvus.proto.common.PlaceholderType')
  private readonly iterators = new SearchIterators()
  /** Coalesces concurrent requests' graph searches into multi-threaded usearch calls. */
  private readonly graphs = new GraphSearchBatcher()

  constructor(deps: ReadPathDeps) {
    this.d = deps
  }

  partitionFilter(c: CollectionInfo, names: readonly string[], mustBeLoaded: boolean): Set<bigint> | undefined {
    const loadedIds = c.load?.partitionIds
    if (names.length === 0) return loadedIds ? new Set(loadedIds) : undefined
    if (c.schema.fields.some((f) => f.isPartitionKey)) throw invalid('not support manually specifying the partition names if partition key mode is used')
    const ids = new Set<bigint>()
    for (const n of names) {
      const p = this.d.root.partition(c, n)
      if (mustBeLoaded && !this.d.root.partitionLoaded(c, p.id)) throw new DbError('PartitionNotLoaded', `partition=${n}`)
      ids.add(p.id)
    }
    return ids
  }

  requireLoaded(c: CollectionInfo): void {
    if (!c.load) throw new DbError('CollectionNotLoaded', `collection=${c.name}`)
  }

  private async snapshotTs(req: Req, c: CollectionInfo): Promise<Timestamp> {
    const { data } = this.d
    const asked = str(req.consistency_level) as ConsistencyLevel
    const level: ConsistencyLevel = req.use_default_consistency || !CONSISTENCY_NAMES.includes(asked) ? c.consistencyLevel : asked
    let guarantee: Timestamp
    switch (level) {
      case 'Strong':
        guarantee = data.now()
        break
      case 'Bounded':
        guarantee = boundedTs(Date.now(), BOUNDED_GRACE_MS)
        break
      case 'Eventually':
        guarantee = 1n
        break
      case 'Session':
      case 'Customized': {
        const g = BigInt(str(req.guarantee_timestamp) || '0')
        // Session without a client timestamp still reads its own writes: everything acknowledged.
        guarantee = g > 0n ? g : data.now()
        break
      }
    }
    return data.readTimestamp(guarantee, c.id)
  }

  parse(c: CollectionInfo, text: string, req: Req): FilterPlan | undefined {
    const t = text.trim()
    if (!t) return undefined
    return parseFilter(t, c.schema, { templateValues: templateValues(req.expr_template_values) })
  }

  /** Milvus's translateOutputFields: '*' expands to every field; unknown names are dynamic keys or errors. */
  private outputFields(c: CollectionInfo, requested: readonly string[], opts: { withVectors: boolean }): { fields: FieldSchema[]; dynamicKeys: string[] | 'all' | undefined; names: string[] } {
    const schema = c.schema
    const dyn = schema.fields.find((f) => f.isDynamic)
    const fields: FieldSchema[] = []
    const names: string[] = []
    let dynamicKeys: string[] | 'all' | undefined
    // With load_fields, only those fields are in memory: '*' means them, naming another is an error.
    const loadFields = c.load?.loadFields && c.load.loadFields.length > 0 ? new Set(c.load.loadFields) : undefined
    const loaded = (f: FieldSchema) => !loadFields || f.isPrimaryKey || loadFields.has(f.name)
    const add = (f: FieldSchema) => {
      if (!fields.includes(f)) {
        fields.push(f)
        if (!f.isDynamic) names.push(f.name)
      }
    }
    add(primaryField(schema))
    for (const raw of requested) {
      const name = raw.trim()
      if (!name) continue
      if (name === '*') {
        for (const f of schema.fields) if (!f.isDynamic && loaded(f) && (opts.withVectors || !isVectorType(f.dataType))) add(f)
        if (dyn) dynamicKeys = 'all'
        continue
      }
      const f = schema.fields.find((x) => x.name === name)
      if (f && !f.isDynamic) {
        if (!loaded(f)) throw invalid(`field ${name} is not loaded`)
        add(f)
      } else if (name === DYNAMIC_FIELD_NAME && dyn) {
        dynamicKeys = 'all'
      } else if (dyn && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        if (dynamicKeys !== 'all') {
          dynamicKeys = dynamicKeys ?? []
          if (!dynamicKeys.includes(name)) dynamicKeys.push(name)
        }
      } else {
        throw new DbError('FieldNotFound', `field ${name} not exist`)
      }
    }
    if (dynamicKeys !== undefined && dyn) {
      fields.push(dyn)
      if (dynamicKeys === 'all') names.push(DYNAMIC_FIELD_NAME)
      else names.push(...dynamicKeys)
    }
    return { fields, dynamicKeys, names }
  }

  /** `known`: columns already gathered for `sel` (the primary key, for the ids). */
  private encodeOutputs(out: OutputSpec, sel: RowSelection, known?: ReadonlyMap<FieldSchema, Column>): Record<string, unknown>[] {
    return out.fields.map((f) => {
      const col: Column = known?.get(f) ?? gather(f, sel)
      if (f.isDynamic) return encodeDynamicField(f, col as ColumnOf<'JSON'>, out.dynamicKeys ?? 'all')
      return encodeFieldData(f, col)
    })
  }

  async query(c: CollectionInfo, req: Req): Promise<Record<string, unknown>> {
    this.requireLoaded(c)
    const { data } = this.d
    const params = kvToRecord(req.query_params)
    const limit = params.limit !== undefined && params.limit !== '' ? int(params.limit, 'limit') : undefined
    const offset = int(params.offset, 'offset', 0)
    if (limit !== undefined && (limit < 0 || limit + offset > MAX_TOPK)) {
      throw invalid(`invalid max query result window, (offset+limit) should be in range [1, ${MAX_TOPK}], but got ${limit + offset}`)
    }
    if (offset < 0) throw invalid(`offset [${offset}] is invalid, should be gte than 0`)
    const plan = this.parse(c, str(req.expr), req)
    const requested = strList(req.output_fields)
    const partitionIds = this.partitionFilter(c, strList(req.partition_names), true)
    const ts = await this.snapshotTs(req, c)
    const rt = data.runtime(c.id)
    const share = { collectionId: c.id, ts, partitionIds: partitionIds && [...partitionIds], request: req }
    if (requested.some((f) => f.trim().toLowerCase() === 'count(*)')) {
      if (requested.length > 1) throw invalid('count entities with pagination is not allowed')
      const n = await this.spread(c, partitionIds, (shares) => {
        const local = count(rt, { ts, filter: plan, partitionIds })
        return Promise.all(shares.map((t) => this.d.fanout!.read(t, { ...share, op: 'count', segments: t.segments, fields: [] }))).then((r) => r.reduce((a, x) => a + (x.count ?? 0), local))
      })
      return {
        fields_data: [{ type: 'Int64', field_name: 'count(*)', field_id: '0', scalars: { long_data: { data: [String(n)] } }, valid_data: [] }],
        collection_name: c.name,
        output_fields: ['count(*)'],
        session_ts: tsString(ts),
        primary_field_name: primaryField(c.schema).name,
      }
    }
    if (!plan && limit === undefined) throw invalid('empty expression should be used with limit')
    const out = this.outputFields(c, requested, { withVectors: true })
    const sel = await this.spread(c, partitionIds, async (shares) => {
      if (shares.length === 0) return retrieve(rt, { ts, filter: plan, partitionIds, limit, offset })
      // Each part keeps its first offset + limit rows by primary key; the union is cut again.
      const upTo = limit !== undefined ? limit + offset : undefined
      const local = retrieve(rt, { ts, filter: plan, partitionIds, limit: upTo, offset: 0 })
      const fields = out.fields.map((f) => f.name)
      const remote = await Promise.all(shares.map((t) => this.d.fanout!.read(t, { ...share, op: 'query', segments: t.segments, fields, limit: upTo })))
      return mergeRetrieved([local, ...remote.map((r) => rowsOf(this.pkName(c), r))], { limit, offset })
    })
    return {
      fields_data: this.encodeOutputs(out, sel),
      collection_name: c.name,
      output_fields: out.names,
      session_ts: tsString(ts),
      primary_field_name: primaryField(c.schema).name,
    }
  }

  /**
   * Parses one SearchRequest (also each sub-request of HybridSearch) into an executor spec, as
   * Milvus's parseSearchInfo does: topk/offset, grouping, iterator v2, then the query vectors
   * (placeholder group, or the vectors of the rows named by `ids`).
   */
  private searchSpec(c: CollectionInfo, req: Req, ts: Timestamp, partitionIds: Set<bigint> | undefined, mode: 'search' | 'hybrid' = 'search', resolved?: VectorColumn): ParsedSearch {
    const { param, extra } = searchParams(req)
    const hybrid = mode === 'hybrid'
    if (req.search_by_primary_keys) {
      throw new DbError('ServiceUnimplemented', 'search_by_primary_keys (deprecated) is not implemented by Harrier; pass the primary keys in ids instead')
    }
    const field = annsField(c, param)
    // Hybrid sub-requests take grouping from rank_params and are never iterators (Milvus's isAdvanced path).
    const isIterator = !hybrid && (param('iterator') === 'true' || param('iterator') === 'True')
    let topk = int(param('topk') ?? param('limit'), 'topk', 0)
    if (topk <= 0 || topk > MAX_TOPK) {
      // An iterator pages through any topk, so Milvus quietly caps it instead of refusing it.
      if (!isIterator) throw invalid(`topk [${topk}] is invalid, it should be in range [1, ${MAX_TOPK}]`)
      topk = MAX_TOPK
    }
    const offset = int(param('offset'), 'offset', 0)
    if (offset < 0 || offset + topk > MAX_TOPK) throw invalid(`top k + offset should be in range [1, ${MAX_TOPK}], but got ${offset + topk}`)
    const roundDecimal = int(param('round_decimal'), 'round_decimal', -1)
    if (roundDecimal !== -1 && (roundDecimal < 0 || roundDecimal > 6)) throw invalid(`round_decimal ${roundDecimal} is invalid, should be -1 or an integer in range [0, 6]`)
    const index = c.indexes.find((i) => i.fieldId === field.fieldId)
    const asked = param('metric_type') ?? ''
    let metric: MetricType
    if (asked) {
      metric = normalizeMetric(asked, field.dataType as never)
      if (index?.metricType && index.metricType !== metric) {
        throw invalid(`metric type not match: invalid parameter[expected=${index.metricType}][actual=${metric}]`)
      }
    } else {
      metric = normalizeMetric(index?.metricType || undefined, field.dataType as never)
    }
    const radius = param('radius') !== undefined ? Number(param('radius')) : undefined
    const rangeFilter = param('range_filter') !== undefined ? Number(param('range_filter')) : undefined
    if ((radius !== undefined && !Number.isFinite(radius)) || (rangeFilter !== undefined && !Number.isFinite(rangeFilter))) {
      throw invalid('radius and range_filter must be numbers')
    }
    const group = hybrid ? undefined : this.groupBy(c, param, field, { isIterator, ranged: radius !== undefined })
    const iterator = hybrid ? undefined : this.iteratorRequest(req, param, { isIterator, offset })
    if (iterator) topk = iterator.batchSize

    const ids = req.ids as WireIds | null | undefined
    let queries: VectorColumn
    if (req.search_input === 'ids' || ids?.id_field) {
      if (hybrid) throw invalid('search by primary keys (ids) is not supported in hybrid search')
      if (isIterator) throw invalid('search by primary keys (ids) is not supported by search iterators')
      queries = resolved ?? this.vectorsByPrimaryKey(c, field, ids ?? {}, ts, partitionIds)
    } else {
      const pgBytes = req.placeholder_group as Uint8Array | undefined
      if (!pgBytes || pgBytes.length === 0) throw invalid('search requires query vectors (placeholder_group is empty)')
      // The decoded message as it is (no toObject): its values are views of pgBytes, and a
      // Uint8Array (not a Buffer) selects protobufjs's bounds-checked reader.
      let pg: { placeholders?: { type?: number; values?: Uint8Array[] }[] }
      try {
        pg = this.placeholderGroup.decode(new Uint8Array(pgBytes.buffer, pgBytes.byteOffset, pgBytes.byteLength)) as typeof pg
      } catch (e) {
        throw invalid(`malformed placeholder group: ${e instanceof Error ? e.message : String(e)}`)
      }
      const ph = pg.placeholders?.[0]
      if (!ph || !ph.values || ph.values.length === 0) throw invalid('search requires at least one query vector')
      if (ph.values.length > MAX_TOPK) throw invalid(`nq (number of search vectors) ${ph.values.length} exceeds ${MAX_TOPK}`)
      queries = decodePlaceholderVectors(field, this.placeholderTypes.valuesById[ph.type ?? 0] ?? String(ph.type), ph.values)
    }
    const nq = vectorRowCount(queries)
    const filter = this.parse(c, str(req.dsl), req)
    return {
      spec: { ts, filter, partitionIds, annsField: field.name, queries, metric, topk, offset, radius, rangeFilter, indexParams: extra, grouping: group?.grouping },
      nq,
      roundDecimal,
      iterator,
      groupField: group?.field,
    }
  }

  /** group_by_field / group_size / strict_group_size, with Milvus's checks and messages. */
  private groupBy(
    c: CollectionInfo,
    param: (k: string) => string | undefined,
    anns: FieldSchema,
    opts: { isIterator: boolean; ranged: boolean },
  ): { grouping: GroupingSpec; field: FieldSchema } | undefined {
    const name = (param('group_by_field') ?? '').trim()
    let field: FieldSchema | undefined
    if (name) {
      field = c.schema.fields.find((f) => f.name === name)
      // Milvus 2.6 groups by schema fields only (JSON paths and dynamic keys came later).
      if (!field) throw new DbError('FieldNotFound', `groupBy field not found in schema[field=${name}]`)
    }
    // group_size is checked even without group_by_field, as Milvus's parseGroupByInfo does.
    const sizeText = param('group_size')
    let size = 1
    if (sizeText !== undefined) {
      size = /^[+-]?\d+$/.test(sizeText.trim()) ? Number(sizeText) : NaN
      if (!Number.isSafeInteger(size)) throw invalid(`failed to parse input group size:${sizeText}`)
      if (size <= 0) throw invalid(`input group size:${size} is negative, failed to do search_groupby`)
    }
    if (size > MAX_GROUP_SIZE) throw invalid(`input group size:${size} exceeds configured max group size:${MAX_GROUP_SIZE}`)
    const strict = goBool(param('strict_group_size')) ?? false
    if (!field) return undefined
    if (opts.isIterator) throw invalid('Not allowed to do groupBy when doing iteration')
    if (opts.ranged) throw invalid('Not allowed to do range-search when doing search-group-by')
    if (anns.dataType === 'BinaryVector') throw invalid('not support search_group_by operation based on binary vector')
    if (field.isDynamic || !GROUPABLE_TYPES.has(field.dataType)) {
      throw invalid(`unsupported data type ${SEGCORE_TYPE_NAMES[field.dataType] ?? field.dataType} for group by operator`)
    }
    const loadFields = c.load?.loadFields
    if (loadFields && loadFields.length > 0 && !field.isPrimaryKey && !loadFields.includes(field.name)) {
      throw invalid(`group by field ${field.name} is not loaded`)
    }
    return { grouping: { field: field.name, groupSize: size, strict }, field }
  }

  /** Search iterator v2 parameters (Milvus's parseSearchIteratorV2Info); undefined for other searches. */
  private iteratorRequest(req: Req, param: (k: string) => string | undefined, opts: { isIterator: boolean; offset: number }): IteratorRequest | undefined {
    if (goBool(param('search_iter_v2')) !== true) return undefined
    const fail = (why: string) => invalid(`parse iterator v2 info failed: ${why}`)
    if (!opts.isIterator) throw new DbError('ParameterMissing', 'parse iterator v2 info failed: both iterator and search_iter_v2 must be set in the SDK')
    if (opts.offset > 0) throw fail('Setting an offset is not permitted when using a search iterator v2')
    const token = (param('search_iter_id') ?? '').trim()
    if (token && !isIteratorToken(token)) throw fail('invalid token format')
    const batchText = (param('search_iter_batch_size') ?? '').trim()
    if (!batchText) throw fail('batch size is required')
    const batchSize = /^[+-]?\d+$/.test(batchText) ? Number(batchText) : NaN
    if (!Number.isSafeInteger(batchSize)) throw fail(`batch size is invalid, ${batchText} is not an integer`)
    if (batchSize <= 0 || batchSize > MAX_TOPK) throw fail(`batch size is invalid, it should be in range [1, ${MAX_TOPK}], but got ${batchSize}`)
    const boundText = (param('search_iter_last_bound') ?? '').trim()
    let bound: number | undefined
    if (boundText) {
      bound = Math.fround(Number(boundText))
      if (Number.isNaN(bound)) throw fail(`failed to parse input last bound, ${boundText}`)
    }
    // The Node SDK echoes the last page's session_ts as a search param, pymilvus in the request.
    const g = (param('guarantee_timestamp') ?? '').trim()
    const fromParams = /^\d+$/.test(g) ? BigInt(g) : 0n
    const guaranteeTs = fromParams > 0n ? fromParams : BigInt(str(req.guarantee_timestamp) || '0')
    return { token: token || undefined, batchSize, bound, guaranteeTs }
  }

  /**
   * Search by primary keys: the query vectors are the anns field of the rows with these keys, in
   * the snapshot and the searched partitions (the filter selects candidates, not query rows).
   */
  private vectorsByPrimaryKey(c: CollectionInfo, field: FieldSchema, ids: WireIds, ts: Timestamp, partitionIds: Set<bigint> | undefined): VectorColumn {
    const pks = this.searchedKeys(c, field, ids)
    const { selection, missing } = rowsByPrimaryKey(this.d.data.runtime(c.id), { ts, partitionIds }, pks)
    if (missing.length > 0) throw invalid(`some of the provided primary key IDs do not exist: missing IDs = [${missing.join(' ')}]`)
    return gather(field, selection) as VectorColumn
  }

  /**
   * vectorsByPrimaryKey on a delegator: keys not found in its own rows are looked up in the other
   * holders' shares.
   */
  private async vectorsByPrimaryKeySpread(c: CollectionInfo, req: Req, ts: Timestamp, partitionIds: Set<bigint> | undefined): Promise<VectorColumn> {
    const field = annsField(c, searchParams(req).param)
    const pks = this.searchedKeys(c, field, (req.ids ?? {}) as WireIds)
    const rt = this.d.data.runtime(c.id)
    return this.spread(c, partitionIds, async (shares) => {
      const local = rowsByPrimaryKey(rt, { ts, partitionIds }, pks)
      let { missing } = local
      const chunks = [...local.selection.chunks]
      const chunk = Int32Array.from(local.selection.chunk)
      const row = Int32Array.from(local.selection.row)
      if (missing.length > 0 && shares.length > 0) {
        const at = new Map<bigint | string, number>(pks.map((pk, i) => [pk, i]))
        const ask: ShareRequest = { op: 'rows', collectionId: c.id, ts, segments: [], partitionIds: partitionIds && [...partitionIds], fields: [this.pkName(c), field.name], pks: missing }
        const replies = await Promise.all(shares.map((t) => this.d.fanout!.read(t, { ...ask, segments: t.segments })))
        for (const r of replies) {
          if (r.numRows === 0) continue
          const ch = shareChunk(r.columns, r.numRows, this.pkName(c))
          const ci = chunks.push(ch) - 1
          for (let i = 0; i < r.numRows; i++) {
            const q = at.get(ch.pks[i]!)
            if (q === undefined) continue
            chunk[q] = ci
            row[q] = i
          }
        }
        missing = pks.filter((_, i) => chunk[i]! < 0)
      }
      if (missing.length > 0) throw invalid(`some of the provided primary key IDs do not exist: missing IDs = [${missing.join(' ')}]`)
      return gather(field, { chunks, chunk, row }) as VectorColumn
    })
  }

  /** The `ids` of a search by primary keys, checked as Milvus checks them. */
  private searchedKeys(c: CollectionInfo, field: FieldSchema, ids: WireIds): bigint[] | string[] {
    if (c.schema.functions.some((f) => f.outputFieldNames.includes(field.name))) {
      throw invalid(`search by primary keys is not supported on function output field ${field.name}`)
    }
    const pkField = primaryField(c.schema)
    let pks: bigint[] | string[]
    if (pkField.dataType === 'Int64') {
      if (ids.id_field !== 'int_id') throw invalid('primary key is int64, but IDs type mismatch')
      pks = (ids.int_id?.data ?? []).map((v) => BigInt(v))
    } else {
      if (ids.id_field !== 'str_id') throw invalid('primary key is varchar, but IDs type mismatch')
      pks = (ids.str_id?.data ?? []).map(String)
    }
    if (pks.length === 0) throw invalid('`ids` value [] is illegal')
    if (pks.length > MAX_TOPK) {
      throw invalid(`nq [${pks.length}] is invalid, nq (number of search vector per search request) should be in range [1, ${MAX_TOPK}], but got ${pks.length}`)
    }
    const seen = new Set<bigint | string>()
    const dups = new Set<bigint | string>()
    for (const pk of pks) (seen.has(pk) ? dups : seen).add(pk)
    if (dups.size > 0) throw invalid(`duplicate primary key IDs are not allowed in search by IDs: [${[...dups].join(' ')}]`)
    return pks
  }

  private pkName(c: CollectionInfo): string {
    return primaryField(c.schema).name
  }

  /**
   * Runs a read that may span other holders: `run` starts its local part synchronously (so the
   * plan and the local rows agree) and merges the shares it is given. When a holder goes away or
   * a view is behind, the whole read is planned and run again, for up to SHARE_RETRY_MS.
   */
  private async spread<T>(c: CollectionInfo, partitionIds: ReadonlySet<bigint> | undefined, run: (shares: ShareTarget[]) => Promise<T>): Promise<T> {
    const fan = this.d.fanout
    if (!fan) return run([])
    const until = Date.now() + SHARE_RETRY_MS
    for (let attempt = 0; ; attempt++) {
      try {
        return await run(fan.plan(c.id, partitionIds))
      } catch (e) {
        if (!fan.retriable(e) || Date.now() > until) throw e
        await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** attempt, 500)))
      }
    }
  }

  /** searchBatched over this node's rows and the other holders' shares. */
  private searchSpread(
    c: CollectionInfo,
    rt: CollectionRuntime,
    spec: SearchSpec,
    share: Pick<ShareRequest, 'op' | 'request' | 'fields' | 'queries' | 'partitionIds'>,
    groupField?: FieldSchema,
  ): Promise<SearchResult> {
    const grouped = !!(spec.grouping && groupField)
    return this.spread(c, spec.partitionIds, async (shares) => {
      if (shares.length === 0) return searchBatched(rt, spec, this.graphs)
      const wide = { ...spec, offset: 0, topk: spec.topk + spec.offset }
      const before = grouped ? this.d.data.shareEpoch(c.id) : ''
      const local = searchBatched(rt, wide, this.graphs)
      const ask: Omit<ShareRequest, 'segments'> = { ...share, collectionId: c.id, ts: spec.ts, partitionIds: share.partitionIds ?? (spec.partitionIds && [...spec.partitionIds]) }
      // One Promise.all: a failing share must not leave the local search's rejection unhandled.
      const [mine, ...remote] = await Promise.all([local, ...shares.map((t) => this.d.fanout!.read(t, { ...ask, segments: t.segments }))])
      const parts = [mine as SearchResult, ...(remote as ShareReply[]).map((r) => searchOf(this.pkName(c), r))]
      if (!spec.grouping || !groupField) return mergeSearchResults(parts, { topk: spec.topk, offset: spec.offset, metric: spec.metric })
      // Grouping: the first round finds the right groups (each share ranks a group no lower than
      // the whole does where its best hit lives), but a group's other members may sit in shares
      // where it ranked too low to be returned. The second round asks every share for exactly
      // those groups, which then all fit in each share's answer.
      const grouping = { field: groupField, groupSize: spec.grouping.groupSize }
      const found = mergeSearchResults(parts, { topk: wide.topk, offset: 0, metric: spec.metric, grouping })
      const g = gather(groupField, found)
      const values = [...new Set(Array.from({ length: found.row.length }, (_, i) => groupKey(g, i)))]
      // Every query's groups are in `values`; asking for all of them keeps other queries' groups
      // from crowding a query's own out of a share's answer.
      const keep = { field: groupField.name, values: new Set(values) }
      // The second round must read the same local rows as the first, which the shares were
      // planned against: a flush, compaction or handover in between means planning again.
      if (this.d.data.shareEpoch(c.id) !== before) throw new DbError('SegmentNotFound', 'the segments changed between the rounds of a grouping search; plan the read again')
      const local2 = searchBatched(rt, { ...wide, keep, topk: Math.max(1, values.length) }, this.graphs)
      const [mine2, ...remote2] = await Promise.all([local2, ...shares.map((t) => this.d.fanout!.read(t, { ...ask, segments: t.segments, keep: { field: groupField.name, values } }))])
      return mergeSearchResults([mine2 as SearchResult, ...(remote2 as ShareReply[]).map((r) => searchOf(this.pkName(c), r))], { topk: spec.topk, offset: spec.offset, metric: spec.metric, grouping })
    })
  }

  /**
   * A holder's side of a spread read: the asked segments only, at the delegator's snapshot, with
   * offset 0 and offset + limit rows or groups, returning the rows' asked columns.
   */
  async readShare(r: ShareRequest): Promise<ShareReply> {
    const { data, root } = this.d
    const c = root.collectionById(r.collectionId)
    this.requireLoaded(c)
    await data.awaitSegments(c.id, r.segments, SHARE_LOAD_WAIT_MS)
    // Deletes up to the snapshot must be applied here too before these rows are read.
    await data.awaitApplied(r.ts, SHARE_LOAD_WAIT_MS, c.id)
    // Again, synchronously before the scan: a segment handed over or compacted away during the
    // waits would otherwise be skipped silently by the segment restriction.
    data.checkSegments(c.id, r.segments)
    const rt = data.runtime(c.id)
    const ts = r.ts
    const segments = new Set(r.segments)
    const partitionIds = r.partitionIds ? new Set(r.partitionIds) : undefined
    const req = (r.request ?? {}) as Req
    const columns = (sel: RowSelection): Map<string, Column> => {
      const m = new Map<string, Column>()
      for (const name of r.fields) {
        const f = c.schema.fields.find((x) => x.name === name)
        if (!f) throw new DbError('FieldNotFound', `field ${name} not exist`)
        m.set(name, gather(f, sel))
      }
      return m
    }
    const searched = (res: SearchResult): ShareReply => ({ topks: res.topks, scores: res.scores, numRows: res.row.length, columns: columns(res) })
    switch (r.op) {
      case 'count':
        return { count: count(rt, { ts, filter: this.parse(c, str(req.expr), req), partitionIds, segments }), numRows: 0, columns: new Map() }
      case 'query': {
        const sel = retrieve(rt, { ts, filter: this.parse(c, str(req.expr), req), partitionIds, segments, limit: r.limit, offset: 0 })
        return { numRows: sel.row.length, columns: columns(sel) }
      }
      case 'rows': {
        const { selection } = rowsByPrimaryKey(rt, { ts, partitionIds, segments }, (r.pks ?? []) as bigint[] | string[])
        const found = [...selection.chunk.keys()].filter((i) => selection.chunk[i]! >= 0)
        const sel = { chunks: selection.chunks, chunk: Int32Array.from(found, (i) => selection.chunk[i]!), row: Int32Array.from(found, (i) => selection.row[i]!) }
        return { numRows: sel.row.length, columns: columns(sel) }
      }
      case 'search':
      case 'hybrid':
      case 'iterator': {
        const { spec } = this.searchSpec(c, req, ts, partitionIds, r.op === 'hybrid' ? 'hybrid' : 'search', r.queries)
        if (r.op === 'iterator') {
          const p = r.page ?? { includeBound: false, returned: [] }
          return searched(searchIteratorPage(rt, { ...spec, segments }, { bound: p.bound, includeBound: p.includeBound, returned: new Set(p.returned) }))
        }
        const keep = r.keep && { field: r.keep.field, values: new Set(r.keep.values) }
        const topk = keep ? Math.max(1, keep.values.size) : spec.topk + spec.offset
        return searched(await searchBatched(rt, { ...spec, segments, keep, offset: 0, topk }, this.graphs))
      }
    }
  }

  async search(c: CollectionInfo, req: Req): Promise<Record<string, unknown>> {
    this.requireLoaded(c)
    const { data } = this.d
    const out = this.outputFields(c, strList(req.output_fields), { withVectors: true })
    const partitionIds = this.partitionFilter(c, strList(req.partition_names), true)
    const ts = await this.snapshotTs(req, c)
    // Search by primary keys: rows on other holders supply their vectors too.
    const byIds = this.d.fanout && (req.search_input === 'ids' || (req.ids as WireIds | null | undefined)?.id_field)
    const resolved = byIds ? await this.vectorsByPrimaryKeySpread(c, req, ts, partitionIds) : undefined
    const parsed = this.searchSpec(c, req, ts, partitionIds, 'search', resolved)
    const { spec, nq, roundDecimal } = parsed
    const started = performance.now()
    if (parsed.iterator) {
      const page = await this.iteratorPage(c, out, parsed, parsed.iterator, req)
      this.d.metrics.searched(nq, (performance.now() - started) / 1000)
      return page
    }
    const fields = [...out.fields.map((f) => f.name), ...(parsed.groupField ? [parsed.groupField.name] : [])]
    const res = await this.searchSpread(c, data.runtime(c.id), spec, { op: 'search', request: req, fields, queries: resolved }, parsed.groupField)
    this.d.metrics.searched(nq, (performance.now() - started) / 1000)
    return this.searchResults(c, out, res, Array.from(res.scores), nq, spec.topk, roundDecimal, ts, undefined, { groupField: parsed.groupField })
  }

  /**
   * One page of search iterator v2. The reply's token names the cursor and last_bound is the last
   * hit's score (Milvus's getLastBound: the incoming bound on an empty page, or the best possible
   * score on an empty first page).
   */
  private async iteratorPage(c: CollectionInfo, out: OutputSpec, parsed: ParsedSearch, it: IteratorRequest, req: Req): Promise<Record<string, unknown>> {
    if (parsed.nq !== 1) throw invalid('Not support multiple vector iterator at present')
    const token = it.token ?? this.iterators.newToken()
    let cursor = it.token ? this.iterators.get(it.token, c.id) : undefined
    if (!cursor) {
      // A token this server does not know (expired, or from before a restart): read the snapshot
      // the client's earlier pages read, when it says which.
      const g = it.guaranteeTs
      const ts = it.token && g > 0n && g < parsed.spec.ts ? g : parsed.spec.ts
      cursor = { collectionId: c.id, ts, bound: undefined, returned: new Set() }
    }
    // Rows tied with the bound can be told apart only when this cursor handed out that bound.
    const continues = it.bound !== undefined && cursor.bound === it.bound
    const page: IteratorPage = { bound: it.bound, includeBound: continues, returned: continues ? cursor.returned : new Set() }
    const spec: SearchSpec = { ...parsed.spec, ts: cursor.ts }
    const rt = this.d.data.runtime(c.id)
    const res = await this.spread(c, spec.partitionIds, async (shares) => {
      const local = searchIteratorPage(rt, spec, page)
      if (shares.length === 0) return local
      const share: Omit<ShareRequest, 'segments'> = {
        op: 'iterator',
        collectionId: c.id,
        ts: spec.ts,
        partitionIds: spec.partitionIds && [...spec.partitionIds],
        request: req,
        fields: out.fields.map((f) => f.name),
        page: { bound: page.bound, includeBound: page.includeBound, returned: [...page.returned] },
      }
      const remote = await Promise.all(shares.map((t) => this.d.fanout!.read(t, { ...share, segments: t.segments })))
      return mergeSearchResults([local, ...remote.map((r) => searchOf(this.pkName(c), r))], { topk: spec.topk, offset: 0, metric: spec.metric })
    })
    const n = res.scores.length
    let lastBound: number
    if (n > 0) {
      lastBound = res.scores[n - 1]!
      const returned = continues && lastBound === it.bound ? cursor.returned : new Set<bigint | string>()
      for (let i = n - 1; i >= 0 && res.scores[i] === lastBound; i--) returned.add(res.chunks[res.chunk[i]!]!.pks[res.row[i]!]!)
      cursor.bound = lastBound
      cursor.returned = returned
    } else {
      lastBound = it.bound ?? (higherIsBetter(spec.metric) ? MAX_FLOAT32 : -MAX_FLOAT32)
    }
    this.iterators.put(token, cursor)
    return this.searchResults(c, out, res, Array.from(res.scores), 1, spec.topk, parsed.roundDecimal, cursor.ts, undefined, {
      iterator: { token, last_bound: lastBound },
    })
  }

  private searchResults(
    c: CollectionInfo,
    out: OutputSpec,
    sel: RowSelection,
    rawScores: number[],
    nq: number,
    topk: number,
    roundDecimal: number,
    ts: Timestamp,
    topks?: number[],
    extra: { groupField?: FieldSchema; iterator?: { token: string; last_bound: number } } = {},
  ): Record<string, unknown> {
    let scores = rawScores
    if (roundDecimal >= 0) {
      const m = 10 ** roundDecimal
      scores = scores.map((s) => Math.round(s * m) / m)
    }
    const pkField = primaryField(c.schema)
    const pkCol = gather(pkField, sel)
    const ids = pkCol.type === 'Int64' ? pkCol.data : pkCol.type === 'VarChar' ? pkCol.data : []
    return {
      results: {
        num_queries: String(nq),
        top_k: String(topk),
        fields_data: this.encodeOutputs(out, sel, new Map([[pkField, pkCol]])),
        scores,
        distances: [],
        ids: encodeIds(ids, pkField.dataType as 'Int64' | 'VarChar'),
        topks: (topks ?? (sel as { topks?: number[] }).topks ?? []).map(String),
        output_fields: out.names,
        all_search_count: String(sel.row.length),
        primary_field_name: pkField.name,
        recalls: [],
        ...(extra.groupField ? { group_by_field_value: encodeFieldData(extra.groupField, gather(extra.groupField, sel)) } : {}),
        ...(extra.iterator ? { search_iterator_v2_results: extra.iterator } : {}),
      },
      collection_name: c.name,
      session_ts: tsString(ts),
    }
  }

  /**
   * HybridSearch: one search per sub-request (each with its own vector field, filter and top-k),
   * fused per query by RRF (sum of 1/(k + rank)) or a weighted sum of normalised scores, as
   * Milvus's rankers do.
   */
  async hybridSearch(c: CollectionInfo, req: Req): Promise<Record<string, unknown>> {
    this.requireLoaded(c)
    const subs = (req.requests ?? []) as Req[]
    if (subs.length === 0) throw invalid('hybrid search needs at least one sub-request')
    if (subs.length > 1024) throw invalid('hybrid search takes at most 1024 sub-requests')
    const rank = kvToRecord(req.rank_params)
    const strategy = (rank.strategy ?? 'rrf').toLowerCase()
    let rankParams: Record<string, unknown> = {}
    try {
      rankParams = rank.params ? (JSON.parse(rank.params) as Record<string, unknown>) : {}
    } catch {
      throw invalid(`rank params must be a JSON object: ${rank.params}`)
    }
    const limit = int(rank.limit, 'limit', 0)
    if (limit <= 0 || limit > MAX_TOPK) throw invalid(`limit [${limit}] is invalid, it should be in range [1, ${MAX_TOPK}]`)
    const offset = int(rank.offset, 'offset', 0)
    if (offset < 0 || offset + limit > MAX_TOPK) throw invalid(`limit + offset should be in range [1, ${MAX_TOPK}], but got ${offset + limit}`)
    const roundDecimal = int(rank.round_decimal, 'round_decimal', -1)
    // Milvus groups hybrid results by rank_params' group_by_field (sub-requests' own are ignored).
    if ((rank.group_by_field ?? '').trim()) throw new DbError('ServiceUnimplemented', 'grouping in hybrid search (group_by_field in rank_params) is not implemented by Harrier yet')
    let contribution: (metric: MetricType, score: number, rankPos: number, sub: number) => number
    if (strategy === 'rrf') {
      const k = rankParams.k === undefined ? 60 : Number(rankParams.k)
      if (!Number.isFinite(k) || k <= 0 || k >= 16384) throw invalid(`The rank params k should be in range (0, 16384), but got ${String(rankParams.k)}`)
      contribution = (_m, _s, r) => 1 / (k + r + 1)
    } else if (strategy === 'weighted') {
      const weights = rankParams.weights
      if (!Array.isArray(weights) || weights.length !== subs.length) throw invalid(`the length of weights param mismatch with ann search requests: want ${subs.length}`)
      const w = weights.map(Number)
      if (w.some((x) => !Number.isFinite(x) || x < 0 || x > 1)) throw invalid('rank param weight should be in range [0, 1]')
      const norm = rankParams.norm_score === undefined ? true : rankParams.norm_score === true || rankParams.norm_score === 'true'
      contribution = (m, s, _r, i) => w[i]! * (norm ? normalizeScore(m, s) : s)
    } else {
      throw invalid(`unsupported rank type ${strategy}`)
    }
    const out = this.outputFields(c, strList(req.output_fields), { withVectors: true })
    const partitionIds = this.partitionFilter(c, strList(req.partition_names), true)
    const ts = await this.snapshotTs(req, c)
    const rt = this.d.data.runtime(c.id)
    let nq = -1
    type Found = { score: number; chunk: RowChunk; row: number }
    let perQuery: Map<bigint | string, Found>[] = []
    const specs = subs.map((sub) => {
      const { spec, nq: subNq } = this.searchSpec(c, { ...sub, use_default_consistency: false }, ts, partitionIds, 'hybrid')
      if (nq === -1) {
        nq = subNq
        perQuery = Array.from({ length: nq }, () => new Map())
      } else if (subNq !== nq) throw invalid(`all sub-requests must have the same nq: ${nq} vs ${subNq}`)
      return spec
    })
    // The sub-searches' graph traversals run side by side (one batch per graph).
    const fields = out.fields.map((f) => f.name)
    const results = await Promise.all(
      specs.map((spec, i) => this.searchSpread(c, rt, { ...spec, offset: 0, topk: spec.topk + spec.offset }, { op: 'hybrid', request: { ...subs[i]!, use_default_consistency: false }, fields, partitionIds: partitionIds && [...partitionIds] })),
    )
    specs.forEach((spec, i) => {
      const res = results[i]!
      let at = 0
      for (let q = 0; q < nq; q++) {
        const n = res.topks[q]!
        for (let r = 0; r < n; r++, at++) {
          if (r < spec.offset) continue
          const chunk = res.chunks[res.chunk[at]!]!
          const row = res.row[at]!
          const pk = chunk.pks[row]!
          const add = contribution(spec.metric, res.scores[at]!, r - spec.offset, i)
          const cur = perQuery[q]!.get(pk)
          if (cur) cur.score += add
          else perQuery[q]!.set(pk, { score: add, chunk, row })
        }
      }
    })
    const chunks: RowChunk[] = []
    const chunkIdx = new Map<RowChunk, number>()
    const picked: Found[] = []
    const topks: number[] = []
    for (const m of perQuery) {
      const fused = [...m.values()].sort((a, b) => b.score - a.score).slice(offset, offset + limit)
      topks.push(fused.length)
      for (const f of fused) {
        if (!chunkIdx.has(f.chunk)) chunkIdx.set(f.chunk, chunks.push(f.chunk) - 1)
        picked.push(f)
      }
    }
    const sel: RowSelection = {
      chunks,
      chunk: Int32Array.from(picked, (f) => chunkIdx.get(f.chunk)!),
      row: Int32Array.from(picked, (f) => f.row),
    }
    return this.searchResults(c, out, sel, picked.map((f) => Math.fround(f.score)), nq, limit, roundDecimal, ts, topks)
  }
}

/** search_params as a lookup: the key/value pairs first, then the JSON in `params`. */
function searchParams(req: Req): { param: (k: string) => string | undefined; extra: Record<string, unknown> } {
  const sp = kvToRecord(req.search_params)
  let extra: Record<string, unknown> = {}
  if (sp.params) {
    try {
      extra = JSON.parse(sp.params) as Record<string, unknown>
    } catch {
      throw invalid(`search params must be a JSON object: ${sp.params}`)
    }
  }
  return { param: (k: string): string | undefined => sp[k] ?? (extra[k] !== undefined ? String(extra[k]) : undefined), extra }
}

/** The searched vector field: anns_field, or the collection's only vector field. */
function annsField(c: CollectionInfo, param: (k: string) => string | undefined): FieldSchema {
  const vectorFields = c.schema.fields.filter((f) => isVectorType(f.dataType))
  const annsName = param('anns_field') ?? ''
  if (annsName) {
    const anns = c.schema.fields.find((f) => f.name === annsName)
    if (!anns) throw new DbError('FieldNotFound', `failed to get field schema by name: ${annsName}`)
    if (!isVectorType(anns.dataType)) throw invalid(`field ${annsName} is not a vector field`)
    return anns
  }
  if (vectorFields.length === 1) return vectorFields[0]!
  throw invalid('multiple anns_fields exist, please specify a anns_field in search_params')
}

/** A holder's searched share as a result over its own chunk. */
function searchOf(pkField: string, r: ShareReply): SearchResult {
  return shareResult(shareChunk(r.columns, r.numRows, pkField), r.topks ?? [], r.scores ?? new Float32Array(0))
}

/** A holder's retrieved share as a selection of its own chunk. */
function rowsOf(pkField: string, r: ShareReply): RowSelection {
  return { chunks: [shareChunk(r.columns, r.numRows, pkField)], chunk: new Int32Array(r.numRows), row: Int32Array.from({ length: r.numRows }, (_, i) => i) }
}
