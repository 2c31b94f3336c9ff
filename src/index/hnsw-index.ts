/**
 * HNSW. Float32, float16, bfloat16 and int8 rows go on the column graph (column-graph.ts: Harrier's
 * addon over usearch's header-only graph, reading the segment's column in place, filtering while
 * it walks, searching on native threads); binary rows, and every type where that addon is not
 * built or a copy is asked for (`floatStorage`), on usearch's prebuilt addon as described below.
 * Either way the graph finds candidates, and every reported
 * score is recomputed from the raw column with the brute-force kernels, so scores are exactly what
 * bruteForceSearch and `distance()` give for the same pair (Milvus's L2 squared, IP and COSINE as
 * similarities, HAMMING, JACCARD) whatever precision or distance form usearch used internally.
 *
 * usearch 2.25.3 facts this file relies on (read from its lib.cpp and index.hpp):
 * - `expansion_search` is fixed per instance and the JS binding has no setter, but a search for
 *   `wanted` results runs with a beam of max(expansion_search, wanted) and keeps the best `wanted`.
 *   The index is created with expansion_search = 1 and every search asks for max(ef, k)
 *   candidates: exactly HNSW with beam ef, truncated to k, so ef can change per search without
 *   reopening the index.
 * - Its JS wrapper hands every vector to the addon as a Float32Array (it converts other arrays),
 *   and casting f32 to i8 rescales by the vector's norm, which breaks L2 and IP. Storage is
 *   therefore: float32 as bf16 (below); float16 and bfloat16 as f16 and bf16 (exact); int8 as f16
 *   (exact, |v| <= 128); binary as b1 after unpacking bits to 0/1 floats.
 * - usearch keeps its own copy of every vector inside the graph; it cannot read ours. Float32 rows
 *   are therefore stored as bf16 there: the graph only proposes candidates, which are re-scored
 *   from the float32 column, so the copy needs ranking precision, not exact values. bf16 keeps
 *   float32's exponent range (no overflow, unlike f16) and halves the copy; on this machine's
 *   AVX-512 its distance kernels also run faster than f32's. Every candidate of a bf16 graph is
 *   re-scored, and recall@10 then equals the f32 graph's at every ef (measured: 100k x 128 L2 and
 *   25k x 768 COSINE, ef 24-128) at 1.1-1.4x (128-d) and 2-3x (768-d) the QPS.
 *   `floatStorage: 'f32'` keeps full precision; files of either kind load.
 * - Keys are BigInt; row offsets are the keys. Null rows are never added.
 * - save/load take file paths only, so (de)serialization goes through a private temp directory.
 * - Loading a malformed file crashes the process (segfault), so the graph file carries a CRC-32C
 *   in the header and is checked before usearch sees it.
 *
 * IP is not searched on usearch's `ip` graph: inner product is not a metric, and on clustered data
 * with unequal norms that graph found only ~70 % of the true top-150 at any beam (measured: the
 * deep candidate lists that filtered and range search rely on). Rows are instead indexed under the
 * standard MIPS-to-L2 reduction, x' = [x, sqrt(maxNorm^2 - |x|^2)] with queries q' = [q, 0], where
 * |q' - x'|^2 = |q|^2 + maxNorm^2 - 2 q.x orders rows exactly as descending q.x, on a metric
 * graph (same recall profile as L2: ~0.99 at depth 1500). For normalized rows it is plain L2.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Index as UsearchIndex } from 'usearch'
import type usearchModule from 'usearch'
import type { Bitset } from '../common/bitset.js'
import { crc32c } from '../common/crc32.js'
import { DbError, invalid } from '../common/errors.js'
import type { VectorColumn } from '../schema/columns.js'
import { columnRows } from '../schema/columns.js'
import { isVectorType } from '../schema/types.js'
import { bruteForceSearch, checkPair, keyRange, type Hits } from './brute-force.js'
import {
  countAllowed,
  decodeDenseColumn,
  type DenseColumn,
  type DenseOrBinary,
  EMPTY_HITS,
  exactScorer,
  isCount,
  isMetric,
  nonNullRows,
  oneRow,
  type RowScorer,
  rowToF32,
} from './dense-rows.js'
import { type ColumnElement, type ColumnGraph, type ColumnGraphKind, columnGraphAvailable, filterWords, newColumnGraph } from './column-graph.js'
import { type GraphMatches, type GraphSearchBatcher, searchGraph } from './graph-search.js'
import { exactSearch } from './native-exact.js'
import { type HnswBuildParams, hnswBuildParams, indexTypeSpec, type SearchProfile, searchEf } from './index-params.js'
import { checkMetric, higherIsBetter, type MetricType } from './metric.js'
import type { IndexSearchOptions, VectorIndex } from './vector-index.js'

type Usearch = typeof usearchModule
/** 'column': no copy at all, the graph reads the segment's column in place (column-graph.ts). */
type ScalarName = 'f32' | 'f16' | 'bf16' | 'b1' | 'column'
/** How rows are fed to usearch: as they are, or under the MIPS-to-L2 reduction (IP). */
type Transform = 'none' | 'mips'
/**
 * usearch's std::thread::hardware_concurrency() as far as JS can tell (it reserves that many search
 * contexts on load and for builds with threads = 0); the smaller of two estimates, to stay safe.
 */
const NATIVE_THREADS = Math.max(1, Math.min(cpus().length, availableParallelism()))
/** Largest magnitude kept for the MIPS extra coordinate in f16 storage (f16 max is 65504). */
const F16_SAFE = 60000

