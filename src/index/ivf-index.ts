/**
 * The IVF family in pure TypeScript: IVF_FLAT, IVF_SQ8 and IVF_PQ on dense columns (float32,
 * float16, bfloat16, int8, widened to float32 for training) and BIN_IVF_FLAT on binary columns.
 *
 * Build: a coarse quantizer of nlist centres is trained by seeded k-means (kmeans.ts: random
 * distinct initial centres, at most KMEANS_ITERATIONS Lloyd iterations accelerated by Hamerly's
 * bounds and an exact triangle-inequality scan, on a sample of at most 256 * nlist rows as faiss's
 * max_points_per_centroid, fewer when one pass would exceed KMEANS_WORK_BUDGET, empty clusters
 * repaired by splitting the largest) and every non-null row goes to the inverted list of its
 * nearest centre. nlist is capped at the number of indexed rows (faiss would refuse to train; a
 * small segment still gets an index).
 *
 * The coarse space depends on the metric, and is always searched with L2:
 * - L2: the rows as they are;
 * - COSINE: rows normalised (spherical clustering; cosine order is L2 order on the unit sphere);
 * - IP: rows under the MIPS-to-L2 reduction x' = [x, sqrt(maxNorm^2 - |x|^2)], queries [q, 0],
 *   where |q' - x'|^2 = |q|^2 + maxNorm^2 - 2 q.x ranks rows as descending q.x (as hnsw-index.ts
 *   does): centres and lists are then meaningful for inner product, which is not a metric;
 * - HAMMING / JACCARD (BIN_IVF_FLAT): bits as 0/1 floats; centres are per-bit frequencies (k-means
 *   on the bits) rather than majority-vote bit vectors, which collapse to all zeros on sparse bit
 *   sets and then cannot separate anything.
 *
 * Codes (IVF_SQ8, IVF_PQ) encode the residual from the row's centre in that space (faiss's
 * by_residual default), first `dim` coordinates:
 * - IVF_SQ8: per-dimension min/max over all residuals, 8 bits per dimension, distances on the
 *   decoded values;
 * - IVF_PQ: m sub-quantizers of min(2^nbits, 256) centres each (nbits above 8 is accepted, as
 *   knowhere's range [1, 24], but trained as 8: 2^24 codes per subspace would take hours in
 *   JavaScript and uint8 codes keep the scan tight; the codebook is also capped at the row count).
 *   Search uses ADC: per query one table of q.codeword (m x ksub), plus for L2 a per-list table of
 *   |codeword|^2 + 2 centre.codeword precomputed at build when nlist * m * ksub <= 4M entries
 *   (faiss's precomputed tables), else computed for each probed list.
 * Both re-score their best ceil(k * refine_k) candidates exactly from the raw column (refine_k
 * defaults: SQ8_REFINE, PQ_REFINE), so reported scores are exactly bruteForceSearch's and
 * `distance()`'s. IVF_FLAT and BIN_IVF_FLAT score every scanned row exactly, from a list-ordered
 * copy of the rows (see IvfIndex#scan).
 *
 * Search: lists in ascending coarse distance; nprobe (default 8) lists, then more while fewer than
 * k allowed rows were found (knowhere's ensure_topk_full). Filtered searches skip disallowed rows
 * in the scan, probe nprobe / sqrt(passRate) lists (the allowed top k sit as deep as the
 * unfiltered top k / passRate), and run exact over the allowed rows when they are no more than the
 * rows the probed lists hold (exact is then cheaper and has full recall). Range search scores
 * probed rows exactly whatever the codes (a radius on approximate scores would drop or admit
 * border rows), probes at least nprobe lists and then keeps probing, nearest lists first, until
 * max_empty_result_buckets (default 2) consecutive lists had no row in range or all lists are
 * scanned. Null rows are never in a list.
 *
 * Files: `ivf.meta.json` (header with the payload's size and CRC-32C), `ivf.payload` (centres,
 * list offsets, list rows, codes; little-endian), `ivf.data` (raw rows, as FLAT stores them, with
 * their own CRC) and `ivf.valid` for nullable fields. Damage is reported as DataCorrupted.
 */
import type { Bitset } from '../common/bitset.js'
import { crc32c } from '../common/crc32.js'
import { DbError, invalid } from '../common/errors.js'
import type { VectorColumn } from '../schema/columns.js'
import { columnRows } from '../schema/columns.js'
import { isVectorType } from '../schema/types.js'
import { rng } from './ann-fixture.js'
import { bruteForceSearch, checkPair, type Hits, keyRange } from './brute-force.js'
import {
  bytesOf,
  countAllowed,
  decodeDenseColumn,
  type DenseOrBinary,
  EMPTY_HITS,
  exactScorer,
  isCount,
  isMetric,
  nonNullRows,
  rowNorms,
  rowToF32,
  widen,
} from './dense-rows.js'
import { indexTypeSpec, type IvfBuildParams, ivfBuildParams, ivfSearchParams } from './index-params.js'
import { l2F32 } from './kernels.js'
import { Assigner, centreNorms, kmeans, nearestTwo } from './kmeans.js'
import { checkMetric, higherIsBetter, type MetricType } from './metric.js'
import { TopKHeap } from './top-k-heap.js'
import type { IndexSearchOptions, VectorIndex } from './vector-index.js'

export const IVF_META_FILE = 'ivf.meta.json'
const PAYLOAD_FILE = 'ivf.payload'
const DATA_FILE = 'ivf.data'
const VALID_FILE = 'ivf.valid'

/** How rows are stored in the lists: exact (raw column), SQ8 codes, PQ codes, exact bits. */
export type IvfKind = 'FLAT' | 'SQ8' | 'PQ' | 'BIN'

/** faiss's IVF training: 10 Lloyd iterations, seed 1234, at most 256 points per centre. */
const KMEANS_ITERATIONS = 10
const KMEANS_SEED = 1234
const MAX_POINTS_PER_CENTROID = 256
/** Cap on the training matrix (floats), so wide binary rows do not need gigabytes to train. */
const TRAIN_FLOATS_BUDGET = 1 << 24
/**
 * Cap on one Lloyd pass (sample x nlist x dim multiply-adds, ~1.5 s in V8 without pruning), so a
 * large nlist trains on fewer points per centre instead of for minutes; never below faiss's
 * minimum of 39 points per centre.
 */
const KMEANS_WORK_BUDGET = 2 ** 30
const MIN_POINTS_PER_CENTROID = 39
/** Codes per PQ subspace at most (uint8 codes); see the file comment. */
const PQ_MAX_TRAINED_NBITS = 8
/**
 * PQ codebooks train on at most this many residuals per codeword: m k-means runs over them are
 * most of an IVF_PQ build, and candidates are re-scored exactly anyway, so codebook quality past
 * this point bought little recall (faiss uses up to 256).
 */
