/**
 * The proxy's read path: Query, Search (plain, grouped, by primary key, iterator v2) and
 * HybridSearch. Parses search parameters as Milvus's proxy does, resolves consistency into a snapshot
 * timestamp, runs the executor, and shapes results the way the official SDK decodes them.
 */
import type { CollectionInfo, ConsistencyLevel } from '../catalog/model.js'
import { DbError, invalid } from '../common/errors.js'
import type { Timestamp } from '../common/tso.js'
import type { RootCoord } from '../coord/root-coord.js'
import { parseFilter, type FilterPlan } from '../expr/index.js'
import { GraphSearchBatcher, higherIsBetter, normalizeMetric, type MetricType } from '../index/index.js'
import type { DataPlane } from '../nodes/data-plane.js'
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
  type SearchSpec,
} from '../query/executor.js'
import { vectorRows as vectorRowCount } from '../query/scan.js'
import type { RowChunk } from '../segment/segment.js'
import { decodePlaceholderVectors, encodeDynamicField, encodeFieldData, encodeIds } from '../schema/field-data.js'
import type { Column, ColumnOf, VectorColumn } from '../schema/columns.js'
import { DYNAMIC_FIELD_NAME, isVectorType, primaryField, type FieldSchema } from '../schema/types.js'
import type { Metrics } from './metrics.js'
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
  readonly data: DataPlane
  readonly metrics: Metrics
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
    return data.readTimestamp(guarantee)
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
    if (requested.some((f) => f.trim().toLowerCase() === 'count(*)')) {
      if (requested.length > 1) throw invalid('count entities with pagination is not allowed')
      const n = count(rt, { ts, filter: plan, partitionIds })
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
    const sel = retrieve(rt, { ts, filter: plan, partitionIds, limit, offset })
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
  private searchSpec(c: CollectionInfo, req: Req, ts: Timestamp, partitionIds: Set<bigint> | undefined, mode: 'search' | 'hybrid' = 'search'): ParsedSearch {
    const sp = kvToRecord(req.search_params)
    let extra: Record<string, unknown> = {}
    if (sp.params) {
      try {
        extra = JSON.parse(sp.params) as Record<string, unknown>
      } catch {
        throw invalid(`search params must be a JSON object: ${sp.params}`)
      }
    }
    const param = (k: string): string | undefined => sp[k] ?? (extra[k] !== undefined ? String(extra[k]) : undefined)
    const hybrid = mode === 'hybrid'
    if (req.search_by_primary_keys) {
      throw new DbError('ServiceUnimplemented', 'search_by_primary_keys (deprecated) is not implemented by Harrier; pass the primary keys in ids instead')
    }
    const vectorFields = c.schema.fields.filter((f) => isVectorType(f.dataType))
    const annsName = param('anns_field') ?? ''
    let anns: FieldSchema | undefined
    if (annsName) {
      anns = c.schema.fields.find((f) => f.name === annsName)
      if (!anns) throw new DbError('FieldNotFound', `failed to get field schema by name: ${annsName}`)
      if (!isVectorType(anns.dataType)) throw invalid(`field ${annsName} is not a vector field`)
    } else if (vectorFields.length === 1) {
      anns = vectorFields[0]
    } else {
      throw invalid('multiple anns_fields exist, please specify a anns_field in search_params')
    }
    const field = anns!
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
      queries = this.vectorsByPrimaryKey(c, field, ids ?? {}, ts, partitionIds)
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
    const { selection, missing } = rowsByPrimaryKey(this.d.data.runtime(c.id), { ts, partitionIds }, pks)
    if (missing.length > 0) throw invalid(`some of the provided primary key IDs do not exist: missing IDs = [${missing.join(' ')}]`)
    return gather(field, selection) as VectorColumn
  }

  async search(c: CollectionInfo, req: Req): Promise<Record<string, unknown>> {
    this.requireLoaded(c)
    const { data } = this.d
    const out = this.outputFields(c, strList(req.output_fields), { withVectors: true })
    const partitionIds = this.partitionFilter(c, strList(req.partition_names), true)
    const ts = await this.snapshotTs(req, c)
    const parsed = this.searchSpec(c, req, ts, partitionIds)
    const { spec, nq, roundDecimal } = parsed
    const started = performance.now()
    if (parsed.iterator) {
      const page = this.iteratorPage(c, out, parsed, parsed.iterator)
      this.d.metrics.searched(nq, (performance.now() - started) / 1000)
      return page
    }
    const res = await searchBatched(data.runtime(c.id), spec, this.graphs)
    this.d.metrics.searched(nq, (performance.now() - started) / 1000)
    return this.searchResults(c, out, res, Array.from(res.scores), nq, spec.topk, roundDecimal, ts, undefined, { groupField: parsed.groupField })
  }

  /**
   * One page of search iterator v2. The reply's token names the cursor and last_bound is the last
   * hit's score (Milvus's getLastBound: the incoming bound on an empty page, or the best possible
   * score on an empty first page).
   */
  private iteratorPage(c: CollectionInfo, out: OutputSpec, parsed: ParsedSearch, it: IteratorRequest): Record<string, unknown> {
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
    const res = searchIteratorPage(this.d.data.runtime(c.id), spec, page)
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
    const results = await Promise.all(specs.map((spec) => searchBatched(rt, { ...spec, offset: 0, topk: spec.topk + spec.offset }, this.graphs)))
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