export const HNSW_META_FILE = 'hnsw.meta.json'
const GRAPH_FILE = 'hnsw.graph'
const DATA_FILE = 'hnsw.data'
const VALID_FILE = 'hnsw.valid'

/** Rows handed to usearch per add call: bounds the conversion buffer and paces progress/abort. */
const ADD_CHUNK_ROWS = 2048
/** Queries per usearch call: bounds the result buffers (queries x wanted x 12 bytes). */
const QUERY_BATCH = 256
/**
 * Filtered search goes exact when the allowed rows are fewer than sqrt(OVERFETCH * k * n * ratio):
 * there the exact scan (allowed rows x dim in JS) costs less than a graph search whose beam must
 * grow as k / passRate. The ratio is the measured cost of one usearch graph step relative to one JS
 * row scan (SIMD kernel, but ~M neighbours visited per candidate).
 */
const EXACT_COST_RATIO = 8
/** Over-fetch over the expected number of candidates needed to find k allowed ones. */
const OVERFETCH = 1.5
/** Beam growth per retry when a filtered or range search came back short. */
const GROWTH = 4

export interface HnswOptions {
  /** Milvus index_type the index reports (HNSW, AUTOINDEX or a stand-in); default HNSW. */
  readonly indexType?: string
  /** usearch threads for add; 0 = all cores. Default 0. */
  readonly threads?: number
  /** usearch threads per batch search; 0 = all cores. Default 1 (searches run side by side). */
  readonly searchThreads?: number
  /**
   * Filtered searches with at most this many allowed rows run exact; default from the cost model
   * (EXACT_COST_RATIO). 0 forces the graph whenever there is one (tests use it).
   */
  readonly filterExactRows?: number
  /**
   * Where rows live for the graph: absent (default where the harrier_graph addon is built) the
   * graph reads the segment's column in place; 'column' asks for that explicitly; 'bf16'/'f32'
   * give usearch its own copy (float32 rows at that precision; float16, bfloat16 and int8 rows in
   * their exact storage, f32 where f16 would overflow).
   */
  readonly floatStorage?: 'f32' | 'bf16' | 'column'
  /** Called after each added chunk with the fraction of rows added. */
  readonly onProgress?: (fraction: number) => void
  /** Polled between chunks; true aborts the build with a DbError. */
  readonly shouldStop?: () => boolean
}

interface HnswMeta {
  readonly version: 1
  readonly engine: 'HNSW'
  readonly indexType: string
  readonly metric: MetricType
  readonly params: Record<string, string>
  readonly vectorType: DenseOrBinary['type']
  readonly dim: number
  readonly rows: number
  /** Non-null rows, the keys in the graph. */
  readonly indexed: number
  readonly M: number
  readonly efConstruction: number
  readonly scalar: ScalarName
  readonly transform: Transform
  readonly graphBytes: number
  readonly graphCrc: number
}

/**
 * The graph behind an HnswIndex: usearch's index with its own copy of the rows, or the column
 * graph, which reads the column in place, filters natively and searches off the event loop.
 */
type Graph = { readonly kind: 'usearch'; readonly u: UsearchIndex } | { readonly kind: 'column'; readonly c: ColumnGraph }

/** Rows per native add call on the column graph: paces progress reports and abort checks. */
const COLUMN_ADD_CHUNK_ROWS = 16384

function columnKind(metric: MetricType): ColumnGraphKind {
  return metric === 'IP' ? 'mips' : metric === 'COSINE' ? 'cos' : 'l2'
}

/** The rows a graph indexes, as the addon takes them (null: every row). */
function rowList(validRows: Int32Array | null): Uint32Array | null {
  return validRows === null ? null : new Uint32Array(validRows.buffer, validRows.byteOffset, validRows.length)
}

/** The usearch module, loaded on first use so FLAT keeps working where the addon cannot load. */
function loadUsearch(): Usearch {
  try {
    return createRequire(import.meta.url)('usearch') as Usearch
  } catch (e) {
    throw new DbError('IndexNotSupported', 'HNSW needs the usearch native addon, which failed to load here', {
      cause: e,
    })
  }
}

function scalarFor(type: DenseOrBinary['type'], floatStorage?: 'f32' | 'bf16' | 'column'): ScalarName {
  switch (type) {
    case 'FloatVector':
      return floatStorage ?? (columnGraphAvailable() ? 'column' : 'bf16')
    case 'Float16Vector':
    case 'Int8Vector':
      return inPlace(floatStorage) ? 'column' : 'f16'
    case 'BFloat16Vector':
      return inPlace(floatStorage) ? 'column' : 'bf16'
    case 'BinaryVector':
      return 'b1'
  }
}

/** Whether rows other than float32 are read in place: asked for, or by default where the addon is built. */
function inPlace(floatStorage: HnswOptions['floatStorage']): boolean {
  return floatStorage === 'column' || (floatStorage === undefined && columnGraphAvailable())
}

/** The column graph's element type for a dense vector type. */
function columnElement(type: DenseColumn['type']): ColumnElement {
  return type === 'FloatVector' ? 'f32' : type === 'Float16Vector' ? 'f16' : type === 'BFloat16Vector' ? 'bf16' : 'i8'
}

/** Elements per row as usearch sees it (bits for binary; one more under the MIPS reduction). */
function graphDim(dim: number, transform: Transform): number {
  return transform === 'mips' ? dim + 1 : dim
}