const PQ_POINTS_PER_CODE = 32
const PQ_ITERATIONS = 10
/** Largest precomputed L2 table (nlist x m x ksub float32 entries: 16 MiB). */
const PQ_TABLE_MAX_ENTRIES = 1 << 22
/**
 * Default refine_k: quantized candidates re-scored exactly per wanted hit. SQ8's 8-bit codes rank
 * nearly exactly, PQ's coarse codes need a deeper pool (both measured on the seeded mixtures in
 * ivf-index.test.ts and ivf.bench.ts to keep recall@10 at the unquantized IVF's level).
 */
const SQ8_REFINE = 2
const PQ_REFINE = 16
/** Rows per step between progress reports and abort checks. */
const ROW_CHUNK = 4096

export interface IvfOptions {
  /** Milvus index_type the index reports: IVF_FLAT (default), IVF_SQ8, IVF_PQ or BIN_IVF_FLAT. */
  readonly indexType?: string
  /**
   * Filtered searches with at most this many allowed rows run exact; default: the rows the probed
   * lists hold. 0 forces the lists whenever there are any (tests use it).
   */
  readonly filterExactRows?: number
  /** Called as training, assignment and encoding advance, with the fraction done. */
  readonly onProgress?: (fraction: number) => void
  /** Polled between k-means iterations and row chunks; true aborts the build with a DbError. */
  readonly shouldStop?: () => boolean
}

interface IvfMeta {
  readonly version: 1
  readonly engine: 'IVF'
  readonly indexType: string
  readonly kind: IvfKind
  readonly metric: MetricType
  readonly params: Record<string, string>
  readonly vectorType: DenseOrBinary['type']
  readonly dim: number
  readonly rows: number
  readonly indexed: number
  /** Lists actually trained (the requested nlist capped at the indexed rows). */
  readonly nlist: number
  /** Coarse-space dimension: dim, or dim + 1 under the IP reduction. */
  readonly cdim: number
  /** PQ sub-quantizers and codes per subspace; 0 otherwise. */
  readonly m: number
  readonly ksub: number
  readonly payloadBytes: number
  readonly payloadCrc: number
  readonly dataBytes: number
  readonly dataCrc: number
}

/** The trained structures; codes are stored in list order (slot i belongs to listRows[i]). */
interface IvfModel {
  readonly nlist: number
  readonly cdim: number
  readonly centroids: Float32Array
  /** nlist + 1 offsets into listRows. */
  readonly listOffsets: Int32Array
  readonly listRows: Int32Array
  readonly sq?: { readonly vmin: Float32Array; readonly vstep: Float32Array; readonly codes: Uint8Array }
  readonly pq?: {
    readonly m: number
    readonly ksub: number
    /** m x ksub x dsub codewords. */
    readonly codebooks: Float32Array
    readonly codes: Uint8Array
    /** L2 only: nlist x m x ksub of |codeword|^2 + 2 centre.codeword, or null when too large. */
    readonly table: Float32Array | null
  }
}

function kindOf(indexType: string): IvfKind {
  switch (indexType) {
    case 'IVF_SQ8':
      return 'SQ8'
    case 'IVF_PQ':
      return 'PQ'
    case 'BIN_IVF_FLAT':
      return 'BIN'
    default:
      return 'FLAT'
  }
}

/** How rows and queries map into the coarse space (see the file comment). */
interface CoarseSpace {
  readonly data: DenseOrBinary
  readonly metric: MetricType
  readonly cdim: number
  readonly maxNorm2: number
}

function coarseDim(data: DenseOrBinary, metric: MetricType): number {
  return metric === 'IP' ? data.dim + 1 : data.dim
}

/** One row in the coarse space, as float32 at out[o..o+cdim). */
function coarseRow(s: CoarseSpace, row: number, out: Float32Array, o: number): void {
  rowToF32(s.data, row, out, o)
  if (s.metric !== 'COSINE' && s.metric !== 'IP') return
  const dim = s.data.dim
  let n2 = 0
  for (let j = 0; j < dim; j++) n2 += out[o + j]! * out[o + j]!
  if (s.metric === 'IP') {
    out[o + dim] = Math.sqrt(Math.max(0, s.maxNorm2 - n2))
  } else if (n2 > 0) {
    const inv = 1 / Math.sqrt(n2)
    for (let j = 0; j < dim; j++) out[o + j] = out[o + j]! * inv
  }
}

/** Query row qi in the coarse space, as float64 (extra IP coordinate 0). */
function coarseQuery(q: DenseOrBinary, qi: number, metric: MetricType, cdim: number): Float64Array {
  const out = new Float64Array(cdim)
  if (q.type === 'BinaryVector') {
    const f = new Float32Array(q.dim)
    rowToF32(q, qi, f, 0)
    out.set(f)
    return out
  }
  out.set(widen(q, qi))
  if (metric === 'COSINE') {
    let n2 = 0
    for (let j = 0; j < q.dim; j++) n2 += out[j]! * out[j]!
    if (n2 > 0) {
      const inv = 1 / Math.sqrt(n2)
      for (let j = 0; j < q.dim; j++) out[j] = out[j]! * inv
    }
  }
  return out
}

function maxSquaredNorm(data: DenseOrBinary, present: Int32Array | null, indexed: number): number {
  const dim = data.dim
  const buf = new Float32Array(dim)
  let max = 0
  for (let i = 0; i < indexed; i++) {
    rowToF32(data, present === null ? i : present[i]!, buf, 0)
    let s = 0
    for (let j = 0; j < dim; j++) s += buf[j]! * buf[j]!
    if (s > max) max = s
  }
  return max
}

/**
 * Builds an IVF index over the non-null rows of a dense (IVF_FLAT, IVF_SQ8, IVF_PQ) or binary
 * (BIN_IVF_FLAT) column. Deterministic: the same column and params give the same files.
 *
 * @throws DbError ParameterInvalid on bad params or a metric the vector type does not support,
 * IndexNotSupported for sparse columns or a type that does not fit the column, ServiceUnavailable
 * when `shouldStop` aborts the build.
 */
export function buildIvfIndex(
  data: VectorColumn,
  metric: MetricType,
  params: Readonly<Record<string, string>> = {},
  opts: IvfOptions = {},
): IvfIndex {
  if (data.type === 'SparseFloatVector') {
    throw new DbError('IndexNotSupported', 'IVF indexes do not index SparseFloatVector fields')
  }
  checkMetric(metric, data.type)
  const spec = indexTypeSpec(opts.indexType ?? (data.type === 'BinaryVector' ? 'BIN_IVF_FLAT' : 'IVF_FLAT'), data.type)
  if (spec.engine !== 'IVF') throw invalid(`index type ${spec.indexType} is not an IVF index`)
  const bp = ivfBuildParams(spec.indexType, data.dim, params)
  const kind = kindOf(spec.indexType)
  const rows = columnRows(data)
  const present = nonNullRows(data.valid, rows)
  const indexed = present === null ? rows : present.length
  const space: CoarseSpace = {
    data,
    metric,
    cdim: coarseDim(data, metric),
    maxNorm2: metric === 'IP' ? maxSquaredNorm(data, present, indexed) : 0,
  }
  const model = train(space, kind, bp, present, indexed, opts)
  opts.onProgress?.(1)
  return new IvfIndex(spec.indexType, kind, metric, { ...params }, bp, data, indexed, model, opts)
}

function checkStop(opts: IvfOptions): void {
  if (opts.shouldStop?.() === true) throw new DbError('ServiceUnavailable', 'index build aborted')
}

function train(
  space: CoarseSpace,
  kind: IvfKind,
  bp: IvfBuildParams,
  present: Int32Array | null,
  indexed: number,
  opts: IvfOptions,
): IvfModel {
  const { cdim } = space
  const rowAt = (pos: number): number => (present === null ? pos : present[pos]!)
  const nlist = Math.min(bp.nlist, indexed)
  if (nlist === 0) {
    return {
      nlist: 0,
      cdim,
      centroids: new Float32Array(0),
      listOffsets: new Int32Array(1),
      listRows: new Int32Array(0),
      ...(kind === 'SQ8' ? { sq: { vmin: new Float32Array(space.data.dim), vstep: new Float32Array(space.data.dim), codes: new Uint8Array(0) } } : {}),
      ...(kind === 'PQ' ? { pq: { m: bp.m, ksub: 0, codebooks: new Float32Array(0), codes: new Uint8Array(0), table: null } } : {}),
    }
  }

  // Training sample: positions among the indexed rows, seeded, kept in row order for locality.
  const budget = Math.max(
    nlist * MIN_POINTS_PER_CENTROID,
    Math.min(Math.floor(TRAIN_FLOATS_BUDGET / cdim), Math.floor(KMEANS_WORK_BUDGET / (nlist * cdim))),
  )
  const sampleN = Math.min(indexed, nlist * MAX_POINTS_PER_CENTROID, budget)
  const samplePos = sampleN === indexed ? null : samplePositions(indexed, sampleN, KMEANS_SEED)
  const trainX = new Float32Array(sampleN * cdim)
  for (let i = 0; i < sampleN; i++) coarseRow(space, rowAt(samplePos === null ? i : samplePos[i]!), trainX, i * cdim)
  checkStop(opts)
  const km = kmeans(trainX, sampleN, cdim, nlist, { iterations: KMEANS_ITERATIONS, seed: KMEANS_SEED, shouldStop: opts.shouldStop })
  const centroids = km.centroids
  opts.onProgress?.(0.4)

  // Every indexed row to its nearest centre (the sample's assignment is already final).
  const assign = new Int32Array(indexed).fill(-1)
  for (let i = 0; i < sampleN; i++) assign[samplePos === null ? i : samplePos[i]!] = km.assign[i]!
  const buf = new Float32Array(cdim)
  const assigner = sampleN < indexed ? new Assigner(centroids, nlist, cdim) : null
  for (let start = 0; assigner !== null && start < indexed; start += ROW_CHUNK) {
    checkStop(opts)
    const end = Math.min(indexed, start + ROW_CHUNK)
    for (let pos = start; pos < end; pos++) {
      if (assign[pos] !== -1) continue
      coarseRow(space, rowAt(pos), buf, 0)
      assign[pos] = assigner.nearest(buf, 0)
    }
    opts.onProgress?.(0.4 + (0.3 * end) / indexed)
  }

  // Inverted lists by counting sort; rows ascend within a list. slot[pos] is the row's place.
  const listOffsets = new Int32Array(nlist + 1)
  for (let pos = 0; pos < indexed; pos++) listOffsets[assign[pos]! + 1]!++
  for (let l = 0; l < nlist; l++) listOffsets[l + 1]! += listOffsets[l]!
  const cursor = listOffsets.slice(0, nlist)
  const listRows = new Int32Array(indexed)
  const slot = new Int32Array(indexed)
  for (let pos = 0; pos < indexed; pos++) {
    const s = cursor[assign[pos]!]!++
    slot[pos] = s
    listRows[s] = rowAt(pos)
  }
  const base = { nlist, cdim, centroids, listOffsets, listRows }
  if (kind === 'SQ8') return { ...base, sq: trainSq8(space, centroids, assign, slot, rowAt, indexed, opts) }
  if (kind === 'PQ') {
    const trainAssign = km.assign
    return { ...base, pq: trainPq(space, bp, base, trainX, trainAssign, sampleN, assign, slot, rowAt, indexed, opts) }
  }
  return base
}

/** n distinct positions out of `total`, seeded, ascending. */
function samplePositions(total: number, n: number, seed: number): Int32Array {
  const r = rng(seed)
  const perm = new Int32Array(total)
  for (let i = 0; i < total; i++) perm[i] = i
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(r() * (total - i))
    const t = perm[i]!
    perm[i] = perm[j]!
    perm[j] = t
  }
  return perm.subarray(0, n).sort()
}

/** Residual of one row from its centre, first dim coordinates, into out[0..dim). */
function residual(space: CoarseSpace, row: number, centroids: Float32Array, list: number, buf: Float32Array, out: Float32Array): void {
  coarseRow(space, row, buf, 0)
  const dim = space.data.dim
  const co = list * space.cdim
  for (let j = 0; j < dim; j++) out[j] = buf[j]! - centroids[co + j]!
}

function trainSq8(
  space: CoarseSpace,
  centroids: Float32Array,
  assign: Int32Array,
  slot: Int32Array,
  rowAt: (pos: number) => number,
  indexed: number,
  opts: IvfOptions,
): NonNullable<IvfModel['sq']> {
  const dim = space.data.dim
  const buf = new Float32Array(space.cdim)
  const r = new Float32Array(dim)
  const lo = new Float32Array(dim).fill(Infinity)
  const hi = new Float32Array(dim).fill(-Infinity)
  for (let pos = 0; pos < indexed; pos++) {
    residual(space, rowAt(pos), centroids, assign[pos]!, buf, r)
    for (let j = 0; j < dim; j++) {
      const v = r[j]!
      if (v < lo[j]!) lo[j] = v
      if (v > hi[j]!) hi[j] = v
    }
  }
  const vstep = new Float32Array(dim)
  for (let j = 0; j < dim; j++) vstep[j] = (hi[j]! - lo[j]!) / 255
  const codes = new Uint8Array(indexed * dim)
  for (let start = 0; start < indexed; start += ROW_CHUNK) {
    checkStop(opts)
    const end = Math.min(indexed, start + ROW_CHUNK)
    for (let pos = start; pos < end; pos++) {
      residual(space, rowAt(pos), centroids, assign[pos]!, buf, r)
      const co = slot[pos]! * dim
      for (let j = 0; j < dim; j++) {
        const step = vstep[j]!
        // Uint8Array stores wrap modulo 256, so the code is clamped to [0, 255] first.
        const c = step > 0 ? Math.round((r[j]! - lo[j]!) / step) : 0
        codes[co + j] = c < 0 ? 0 : c > 255 ? 255 : c
      }
    }
    opts.onProgress?.(0.7 + (0.3 * end) / indexed)
  }
  return { vmin: lo, vstep, codes }
}