function newGraph(
  u: Usearch,
  meta: Pick<HnswMeta, 'metric' | 'dim' | 'M' | 'efConstruction' | 'scalar' | 'indexed' | 'transform'>,
): UsearchIndex {
  const metric =
    meta.metric === 'L2' || meta.transform === 'mips'
      ? u.MetricKind.L2sq
      : meta.metric === 'IP'
        ? u.MetricKind.IP
        : meta.metric === 'COSINE'
          ? u.MetricKind.Cos
          : meta.metric === 'HAMMING'
            ? u.MetricKind.Hamming
            : u.MetricKind.Tanimoto
  const quantization =
    meta.scalar === 'f32'
      ? u.ScalarKind.F32
      : meta.scalar === 'f16'
        ? u.ScalarKind.F16
        : meta.scalar === 'bf16'
          ? u.ScalarKind.BF16
          : u.ScalarKind.B1
  try {
    return new u.Index({
      dimensions: graphDim(meta.dim, meta.transform),
      metric,
      quantization,
      connectivity: meta.M,
      // A beam wider than the data set explores nothing more; clamping keeps huge client values
      // from becoming huge allocations.
      expansion_add: Math.max(1, Math.min(meta.efConstruction, meta.indexed)),
      // The search beam is chosen per call through `wanted` (see the file comment).
      expansion_search: 1,
      multi: false,
    })
  } catch (e) {
    throw new DbError('ServiceInternal', 'usearch could not create the index', { cause: e })
  }
}

/**
 * Builds an HNSW index over the non-null rows of a dense or binary column.
 *
 * @throws DbError ParameterInvalid on bad params or a metric the vector type does not support,
 * IndexNotSupported for sparse columns or where usearch cannot load, ServiceUnavailable when
 * `shouldStop` aborts the build.
 */
export function buildHnswIndex(
  data: VectorColumn,
  metric: MetricType,
  params: Readonly<Record<string, string>> = {},
  opts: HnswOptions = {},
): HnswIndex {
  if (data.type === 'SparseFloatVector') {
    throw new DbError('IndexNotSupported', 'HNSW does not index SparseFloatVector fields')
  }
  checkMetric(metric, data.type)
  const spec = indexTypeSpec(opts.indexType ?? 'HNSW', data.type)
  if (spec.engine !== 'HNSW') throw invalid(`index type ${spec.indexType} is not an HNSW index`)
  const hp: HnswBuildParams = hnswBuildParams(spec, params)
  const rows = columnRows(data)
  const validRows = nonNullRows(data.valid, rows)
  const indexed = validRows === null ? rows : validRows.length
  const transform: Transform = metric === 'IP' ? 'mips' : 'none'
  const asked = scalarFor(data.type, opts.floatStorage)
  // The column graph derives the MIPS coordinate itself.
  const maxNorm2 = transform === 'mips' && asked !== 'column' ? maxSquaredNorm(data, validRows, indexed) : 0
  // The extra coordinate is at most maxNorm; f16 storage would overflow past its range.
  const scalar = asked === 'f16' && Math.sqrt(maxNorm2) > F16_SAFE ? 'f32' : asked
  let graph: Graph | null = null
  if (indexed > 0 && scalar === 'column') {
    if (data.type === 'BinaryVector') throw invalid('binary rows cannot be read in place by the graph')
    graph = { kind: 'column', c: buildColumnGraph(data, metric, hp, validRows, indexed, opts) }
  } else if (indexed > 0) {
    const g = newGraph(loadUsearch(), { metric, dim: data.dim, M: hp.M, efConstruction: hp.efConstruction, scalar, indexed, transform })
    addRows(g, data, validRows, indexed, transform, maxNorm2, opts)
    graph = { kind: 'usearch', u: g }
  }
  opts.onProgress?.(1)
  // addRows reserved the graph for opts.threads threads (0: usearch's hardware concurrency).
  const reservedThreads = opts.threads !== undefined && opts.threads > 0 ? opts.threads : NATIVE_THREADS
  return new HnswIndex(spec.indexType, spec.profile, metric, { ...params }, data, hp, scalar, transform, indexed, graph, { ...opts, reservedThreads })
}

function buildColumnGraph(
  data: DenseColumn,
  metric: MetricType,
  hp: HnswBuildParams,
  validRows: Int32Array | null,
  indexed: number,
  opts: HnswOptions,
): ColumnGraph {
  const threads = opts.threads !== undefined && opts.threads > 0 ? opts.threads : NATIVE_THREADS
  const g = newColumnGraph(data.data, data.dim, columnKind(metric), hp.M, hp.efConstruction, rowList(validRows), threads, columnElement(data.type))
  // At least a few steps, so that progress moves and an abort lands within a build of any size.
  const chunk = Math.max(256, Math.min(COLUMN_ADD_CHUNK_ROWS, Math.ceil(indexed / 8)))
  for (let start = 0; start < indexed; start += chunk) {
    if (opts.shouldStop?.() === true) throw new DbError('ServiceUnavailable', 'index build aborted')
    const end = Math.min(indexed, start + chunk)
    try {
      g.add(start, end, threads)
    } catch (e) {
      throw new DbError('ServiceInternal', 'the HNSW graph failed to add rows', { cause: e })
    }
    opts.onProgress?.(end / indexed)
  }
  return g
}

/** max |x|^2 over the rows to index, on the float32 values usearch is fed. */
function maxSquaredNorm(data: DenseOrBinary, validRows: Int32Array | null, indexed: number): number {
  const dim = data.dim
  const buf = new Float32Array(dim)
  let max = 0
  for (let i = 0; i < indexed; i++) {
    rowToF32(data, validRows === null ? i : validRows[i]!, buf, 0)
    max = Math.max(max, squaredNorm(buf, 0, dim))
  }
  return max
}