function trainPq(
  space: CoarseSpace,
  bp: IvfBuildParams,
  coarse: Pick<IvfModel, 'nlist' | 'cdim' | 'centroids'>,
  trainX: Float32Array,
  trainAssign: Int32Array,
  sampleN: number,
  assign: Int32Array,
  slot: Int32Array,
  rowAt: (pos: number) => number,
  indexed: number,
  opts: IvfOptions,
): NonNullable<IvfModel['pq']> {
  const dim = space.data.dim
  const { cdim, centroids } = coarse
  const m = bp.m
  const dsub = dim / m
  const ksub = Math.min(1 << Math.min(bp.nbits, PQ_MAX_TRAINED_NBITS), indexed)
  // Residuals of a seeded subset of the coarse training sample (whose assignment is final).
  const pqN = Math.min(sampleN, PQ_POINTS_PER_CODE * ksub)
  const pick = pqN === sampleN ? null : samplePositions(sampleN, pqN, KMEANS_SEED + 1)
  const codebooks = new Float32Array(m * ksub * dsub)
  const sub = new Float32Array(pqN * dsub)
  for (let s = 0; s < m; s++) {
    for (let i = 0; i < pqN; i++) {
      const t = pick === null ? i : pick[i]!
      const xo = t * cdim + s * dsub
      const co = trainAssign[t]! * cdim + s * dsub
      for (let j = 0; j < dsub; j++) sub[i * dsub + j] = trainX[xo + j]! - centroids[co + j]!
    }
    const km = kmeans(sub, pqN, dsub, ksub, { iterations: PQ_ITERATIONS, seed: KMEANS_SEED + 2 + s, shouldStop: opts.shouldStop })
    codebooks.set(km.centroids, s * ksub * dsub)
    opts.onProgress?.(0.7 + (0.1 * (s + 1)) / m)
  }
  // Encode: nearest codeword per subspace by |c|^2 - 2 r.c (blocked, one load of r per 4 codes).
  const cbNorm = codewordNorms(codebooks, m, ksub, dsub)
  const codes = new Uint8Array(indexed * m)
  const buf = new Float32Array(cdim)
  const r = new Float32Array(dim)
  const best = new Float64Array(3)
  for (let start = 0; start < indexed; start += ROW_CHUNK) {
    checkStop(opts)
    const end = Math.min(indexed, start + ROW_CHUNK)
    for (let pos = start; pos < end; pos++) {
      residual(space, rowAt(pos), centroids, assign[pos]!, buf, r)
      const out = slot[pos]! * m
      for (let s = 0; s < m; s++) {
        const cbs = codebooks.subarray(s * ksub * dsub, (s + 1) * ksub * dsub)
        nearestTwo(r, s * dsub, cbs, cbNorm.subarray(s * ksub, (s + 1) * ksub), ksub, dsub, best)
        codes[out + s] = best[0]!
      }
    }
    opts.onProgress?.(0.8 + (0.2 * end) / indexed)
  }
  return { m, ksub, codebooks, codes, table: pqTable(space.metric, coarse, m, ksub, codebooks) }
}

function codewordNorms(codebooks: Float32Array, m: number, ksub: number, dsub: number): Float64Array {
  const out = new Float64Array(m * ksub)
  for (let i = 0; i < m * ksub; i++) {
    let s = 0
    for (let j = 0; j < dsub; j++) s += codebooks[i * dsub + j]! * codebooks[i * dsub + j]!
    out[i] = s
  }
  return out
}

/** The L2 per-list term |codeword|^2 + 2 centre.codeword, when it fits (see the file comment). */
function pqTable(
  metric: MetricType,
  coarse: Pick<IvfModel, 'nlist' | 'cdim' | 'centroids'>,
  m: number,
  ksub: number,
  codebooks: Float32Array,
): Float32Array | null {
  if (metric !== 'L2' || coarse.nlist * m * ksub > PQ_TABLE_MAX_ENTRIES || ksub === 0) return null
  const table = new Float32Array(coarse.nlist * m * ksub)
  for (let l = 0; l < coarse.nlist; l++) listTable(coarse, l, m, ksub, codebooks, table, l * m * ksub)
  return table
}

function listTable(
  coarse: Pick<IvfModel, 'cdim' | 'centroids'>,
  list: number,
  m: number,
  ksub: number,
  codebooks: Float32Array,
  out: Float32Array | Float64Array,
  o: number,
): void {
  const dsub = codebooks.length / (m * ksub)
  const co = list * coarse.cdim
  const c = coarse.centroids
  for (let s = 0; s < m; s++) {
    for (let k = 0; k < ksub; k++) {
      const cb = (s * ksub + k) * dsub
      let n2 = 0
      let dot = 0
      for (let j = 0; j < dsub; j++) {
        const v = codebooks[cb + j]!
        n2 += v * v
        dot += c[co + s * dsub + j]! * v
      }
      out[o + s * ksub + k] = n2 + 2 * dot
    }
  }
}

/** Per-query search settings shared by the scan loops. */
interface ScanContext {
  /** Heap capacity: min(k, allowed rows). */
  readonly k: number
  /** Hits that make a top-k query complete: min(k, allowed rows). */
  readonly need: number
  readonly nprobe: number
  readonly lo: number
  readonly hi: number
  readonly allow: Bitset | undefined
  readonly maxEmpty: number
  /** Quantized candidates re-scored exactly: ceil(k * refine_k), at most the allowed rows. */
  readonly pool: number
}

/**
 * A built or loaded IVF index. Holds the raw column (exact scans, re-scoring, exact fallbacks and
 * serialization) next to the centres, the lists and the codes.
 */
export class IvfIndex implements VectorIndex {
  readonly indexType: string
  readonly kind: IvfKind
  readonly metric: MetricType
  /** The client's build params as given (reported back, stored in the header). */
  readonly params: Readonly<Record<string, string>>
  readonly buildParams: IvfBuildParams
  /** Non-null rows in the lists. */
  readonly indexed: number
  readonly #data: DenseOrBinary
  readonly #rows: number
  readonly #model: IvfModel
  /**
   * What exact list scans read: for IVF_FLAT / BIN_IVF_FLAT a copy of the rows in list order
   * (slot i is listRows[i]), else the raw column addressed by row. Gathering rows one by one
   * across a large column is memory-latency bound (measured 2.5x slower per row than brute
   * force's sequential pass on 50k x 128); a contiguous list streams like brute force. The copy
   * holds the same element values, so the kernels score it bit-identically.
   */
  readonly #scan: DenseOrBinary
  readonly #bySlot: boolean
  /** COSINE norms of #scan's rows (same kernels as brute force): no norm per scanned row. */
  readonly #scanNorms: Float64Array | undefined
  readonly #filterExactRows: number | undefined
  /** |centre|^2 per list, for the dot-product form of the coarse distances. */
  readonly #centreNorms: Float64Array

  /** @internal Use buildIvfIndex / loadIvfIndex. */
  constructor(
    indexType: string,
    kind: IvfKind,
    metric: MetricType,
    params: Readonly<Record<string, string>>,
    buildParams: IvfBuildParams,
    data: DenseOrBinary,
    indexed: number,
    model: IvfModel,
    opts: Pick<IvfOptions, 'filterExactRows'>,
  ) {
    this.indexType = indexType
    this.kind = kind
    this.metric = metric
    this.params = params
    this.buildParams = buildParams
    this.#data = data
    this.#rows = columnRows(data)
    this.indexed = indexed
    this.#model = model
    this.#bySlot = kind === 'FLAT' || kind === 'BIN'
    this.#scan = this.#bySlot ? listOrdered(data, model.listRows) : data
    const scan = this.#scan
    this.#scanNorms = metric === 'COSINE' && scan.type !== 'BinaryVector' ? rowNorms(scan) : undefined
    this.#filterExactRows = opts.filterExactRows
    this.#centreNorms = centreNorms(model.centroids, model.nlist, model.cdim)
  }

  /** Lists actually trained: the requested nlist capped at the indexed rows. */
  get nlist(): number {
    return this.#model.nlist
  }

  /** PQ codes per subspace actually trained (0 for other kinds). */
  get ksub(): number {
    return this.#model.pq?.ksub ?? 0
  }