function squaredNorm(x: Float32Array, o: number, dim: number): number {
  let s = 0
  for (let j = 0; j < dim; j++) s += x[o + j]! * x[o + j]!
  return s
}

function addRows(
  graph: UsearchIndex,
  data: DenseOrBinary,
  validRows: Int32Array | null,
  indexed: number,
  transform: Transform,
  maxNorm2: number,
  opts: HnswOptions,
): void {
  const dim = data.dim
  const udim = graphDim(dim, transform)
  const chunk = Math.min(ADD_CHUNK_ROWS, indexed)
  const buf = new Float32Array(chunk * udim)
  const keys = new BigUint64Array(chunk)
  for (let start = 0; start < indexed; start += chunk) {
    if (opts.shouldStop?.() === true) {
      throw new DbError('ServiceUnavailable', 'index build aborted')
    }
    const end = Math.min(indexed, start + chunk)
    const n = end - start
    for (let i = 0; i < n; i++) keys[i] = BigInt(validRows === null ? start + i : validRows[start + i]!)
    let vecs: Float32Array
    if (data.type === 'FloatVector' && validRows === null && transform === 'none') {
      // The addon reads typed arrays through their byteOffset, so a view is safe here (unlike
      // usearch.exactSearch, which this file never uses).
      vecs = data.data.subarray(start * udim, end * udim)
    } else {
      for (let i = 0; i < n; i++) {
        const row = validRows === null ? start + i : validRows[start + i]!
        rowToF32(data, row, buf, i * udim)
        if (transform === 'mips') {
          buf[i * udim + dim] = Math.sqrt(Math.max(0, maxNorm2 - squaredNorm(buf, i * udim, dim)))
        }
      }
      vecs = buf.subarray(0, n * udim)
    }
    try {
      graph.add(n === chunk ? keys : keys.subarray(0, n), vecs, opts.threads ?? 0)
    } catch (e) {
      throw new DbError('ServiceInternal', 'usearch failed to add vectors', { cause: e })
    }
    opts.onProgress?.(end / indexed)
  }
}

/** Accepted candidates of one query: exact keys (negated for similarities) and rows. */
interface Candidates {
  keys: number[]
  rows: number[]
}

/** What one pass over a query's graph candidates established. */
type PassResult = 'done' | 'grow' | 'exact'

/**
 * A built or loaded HNSW index. Holds the raw column (for exact re-scoring, exact fallbacks and
 * serialization) next to the usearch graph.
 */
export class HnswIndex implements VectorIndex {
  readonly indexType: string
  readonly metric: MetricType
  /** The client's build params as given (reported back, stored in the header). */
  readonly params: Readonly<Record<string, string>>
  readonly buildParams: HnswBuildParams
  /** Non-null rows in the graph. */
  readonly indexed: number
  readonly #profile: SearchProfile
  readonly #data: DenseOrBinary
  readonly #scalar: ScalarName
  readonly #transform: Transform
  readonly #graph: Graph | null
  readonly #rows: number
  readonly #searchThreads: number
  readonly #filterExactRows: number | undefined
  /** The graph holds a rounded copy of the rows (float32 stored as bf16). */
  readonly #lossy: boolean
  /**
   * Threads that may search the graph at once: usearch reserves one search context per thread of
   * the last reservation (the build's `threads`, or all cores for a loaded graph).
   */
  readonly #searchContexts: number

  /** @internal Use buildHnswIndex / loadHnswIndex. */
  constructor(
    indexType: string,
    profile: SearchProfile,
    metric: MetricType,
    params: Readonly<Record<string, string>>,
    data: DenseOrBinary,
    buildParams: HnswBuildParams,
    scalar: ScalarName,
    transform: Transform,
    indexed: number,
    graph: Graph | null,
    opts: Pick<HnswOptions, 'searchThreads' | 'filterExactRows'> & { readonly reservedThreads?: number },
  ) {
    this.indexType = indexType
    this.#profile = profile
    this.metric = metric
    this.params = params
    this.#data = data
    this.buildParams = buildParams
    this.#scalar = scalar
    this.#transform = transform
    this.indexed = indexed
    this.#graph = graph
    this.#rows = columnRows(data)
    this.#searchThreads = opts.searchThreads ?? 1
    this.#filterExactRows = opts.filterExactRows
    this.#lossy = data.type === 'FloatVector' && scalar === 'bf16'
    this.#searchContexts = opts.reservedThreads ?? NATIVE_THREADS
  }

  /**
   * Top-k or range search. Unfiltered: one graph search with beam max(ef, k). Filtered: exact over
   * the allowed rows when they are few (cost model), else a graph search over-fetching
   * max(ef / sqrt(passRate), 1.5k / passRate) candidates, post-filtered, with the beam grown x4 while a query comes back
   * short and an exact search for that query once the beam would cover half the graph. Range
   * search runs the same loop, stopping once the farthest candidate lies beyond the radius.
   *
   * @throws DbError ParameterInvalid on a query of another type or dim, bad k, bad range bounds or
   * bad search params (ef < k for HNSW).
   */
  search(queries: VectorColumn, opts: IndexSearchOptions): Hits[] {
    const plan = this.#plan(queries, opts)
    if (plan.kind === 'done') return plan.hits
    const { live, udim } = plan
    for (let b = 0; b < live.length; b += QUERY_BATCH) {
      const batch = live.slice(b, b + QUERY_BATCH)
      const m = this.#searchSync(plan.graph, this.#queryMatrix(plan.q, batch, udim), batch.length, plan.wanted, plan.ctx.allow)
      this.#finish(plan, batch, m)
    }
    return plan.result
  }