  /**
   * Top-k or range search (see the file comment for probing, filtering and refinement).
   *
   * @throws DbError ParameterInvalid on a query of another type or dim, bad k, bad range bounds or
   * bad search params (nprobe, refine_k, max_empty_result_buckets).
   */
  search(queries: VectorColumn, opts: IndexSearchOptions): Hits[] {
    const data = this.#data
    const metric = this.metric
    checkPair(data, queries, metric)
    const k = opts.k
    if (!Number.isInteger(k) || k <= 0) throw invalid(`topk must be a positive integer, got ${k}`)
    const [lo, hi] = keyRange(metric, false, { metric, k, radius: opts.radius, rangeFilter: opts.rangeFilter })
    const sp = ivfSearchParams(opts.params)
    const range = opts.radius !== undefined
    const allow = opts.allow
    const allowed = countAllowed(allow, this.#rows, data.valid, this.indexed)
    const exactOpts = { metric, k, allow, radius: opts.radius, rangeFilter: opts.rangeFilter }
    const nlist = this.#model.nlist
    if (nlist === 0 || allowed === 0) return bruteForceSearch(data, queries, exactOpts)
    const passRate = allowed / this.indexed
    let nprobe = Math.min(nlist, sp.nprobe)
    if (passRate < 1) nprobe = Math.min(nlist, Math.ceil(nprobe / Math.sqrt(passRate)))
    if (allow !== undefined && allowed <= this.#exactLimit(nprobe)) return bruteForceSearch(data, queries, exactOpts)
    const refine = sp.refineK ?? (this.kind === 'PQ' ? PQ_REFINE : SQ8_REFINE)
    // Heaps never need more slots than there are allowed rows (k and refine_k may be huge).
    const cap = Math.min(k, allowed)
    const pool = Math.min(allowed, Math.max(cap, Math.ceil(cap * refine)))
    const ctx: ScanContext = { k: cap, need: cap, nprobe, lo, hi, allow, maxEmpty: sp.maxEmptyBuckets, pool }
    const q = queries as DenseOrBinary
    const nq = columnRows(q)
    const result: Hits[] = new Array(nq)
    for (let qi = 0; qi < nq; qi++) {
      if (q.valid !== undefined && q.valid[qi] === 0) {
        result[qi] = EMPTY_HITS
        continue
      }
      const qc = coarseQuery(q, qi, metric, this.#model.cdim)
      const probe = this.#probeOrder(qc, nprobe)
      const quantized = this.kind === 'SQ8' || this.kind === 'PQ'
      result[qi] = range || !quantized ? this.#scanExact(ctx, q, qi, probe, range) : this.#scanQuantized(ctx, q, qi, qc, probe)
    }
    return result
  }

  #exactLimit(nprobe: number): number {
    if (this.#filterExactRows !== undefined) return this.#filterExactRows
    return (this.indexed * nprobe) / this.#model.nlist
  }

  /** Lists by ascending coarse distance (ties to the lower list), and the distances. */
  #probeOrder(qc: Float64Array, first: number): ProbeOrder {
    const { nlist, cdim, centroids } = this.#model
    const dist = new Float64Array(nlist)
    coarseDistances(qc, centroids, this.#centreNorms, nlist, cdim, dist)
    return new ProbeOrder(dist, first)
  }

  /**
   * Scans lists scoring rows exactly from the raw column (IVF_FLAT, BIN_IVF_FLAT, and every range
   * search). Top-k: nprobe lists, then more until `need` hits. Range: nprobe lists, then more until
   * maxEmpty consecutive lists had no row in range.
   */
  #scanExact(ctx: ScanContext, q: DenseOrBinary, qi: number, order: ProbeOrder, range: boolean): Hits {
    const score = exactScorer(this.#scan, this.metric, q, qi, this.#scanNorms)
    const bySlot = this.#bySlot
    const { listOffsets, listRows, nlist } = this.#model
    const { lo, hi, allow, nprobe } = ctx
    const sign = higherIsBetter(this.metric) ? -1 : 1
    const heap = new TopKHeap(ctx.k)
    const words = allow?.words
    const size = allow?.size ?? 0
    let admitted = 0
    let emptyRun = 0
    for (let p = 0; p < nlist; p++) {
      if (p >= nprobe && (range ? emptyRun >= ctx.maxEmpty : admitted >= ctx.need)) break
      const l = order.at(p)
      let hit = false
      const end = listOffsets[l + 1]!
      for (let i = listOffsets[l]!; i < end; i++) {
        const row = listRows[i]!
        if (words !== undefined && (row >= size || (words[row >>> 5]! & (1 << (row & 31))) === 0)) continue
        // Rank on the float32 value that is reported, as brute force does.
        const key = sign * Math.fround(score(bySlot ? i : row))
        if (!(key >= lo && key < hi)) continue
        hit = true
        if (heap.admits(key, row)) {
          heap.replaceTop(key, row)
          admitted++
        }
      }
      emptyRun = hit ? 0 : emptyRun + 1
    }
    return drainHits(heap, sign)
  }

  /**
   * Top-k over SQ8 / PQ codes: the best ceil(k * refine) rows by approximate distance, then those
   * re-scored exactly from the raw column.
   */
  #scanQuantized(ctx: ScanContext, q: DenseOrBinary, qi: number, qc: Float64Array, probe: ProbeOrder): Hits {
    const { listOffsets, listRows, nlist } = this.#model
    const { allow, nprobe } = ctx
    const approx = new TopKHeap(ctx.pool)
    const words = allow?.words
    const size = allow?.size ?? 0
    const scanList = this.kind === 'SQ8' ? this.#sq8Scanner(qc) : this.#pqScanner(qc)
    let admitted = 0
    for (let p = 0; p < nlist; p++) {
      if (p >= nprobe && admitted >= ctx.need) break
      const l = probe.at(p)
      admitted += scanList(l, probe.dist[l]!, listOffsets[l]!, listOffsets[l + 1]!, listRows, words, size, approx)
    }
    const cand = approx.drain().rows
    // Quantized kinds scan the raw column by row, so its norms (if any) are by row too.
    const score = exactScorer(this.#data, this.metric, q, qi, this.#scanNorms)
    const sign = higherIsBetter(this.metric) ? -1 : 1
    const heap = new TopKHeap(ctx.k)
    for (let i = 0; i < cand.length; i++) {
      const row = cand[i]!
      const key = sign * Math.fround(score(row))
      if (heap.admits(key, row)) heap.replaceTop(key, row)
    }
    return drainHits(heap, sign)
  }

  /**
   * SQ8 list scanner for one query. L2: |t - code * step|^2 with t = q - centre - min per list.
   * IP / COSINE: q.centre + q.min + sum (q * step) code, negated into a key.
   */
  #sq8Scanner(qc: Float64Array): ListScanner {
    const sq = this.#model.sq!
    const { centroids, cdim } = this.#model
    const dim = this.#data.dim
    const codes = sq.codes
    const vstep = sq.vstep
    if (this.metric === 'L2') {
      const t = new Float64Array(dim)
      return (l, _d, start, end, rows, words, size, heap) => {
        const co = l * cdim
        for (let j = 0; j < dim; j++) t[j] = qc[j]! - centroids[co + j]! - sq.vmin[j]!
        let admitted = 0
        for (let i = start; i < end; i++) {
          const row = rows[i]!
          if (words !== undefined && (row >= size || (words[row >>> 5]! & (1 << (row & 31))) === 0)) continue
          const o = i * dim
          // Four independent sums, as the exact kernels, so the adds overlap.
          let s0 = 0
          let s1 = 0
          let s2 = 0
          let s3 = 0
          let j = 0
          for (; j + 3 < dim; j += 4) {
            const d0 = t[j]! - codes[o + j]! * vstep[j]!
            const d1 = t[j + 1]! - codes[o + j + 1]! * vstep[j + 1]!
            const d2 = t[j + 2]! - codes[o + j + 2]! * vstep[j + 2]!
            const d3 = t[j + 3]! - codes[o + j + 3]! * vstep[j + 3]!
            s0 += d0 * d0
            s1 += d1 * d1
            s2 += d2 * d2
            s3 += d3 * d3
          }
          for (; j < dim; j++) {
            const d = t[j]! - codes[o + j]! * vstep[j]!
            s0 += d * d
          }
          const s = s0 + s1 + (s2 + s3)
          if (heap.admits(s, row)) {
            heap.replaceTop(s, row)
            admitted++
          }
        }
        return admitted
      }
    }
    const w = new Float64Array(dim)
    let qmin = 0
    for (let j = 0; j < dim; j++) {
      w[j] = qc[j]! * vstep[j]!
      qmin += qc[j]! * sq.vmin[j]!
    }
    return (l, _d, start, end, rows, words, size, heap) => {
      const co = l * cdim
      let base = qmin
      for (let j = 0; j < dim; j++) base += qc[j]! * centroids[co + j]!
      let admitted = 0
      for (let i = start; i < end; i++) {
        const row = rows[i]!
        if (words !== undefined && (row >= size || (words[row >>> 5]! & (1 << (row & 31))) === 0)) continue
        const o = i * dim
        let s0 = 0
        let s1 = 0
        let s2 = 0
        let s3 = 0
        let j = 0
        for (; j + 3 < dim; j += 4) {
          s0 += w[j]! * codes[o + j]!
          s1 += w[j + 1]! * codes[o + j + 1]!
          s2 += w[j + 2]! * codes[o + j + 2]!
          s3 += w[j + 3]! * codes[o + j + 3]!
        }
        for (; j < dim; j++) s0 += w[j]! * codes[o + j]!
        const key = -(base + (s0 + s1 + (s2 + s3)))
        if (heap.admits(key, row)) {
          heap.replaceTop(key, row)
          admitted++
        }
      }
      return admitted
    }
  }

  /**
   * PQ (ADC) list scanner for one query: T[s][c] = q_s . codeword once per query; L2 adds the
   * per-list |codeword|^2 + 2 centre.codeword table to |q - centre|^2, IP / COSINE add q.centre.
   */
  #pqScanner(qc: Float64Array): ListScanner {
    const pq = this.#model.pq!
    const { centroids, cdim } = this.#model
    const { m, ksub, codebooks, codes } = pq
    const dim = this.#data.dim
    const dsub = dim / m
    const qt = new Float64Array(m * ksub)
    for (let s = 0; s < m; s++) {
      for (let c = 0; c < ksub; c++) {
        const cb = (s * ksub + c) * dsub
        let dot = 0
        for (let j = 0; j < dsub; j++) dot += qc[s * dsub + j]! * codebooks[cb + j]!
        qt[s * ksub + c] = dot
      }
    }
    const l2 = this.metric === 'L2'
    const lt = l2 ? new Float64Array(m * ksub) : qt
    const tableOf = new Float64Array(l2 && pq.table === null ? m * ksub : 0)
    return (l, coarseDist, start, end, rows, words, size, heap) => {
      let base: number
      if (l2) {
        // |q - c - r|^2 = |q - c|^2 + (|r|^2 + 2 c.r) - 2 q.r
        base = coarseDist
        if (pq.table !== null) {
          const to = l * m * ksub
          for (let i = 0; i < m * ksub; i++) lt[i] = pq.table[to + i]! - 2 * qt[i]!
        } else {
          listTable(this.#model, l, m, ksub, codebooks, tableOf, 0)
          for (let i = 0; i < m * ksub; i++) lt[i] = tableOf[i]! - 2 * qt[i]!
        }
      } else {
        base = 0
        const co = l * cdim
        for (let j = 0; j < dim; j++) base += qc[j]! * centroids[co + j]!
      }
      const sign = l2 ? 1 : -1
      let admitted = 0
      for (let i = start; i < end; i++) {
        const row = rows[i]!
        if (words !== undefined && (row >= size || (words[row >>> 5]! & (1 << (row & 31))) === 0)) continue
        const o = i * m
        let s0 = 0
        let s1 = 0
        let j = 0
        for (; j + 1 < m; j += 2) {
          s0 += lt[j * ksub + codes[o + j]!]!
          s1 += lt[(j + 1) * ksub + codes[o + j + 1]!]!
        }
        if (j < m) s0 += lt[j * ksub + codes[o + j]!]!
        const key = sign * (base + (s0 + s1))
        if (heap.admits(key, row)) {
          heap.replaceTop(key, row)
          admitted++
        }
      }
      return admitted
    }
  }

  /**
   * Files: `ivf.meta.json` (header), `ivf.payload` (centres f32, list offsets i32, list rows i32,
   * then SQ8 min f32 + step f32 + codes u8, or PQ codebooks f32 + codes u8), `ivf.data` (raw rows)
   * and `ivf.valid` for nullable fields.
   */
  serialize(): Map<string, Uint8Array> {
    const mdl = this.#model
    const parts: Uint8Array[] = [bytesOf(mdl.centroids), bytesOf(mdl.listOffsets), bytesOf(mdl.listRows)]
    if (mdl.sq !== undefined) parts.push(bytesOf(mdl.sq.vmin), bytesOf(mdl.sq.vstep), mdl.sq.codes)
    if (mdl.pq !== undefined) parts.push(bytesOf(mdl.pq.codebooks), mdl.pq.codes)
    const payload = concat(parts)
    const d = this.#data.data
    const raw = bytesOf(d)
    const meta: IvfMeta = {
      version: 1,
      engine: 'IVF',
      indexType: this.indexType,
      kind: this.kind,
      metric: this.metric,
      params: { ...this.params },
      vectorType: this.#data.type,
      dim: this.#data.dim,
      rows: this.#rows,
      indexed: this.indexed,
      nlist: mdl.nlist,
      cdim: mdl.cdim,
      m: mdl.pq?.m ?? 0,
      ksub: mdl.pq?.ksub ?? 0,
      payloadBytes: payload.length,
      payloadCrc: crc32c(payload),
      dataBytes: raw.length,
      dataCrc: crc32c(raw),
    }
    const files = new Map<string, Uint8Array>()
    files.set(IVF_META_FILE, new TextEncoder().encode(JSON.stringify(meta)))
    files.set(PAYLOAD_FILE, payload)
    files.set(DATA_FILE, raw)
    if (this.#data.valid !== undefined) files.set(VALID_FILE, this.#data.valid)
    return files
  }
}

/**
 * Squared L2 from a coarse query to every centre as |q|^2 + |c|^2 - 2 q.c, four centres per pass
 * over q (each q element loaded once for four products: ~2x the one-centre loop in V8). Only the
 * order and PQ's approximate base use these, so the cancellation of the expanded form is harmless.
 */
function coarseDistances(q: Float64Array, centroids: Float32Array, cnorm: Float64Array, nlist: number, d: number, out: Float64Array): void {
  let qn = 0
  for (let j = 0; j < d; j++) qn += q[j]! * q[j]!
  let c = 0
  for (; c + 3 < nlist; c += 4) {
    const o0 = c * d
    const o1 = o0 + d
    const o2 = o1 + d
    const o3 = o2 + d
    let s0 = 0
    let s1 = 0
    let s2 = 0
    let s3 = 0
    for (let j = 0; j < d; j++) {
      const v = q[j]!
      s0 += v * centroids[o0 + j]!
      s1 += v * centroids[o1 + j]!
      s2 += v * centroids[o2 + j]!
      s3 += v * centroids[o3 + j]!
    }
    out[c] = Math.max(0, qn + cnorm[c]! - 2 * s0)
    out[c + 1] = Math.max(0, qn + cnorm[c + 1]! - 2 * s1)
    out[c + 2] = Math.max(0, qn + cnorm[c + 2]! - 2 * s2)
    out[c + 3] = Math.max(0, qn + cnorm[c + 3]! - 2 * s3)
  }
  for (; c < nlist; c++) out[c] = l2F32(q, centroids, c * d, d)
}

/**
 * Lists in ascending coarse distance, ties to the lower list. The first `first` come from a
 * bounded heap (O(nlist log first)); a scan that goes past them (filters, short lists, range
 * search) triggers one full sort.
 */
class ProbeOrder {
  readonly dist: Float64Array
  readonly #head: Int32Array
  #all: Int32Array | null = null

  constructor(dist: Float64Array, first: number) {
    this.dist = dist
    const n = dist.length
    const heap = new TopKHeap(Math.max(1, Math.min(first, n)))
    for (let l = 0; l < n; l++) {
      const d = dist[l]!
      if (heap.admits(d, l)) heap.replaceTop(d, l)
    }
    this.#head = heap.drain().rows
  }

  at(p: number): number {
    if (p < this.#head.length) return this.#head[p]!
    if (this.#all === null) {
      const dist = this.dist
      const all = new Int32Array(dist.length)
      for (let l = 0; l < all.length; l++) all[l] = l
      all.sort((a, b) => dist[a]! - dist[b]! || a - b)
      this.#all = all
    }
    return this.#all[p]!
  }
}

/** The column's rows in list order: slot i holds row listRows[i], same element type. */
function listOrdered(data: DenseOrBinary, listRows: Int32Array): DenseOrBinary {
  const w = data.type === 'BinaryVector' ? data.dim >>> 3 : data.dim
  const n = listRows.length
  const copy = <T extends Float32Array | Uint16Array | Int8Array | Uint8Array>(src: T, out: T): T => {
    for (let i = 0; i < n; i++) {
      const r = listRows[i]!
      out.set(src.subarray(r * w, (r + 1) * w), i * w)
    }
    return out
  }
  switch (data.type) {
    case 'FloatVector':
      return { type: data.type, dim: data.dim, data: copy(data.data, new Float32Array(n * w)) }
    case 'Float16Vector':
    case 'BFloat16Vector':
      return { type: data.type, dim: data.dim, data: copy(data.data, new Uint16Array(n * w)) }
    case 'Int8Vector':
      return { type: data.type, dim: data.dim, data: copy(data.data, new Int8Array(n * w)) }
    case 'BinaryVector':
      return { type: data.type, dim: data.dim, data: copy(data.data, new Uint8Array(n * w)) }
  }
}

/** Scans one list into the approximate heap; returns how many rows it admitted. */
type ListScanner = (
  list: number,
  coarseDist: number,
  start: number,
  end: number,
  rows: Int32Array,
  words: Uint32Array | undefined,
  size: number,
  heap: TopKHeap,
) => number

function drainHits(heap: TopKHeap, sign: number): Hits {
  const { rows, keys } = heap.drain()
  const scores = new Float32Array(keys.length)
  // 0 - key rather than -key: an IP of exactly 0 must not come out as -0.
  for (let i = 0; i < keys.length; i++) scores[i] = sign < 0 ? 0 - keys[i]! : keys[i]!
  return { rows, scores }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/**
 * Rebuilds an IVF index from serialize()'s files. With `data` (the segment's own column), the raw
 * rows are taken from it instead of `ivf.data`; it must match the header's type, dim and rows.
 *
 * @throws DbError DataCorrupted on missing, inconsistent or damaged files, ParameterInvalid if
 * `data` does not match.
 */
export function loadIvfIndex(
  files: ReadonlyMap<string, Uint8Array>,
  data?: VectorColumn,
  opts: Pick<IvfOptions, 'filterExactRows'> = {},
): IvfIndex {
  const metaBytes = files.get(IVF_META_FILE)
  if (metaBytes === undefined) throw corrupted('missing header')
  let meta: IvfMeta
  try {
    meta = JSON.parse(new TextDecoder().decode(metaBytes)) as IvfMeta
  } catch (e) {
    throw new DbError('DataCorrupted', 'IVF index header is not JSON', { cause: e })
  }
  if (
    meta === null ||
    typeof meta !== 'object' ||
    meta.version !== 1 ||
    meta.engine !== 'IVF' ||
    typeof meta.indexType !== 'string' ||
    !isVectorType(meta.vectorType) ||
    (meta.vectorType as string) === 'SparseFloatVector' ||
    !isMetric(meta.metric) ||
    ![meta.dim, meta.rows, meta.indexed, meta.nlist, meta.cdim, meta.m, meta.ksub, meta.payloadBytes, meta.payloadCrc, meta.dataBytes, meta.dataCrc].every(isCount) ||
    meta.dim === 0 ||
    meta.indexed > meta.rows ||
    typeof meta.params !== 'object' ||
    meta.params === null
  ) {
    throw corrupted(`unsupported header ${JSON.stringify(meta)}`)
  }
  let bp: IvfBuildParams
  let indexType: string
  try {
    const spec = indexTypeSpec(meta.indexType, meta.vectorType)
    if (spec.engine !== 'IVF') throw invalid(`${spec.indexType} is not an IVF index type`)
    indexType = spec.indexType
    checkMetric(meta.metric, meta.vectorType)
    bp = ivfBuildParams(indexType, meta.dim, meta.params)
  } catch (e) {
    throw new DbError('DataCorrupted', 'IVF index header has invalid parameters', { cause: e })
  }
  const kind = kindOf(indexType)
  const { dim, indexed, nlist, cdim } = meta
  const expectedKsub = kind === 'PQ' && indexed > 0 ? Math.min(1 << Math.min(bp.nbits, PQ_MAX_TRAINED_NBITS), indexed) : 0
  if (
    meta.kind !== kind ||
    nlist !== Math.min(bp.nlist, indexed) ||
    cdim !== (meta.metric === 'IP' ? dim + 1 : dim) ||
    meta.m !== bp.m ||
    meta.ksub !== expectedKsub
  ) {
    throw corrupted('header parameters disagree')
  }
  const col = data === undefined ? decodeRaw(files, meta) : checkColumn(data, meta)
  const present = nonNullRows(col.valid, meta.rows)
  if ((present === null ? meta.rows : present.length) !== indexed) throw corrupted('null rows disagree')

  const payload = files.get(PAYLOAD_FILE)
  if (payload === undefined) throw corrupted('missing payload')
  if (payload.length !== meta.payloadBytes || crc32c(payload) !== meta.payloadCrc) throw corrupted('payload checksum mismatch')
  const m = meta.m
  const ksub = meta.ksub
  const sizes = [nlist * cdim * 4, (nlist + 1) * 4, indexed * 4]
  if (kind === 'SQ8') sizes.push(dim * 4, dim * 4, indexed * dim)
  if (kind === 'PQ') sizes.push(ksub * dim * 4, indexed * m)
  if (sizes.reduce((a, b) => a + b, 0) !== payload.length) throw corrupted('payload size disagrees with the header')
  let off = 0
  const take = (n: number): ArrayBuffer => {
    const b = payload.slice(off, off + n).buffer
    off += n
    return b
  }
  const centroids = new Float32Array(take(sizes[0]!))
  const listOffsets = new Int32Array(take(sizes[1]!))
  const listRows = new Int32Array(take(sizes[2]!))
  checkLists(listOffsets, listRows, nlist, col, meta.rows)
  const coarse = { nlist, cdim, centroids, listOffsets, listRows }
  let model: IvfModel = coarse
  if (kind === 'SQ8') {
    const vmin = new Float32Array(take(dim * 4))
    const vstep = new Float32Array(take(dim * 4))
    model = { ...coarse, sq: { vmin, vstep, codes: new Uint8Array(take(indexed * dim)) } }
  } else if (kind === 'PQ') {
    const codebooks = new Float32Array(take(ksub * dim * 4))
    const codes = new Uint8Array(take(indexed * m))
    for (let i = 0; i < codes.length; i++) if (codes[i]! >= ksub) throw corrupted('PQ code out of range')
    model = { ...coarse, pq: { m, ksub, codebooks, codes, table: pqTable(meta.metric, coarse, m, ksub, codebooks) } }
  }
  return new IvfIndex(indexType, kind, meta.metric, { ...meta.params }, bp, col, indexed, model, opts)
}

/** Offsets ascend from 0 to the row count; every non-null row is in exactly one list. */
function checkLists(listOffsets: Int32Array, listRows: Int32Array, nlist: number, col: DenseOrBinary, rows: number): void {
  if (listOffsets[0] !== 0 || listOffsets[nlist] !== listRows.length) throw corrupted('list offsets disagree')
  for (let l = 0; l < nlist; l++) if (listOffsets[l + 1]! < listOffsets[l]!) throw corrupted('list offsets disagree')
  const seen = new Uint8Array(rows)
  for (let i = 0; i < listRows.length; i++) {
    const r = listRows[i]!
    if (r < 0 || r >= rows || seen[r] !== 0 || (col.valid !== undefined && col.valid[r] === 0)) throw corrupted('list rows disagree')
    seen[r] = 1
  }
}

function checkColumn(data: VectorColumn, meta: IvfMeta): DenseOrBinary {
  if (data.type === 'SparseFloatVector' || data.type !== meta.vectorType || data.dim !== meta.dim || columnRows(data) !== meta.rows) {
    throw invalid(`column does not match the IVF index: index has ${meta.rows} rows of ${meta.vectorType}(${meta.dim})`)
  }
  return data
}

function decodeRaw(files: ReadonlyMap<string, Uint8Array>, meta: IvfMeta): DenseOrBinary {
  const bytes = files.get(DATA_FILE)
  if (bytes !== undefined && (bytes.length !== meta.dataBytes || crc32c(bytes) !== meta.dataCrc)) {
    throw corrupted('raw data checksum mismatch')
  }
  return decodeDenseColumn(bytes, files.get(VALID_FILE), meta.vectorType, meta.dim, meta.rows, corrupted)
}

function corrupted(detail: string): DbError {
  return new DbError('DataCorrupted', `IVF index files: ${detail}`)
}