  /**
   * search(), with the first graph traversal handed to `batcher` so that it runs together with
   * other requests' (see graph-search.ts). Retries of short filtered or range queries run inline.
   */
  async searchBatched(queries: VectorColumn, opts: IndexSearchOptions, batcher: GraphSearchBatcher): Promise<Hits[]> {
    const plan = this.#plan(queries, opts)
    if (plan.kind === 'done') return plan.hits
    const matrix = this.#queryMatrix(plan.q, plan.live, plan.udim)
    const graph = plan.graph
    let m: GraphMatches
    if (graph.kind === 'column') {
      try {
        m = await graph.c.searchAsync(matrix, plan.live.length, plan.wanted, ...filterWords(plan.ctx.allow))
      } catch (e) {
        throw new DbError('ServiceInternal', 'HNSW graph search failed', { cause: e })
      }
    } else {
      m = await batcher.search(graph.u, matrix, plan.live.length, plan.wanted, this.#searchContexts)
    }
    await this.#finishAsync(plan, plan.live, m)
    return plan.result
  }

  /**
   * One graph search on this thread. The column graph applies the allow-list itself, so what it
   * returns is allowed already; usearch's candidates are filtered afterwards by #pass.
   */
  #searchSync(graph: Graph, queries: Float32Array, nq: number, wanted: number, allow: Bitset | undefined): GraphMatches {
    if (graph.kind === 'usearch') return searchGraph(graph.u, queries, wanted, this.#searchThreads)
    try {
      return graph.c.search(queries, nq, wanted, ...filterWords(allow))
    } catch (e) {
      throw new DbError('ServiceInternal', 'HNSW graph search failed', { cause: e })
    }
  }

  /** Validates a search and settles what needs no graph (exact paths, null queries). */
  #plan(queries: VectorColumn, opts: IndexSearchOptions): SearchPlan {
    const data = this.#data
    const metric = this.metric
    checkPair(data, queries, metric)
    const k = opts.k
    if (!Number.isInteger(k) || k <= 0) throw invalid(`topk must be a positive integer, got ${k}`)
    const [lo, hi] = keyRange(metric, false, { metric, k, radius: opts.radius, rangeFilter: opts.rangeFilter })
    const range = opts.radius !== undefined
    const ef = searchEf(this.#profile, opts.params, k, range)
    const allow = opts.allow
    const allowed = this.#countAllowed(allow)
    const exactOpts = { metric, k, allow, radius: opts.radius, rangeFilter: opts.rangeFilter }
    const graph = this.#graph
    if (graph === null || allowed === 0 || (allow !== undefined && allowed <= this.#exactLimit(k))) {
      return { kind: 'done', hits: bruteForceSearch(data, queries, exactOpts) }
    }
    const q = queries as DenseOrBinary
    const nq = columnRows(q)
    const result: Hits[] = new Array(nq)
    const live: number[] = []
    for (let i = 0; i < nq; i++) {
      if (q.valid !== undefined && q.valid[i] === 0) result[i] = EMPTY_HITS
      else live.push(i)
    }
    if (live.length === 0) return { kind: 'done', hits: result }
    const passRate = allowed / this.indexed
    // The allowed top-k sit within the first k / passRate rows, so the beam must reach past that
    // (1.5x). It must also stay at least as deep, in allowed rows, as the unfiltered beam ef at
    // high pass rates, where k / passRate is below ef: ef / sqrt(passRate) does that and fades at
    // low rates, where a wide beam already has better deep recall (100k x 128, ef 48: recall
    // 0.978-1.0 at pass rates 0.9-0.05; max(ef, 1.5k / passRate) alone fell to 0.956 at 50 %).
    // The column graph filters while it walks (disallowed rows guide the walk but never enter the
    // beam), so its beam of ef holds allowed rows only and needs no over-fetch.
    const first =
      passRate >= 1 || graph.kind === 'column'
        ? Math.max(ef, k)
        : Math.ceil(Math.max(ef / Math.sqrt(passRate), (k * OVERFETCH) / passRate))
    const need = range ? k : Math.min(k, allowed)
    // A bf16 copy of float32 rows ranks candidates only roughly (100k x 128 L2, ef 128: recall
    // 0.996 re-scoring the first 2k, 1.0 re-scoring all), so all of them are re-scored; an exact
    // copy's order differs from the exact scores only by rounding near the k-th place.
    const rescore = this.#lossy ? Math.max(2 * k, ef) : 2 * k
    return {
      kind: 'graph',
      graph,
      q,
      ctx: { k, need, lo, hi, allow, range, rescore },
      exactOpts,
      live,
      result,
      wanted: Math.min(this.indexed, first),
      // The column graph reads queries as they are; usearch's copy has the MIPS coordinate.
      udim: graph.kind === 'column' ? data.dim : graphDim(data.dim, this.#transform),
    }
  }

  /** Rows `which` of q as float32 graph queries (under MIPS the extra coordinate stays 0). */
  #queryMatrix(q: DenseOrBinary, which: readonly number[], udim: number): Float32Array {
    const f32 = new Float32Array(which.length * udim)
    for (let i = 0; i < which.length; i++) rowToF32(q, which[i]!, f32, i * udim)
    return f32
  }

  /** Turns the graph's candidates for queries `batch` (in order) into hits, growing the beam where short. */
  #finish(plan: GraphPlan, batch: readonly number[], m: GraphMatches): void {
    const { q, ctx, wanted, udim, graph } = plan
    for (let i = 0; i < batch.length; i++) {
      const qi = batch[i]!
      const score = this.#scorer(q, qi)
      let next = this.#next(ctx, score, m.keys, i * wanted, m.counts[i]!, wanted)
      while ('wanted' in next) {
        const r = this.#searchSync(graph, this.#queryMatrix(q, [qi], udim), 1, next.wanted, ctx.allow)
        next = this.#next(ctx, score, r.keys, 0, r.counts[0]!, next.wanted)
      }
      plan.result[qi] = 'hits' in next ? next.hits : this.#exactOne(q, qi, plan.exactOpts)
    }
  }

  /**
   * #finish for searchBatched: a query that comes back short grows its beam on the column graph's
   * native threads, and one that goes exact scans on them where the native scan applies, so that
   * even the retries keep graph walks and large scans off the event loop.
   */
  async #finishAsync(plan: GraphPlan, batch: readonly number[], m: GraphMatches): Promise<void> {
    const { q, ctx, wanted, udim, graph } = plan
    if (graph.kind !== 'column') return this.#finish(plan, batch, m)
    for (let i = 0; i < batch.length; i++) {
      const qi = batch[i]!
      const score = this.#scorer(q, qi)
      let next = this.#next(ctx, score, m.keys, i * wanted, m.counts[i]!, wanted)
      while ('wanted' in next) {
        let r: GraphMatches
        try {
          r = await graph.c.searchAsync(this.#queryMatrix(q, [qi], udim), 1, next.wanted, ...filterWords(ctx.allow))
        } catch (e) {
          throw new DbError('ServiceInternal', 'HNSW graph search failed', { cause: e })
        }
        next = this.#next(ctx, score, r.keys, 0, r.counts[0]!, next.wanted)
      }
      if ('hits' in next) {
        plan.result[qi] = next.hits
        continue
      }
      plan.result[qi] = (await exactSearch(this.#data, oneRow(q, qi), plan.exactOpts))[0]!
    }
  }

  /**
   * One query's state after a pass over `count` graph candidates at keys[off...]: its hits, a
   * wider beam to search next (grown x4), or an exact scan (once the beam would cover half the
   * graph, or the graph cannot say what is missing).
   */
  #next(ctx: PassContext, score: RowScorer, keys: BigUint64Array | Uint32Array, off: number, count: number, wanted: number): Next {
    const cand: Candidates = { keys: [], rows: [] }
    const verdict = this.#pass(ctx, score, keys, off, count, wanted, cand)
    if (verdict === 'done') return { hits: toHits(cand, ctx.k, higherIsBetter(this.metric)) }
    if (verdict === 'exact') return { exact: true }
    const w = Math.min(this.indexed, wanted * GROWTH)
    return w * 2 > this.indexed ? { exact: true } : { wanted: w }
  }

  /**
   * Scans one query's candidates in graph order, keeping allowed, in-range ones with exact keys.
   * At most ctx.rescore are accepted (and re-scored): with an exact copy in the graph 2k is enough
   * to repair any order differences between usearch's distances and the exact ones near the k-th
   * place.
   */
  #pass(
    ctx: PassContext,
    score: RowScorer,
    keys: BigUint64Array | Uint32Array,
    off: number,
    count: number,
    wanted: number,
    out: Candidates,
  ): PassResult {
    const { allow, lo, hi } = ctx
    const sign = higherIsBetter(this.metric) ? -1 : 1
    const limit = ctx.rescore
    let scanned = 0
    for (; scanned < count && out.rows.length < limit; scanned++) {
      const row = Number(keys[off + scanned]!)
      if (allow !== undefined && !(row < allow.size && allow.get(row))) continue
      const key = sign * Math.fround(score(row))
      if (key >= lo && key < hi) {
        out.keys.push(key)
        out.rows.push(row)
      }
    }
    if (out.rows.length >= ctx.need) return 'done'
    // Every indexed row came back and was scanned: nothing is missing.
    if (count >= this.indexed) return 'done'
    // Fewer candidates than asked for although more rows exist: part of the graph is unreachable
    // from the entry point, and only an exact scan can tell what is missing.
    if (count < wanted) return 'exact'
    if (ctx.range && count > 0) {
      // Range search: candidates come nearest first, so once the farthest one is outside the
      // radius every nearer row has been seen.
      const far = Number(keys[off + count - 1]!)
      if (sign * Math.fround(score(far)) >= hi) return 'done'
    }
    return 'grow'
  }

  #exactOne(
    q: DenseOrBinary,
    qi: number,
    opts: { metric: MetricType; k: number; allow: Bitset | undefined; radius: number | undefined; rangeFilter: number | undefined },
  ): Hits {
    return bruteForceSearch(this.#data, oneRow(q, qi), opts)[0]!
  }

  #exactLimit(k: number): number {
    if (this.#filterExactRows !== undefined) return this.#filterExactRows
    return Math.sqrt(OVERFETCH * k * this.indexed * EXACT_COST_RATIO)
  }

  /** Allowed non-null rows, which are exactly the allowed keys of the graph. */
  #countAllowed(allow: Bitset | undefined): number {
    return countAllowed(allow, this.#rows, this.#data.valid, this.indexed)
  }

  /** An exact scorer for query row qi, on the same kernels and summation order as brute force. */
  #scorer(q: DenseOrBinary, qi: number): RowScorer {
    return exactScorer(this.#data, this.metric, q, qi)
  }

  /**
   * Files: `hnsw.meta.json` (header: index type, metric, params, vector type, dim, rows, graph
   * size and CRC-32C), `hnsw.graph` (usearch's own file; absent when no row is indexed),
   * `hnsw.data` (the raw rows, little-endian, as FLAT stores them) and `hnsw.valid` for nullable
   * fields. The raw rows make the files self-contained, as knowhere's HNSW files are.
   */
  serialize(): Map<string, Uint8Array> {
    const graph = this.#graph === null ? new Uint8Array(0) : this.#graph.kind === 'column' ? saveColumnGraph(this.#graph.c) : saveGraph(this.#graph.u)
    const meta: HnswMeta = {
      version: 1,
      engine: 'HNSW',
      indexType: this.indexType,
      metric: this.metric,
      params: { ...this.params },
      vectorType: this.#data.type,
      dim: this.#data.dim,
      rows: this.#rows,
      indexed: this.indexed,
      M: this.buildParams.M,
      efConstruction: this.buildParams.efConstruction,
      scalar: this.#scalar,
      transform: this.#transform,
      graphBytes: graph.length,
      graphCrc: crc32c(graph),
    }
    const files = new Map<string, Uint8Array>()
    files.set(HNSW_META_FILE, new TextEncoder().encode(JSON.stringify(meta)))
    if (this.#graph !== null) files.set(GRAPH_FILE, graph)
    const d = this.#data.data
    files.set(DATA_FILE, new Uint8Array(d.buffer, d.byteOffset, d.byteLength))
    if (this.#data.valid !== undefined) files.set(VALID_FILE, this.#data.valid)
    return files
  }
}

interface GraphPlan {
  readonly kind: 'graph'
  readonly graph: Graph
  readonly q: DenseOrBinary
  readonly ctx: PassContext
  readonly exactOpts: { metric: MetricType; k: number; allow: Bitset | undefined; radius: number | undefined; rangeFilter: number | undefined }
  /** Non-null queries, which need the graph. */
  readonly live: number[]
  /** Filled in by #finish (null queries already are). */
  readonly result: Hits[]
  /** Candidates asked of the first graph search. */
  readonly wanted: number
  /** Elements per graph query. */
  readonly udim: number
}

type SearchPlan = { readonly kind: 'done'; readonly hits: Hits[] } | GraphPlan

/** See HnswIndex.#next. */
type Next = { readonly hits: Hits } | { readonly wanted: number } | { readonly exact: true }

interface PassContext {
  readonly k: number
  /** Accepted candidates that make a query complete. */
  readonly need: number
  readonly lo: number
  readonly hi: number
  readonly allow: Bitset | undefined
  readonly range: boolean
  /** Accepted candidates to re-score before a pass stops. */
  readonly rescore: number
}

function toHits(c: Candidates, k: number, higher: boolean): Hits {
  const order = Array.from(c.rows.keys())
  order.sort((a, b) => c.keys[a]! - c.keys[b]! || c.rows[a]! - c.rows[b]!)
  const n = Math.min(k, order.length)
  const rows = new Int32Array(n)
  const scores = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    const j = order[i]!
    rows[i] = c.rows[j]!
    // 0 - key rather than -key: an IP of exactly 0 must not come out as -0.
    scores[i] = higher ? 0 - c.keys[j]! : c.keys[j]!
  }
  return { rows, scores }
}

/** Runs fn with a private temp directory that is removed afterwards whatever happens. */
function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'harrier-hnsw-'))
  try {
    return fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function saveColumnGraph(graph: ColumnGraph): Uint8Array {
  try {
    const b = graph.save()
    // A plain Uint8Array that owns its whole buffer: callers may transfer it to another thread.
    return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? new Uint8Array(b.buffer) : b.slice()
  } catch (e) {
    throw new DbError('ServiceInternal', 'the HNSW graph could not be saved', { cause: e })
  }
}

function saveGraph(graph: UsearchIndex): Uint8Array {
  return withTempDir((dir) => {
    const path = join(dir, GRAPH_FILE)
    try {
      graph.save(path)
    } catch (e) {
      throw new DbError('ServiceInternal', 'usearch failed to save the index', { cause: e })
    }
    const b = readFileSync(path)
    // A fresh, exactly-sized buffer: callers may transfer it to another thread.
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice()
  })
}

/**
 * Rebuilds an HNSW index from serialize()'s files. With `data` (the segment's own column), the raw
 * rows are taken from it instead of `hnsw.data`; it must match the header's type, dim and rows.
 *
 * @throws DbError DataCorrupted on missing, inconsistent or damaged files (the graph is
 * checksummed before usearch reads it), ParameterInvalid if `data` does not match.
 */
export function loadHnswIndex(
  files: ReadonlyMap<string, Uint8Array>,
  data?: VectorColumn,
  opts: Pick<HnswOptions, 'searchThreads' | 'filterExactRows'> = {},
): HnswIndex {
  const metaBytes = files.get(HNSW_META_FILE)
  if (metaBytes === undefined) throw corrupted('missing header')
  let meta: HnswMeta
  try {
    meta = JSON.parse(new TextDecoder().decode(metaBytes)) as HnswMeta
  } catch (e) {
    throw new DbError('DataCorrupted', 'HNSW index header is not JSON', { cause: e })
  }
  if (
    meta.version !== 1 ||
    meta.engine !== 'HNSW' ||
    typeof meta.indexType !== 'string' ||
    !isVectorType(meta.vectorType) ||
    (meta.vectorType as string) === 'SparseFloatVector' ||
    !isMetric(meta.metric) ||
    ![meta.dim, meta.rows, meta.indexed, meta.M, meta.efConstruction, meta.graphBytes, meta.graphCrc].every(isCount) ||
    meta.dim === 0 ||
    meta.indexed > meta.rows ||
    !storageFits(meta) ||
    meta.transform !== (meta.metric === 'IP' ? 'mips' : 'none') ||
    typeof meta.params !== 'object' ||
    meta.params === null
  ) {
    throw corrupted(`unsupported header ${JSON.stringify(meta)}`)
  }
  let spec
  let checkedParams: HnswBuildParams
  try {
    spec = indexTypeSpec(meta.indexType, meta.vectorType)
    checkedParams = hnswBuildParams(spec, meta.params)
    checkMetric(meta.metric, meta.vectorType)
  } catch (e) {
    throw new DbError('DataCorrupted', 'HNSW index header has invalid parameters', { cause: e })
  }
  if (spec.engine !== 'HNSW' || checkedParams.M !== meta.M || checkedParams.efConstruction !== meta.efConstruction) {
    throw corrupted('header parameters disagree')
  }
  const col = data === undefined ? decodeColumn(files, meta) : checkColumn(data, meta)
  const present = nonNullRows(col.valid, meta.rows)
  if ((present === null ? meta.rows : present.length) !== meta.indexed) throw corrupted('null rows disagree')
  if (meta.scalar === 'column' && meta.indexed > 0 && !columnGraphAvailable() && col.type !== 'BinaryVector') {
    // Written by a build with the graph addon, read where it is not built (or switched off): the
    // graph file is the addon's, so the same graph is rebuilt on usearch from the rows, as slow as
    // the first build but correct, rather than leaving the segment unserved.
    return buildHnswIndex(col, meta.metric, meta.params, { indexType: meta.indexType, floatStorage: 'bf16', ...opts })
  }
  let graph: Graph | null = null
  if (meta.indexed > 0) {
    const bytes = files.get(GRAPH_FILE)
    if (bytes === undefined) throw corrupted('missing graph')
    if (bytes.length !== meta.graphBytes || crc32c(bytes) !== meta.graphCrc) throw corrupted('graph checksum mismatch')
    if (meta.scalar === 'column') {
      if (col.type === 'BinaryVector') throw corrupted('binary rows in a column graph')
      graph = { kind: 'column', c: loadColumnGraph(bytes, col, meta, present) }
    }
  }
  if (meta.indexed > 0 && graph === null) {
    const bytes = files.get(GRAPH_FILE)!
    const g = newGraph(loadUsearch(), meta)
    withTempDir((dir) => {
      const path = join(dir, GRAPH_FILE)
      writeFileSync(path, bytes)
      try {
        g.load(path)
      } catch (e) {
        throw new DbError('DataCorrupted', 'usearch could not load the HNSW graph', { cause: e })
      }
    })
    if (g.size() !== meta.indexed || g.dimensions() !== graphDim(meta.dim, meta.transform)) throw corrupted('graph size disagrees')
    graph = { kind: 'usearch', u: g }
  }
  return new HnswIndex(
    spec.indexType,
    spec.profile,
    meta.metric,
    { ...meta.params },
    col,
    checkedParams,
    meta.scalar,
    meta.transform,
    meta.indexed,
    graph,
    opts,
  )
}

/** A column graph over the loaded column; the addon checks that it indexes exactly `present`. */
function loadColumnGraph(bytes: Uint8Array, col: DenseColumn, meta: HnswMeta, present: Int32Array | null): ColumnGraph {
  const g = newColumnGraph(col.data, meta.dim, columnKind(meta.metric), meta.M, meta.efConstruction, rowList(present), 1, columnElement(col.type))
  try {
    g.load(bytes)
  } catch (e) {
    throw new DbError('DataCorrupted', 'the HNSW graph could not be loaded', { cause: e })
  }
  return g
}

/** The graph's storage type is one this vector type is built with. */
function storageFits(meta: HnswMeta): boolean {
  if (meta.scalar === 'column') return meta.vectorType !== 'BinaryVector'
  if (meta.vectorType === 'FloatVector') return meta.scalar === 'f32' || meta.scalar === 'bf16'
  return meta.scalar === scalarFor(meta.vectorType, 'f32') || (meta.scalar === 'f32' && meta.transform === 'mips')
}

function checkColumn(data: VectorColumn, meta: HnswMeta): DenseOrBinary {
  if (data.type === 'SparseFloatVector' || data.type !== meta.vectorType || data.dim !== meta.dim || columnRows(data) !== meta.rows) {
    throw invalid(
      `column does not match the HNSW index: index has ${meta.rows} rows of ${meta.vectorType}(${meta.dim})`,
    )
  }
  return data
}

function decodeColumn(files: ReadonlyMap<string, Uint8Array>, meta: HnswMeta): DenseOrBinary {
  return decodeDenseColumn(files.get(DATA_FILE), files.get(VALID_FILE), meta.vectorType, meta.dim, meta.rows, corrupted)
}

function corrupted(detail: string): DbError {
  return new DbError('DataCorrupted', `HNSW index files: ${detail}`)
}
