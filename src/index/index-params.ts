/**
 * Milvus index types and their build/search parameters: which engine serves each type, the
 * defaults, and validation with knowhere's messages (so clients that match on them still do).
 *
 * Sources: knowhere `BaseHnswConfig` (M in [2, 2048] default 30, efConstruction in [1, INT_MAX]
 * default 360, ef in [1, INT_MAX] and >= k, default max(k, 16), range-search default 512) and
 * Milvus's `autoIndex.params.build` default `{"M": 18, "efConstruction": 240, "index_type": "HNSW"}`.
 * knowhere `IvfConfig` (nlist in [1, 65536] default 128, nprobe in [1, 65536] default 8,
 * max_empty_result_buckets in [1, 65536] default 2), `IvfPqConfig` (m in [1, 65536], nbits in
 * [1, 24] default 8, refine_k >= 1) with Milvus's ivfPQChecker messages (`m` is required and must
 * divide dim), and `SparseInvertedIndexConfig` (drop_ratio_build / drop_ratio_search in [0, 1),
 * refine_factor, dim_max_score_ratio in [0.5, 1.3] default 1.05, inverted_index_algo default
 * DAAT_MAXSCORE).
 */
import { DbError, invalid } from '../common/errors.js'
import type { VectorTypeName } from '../schema/types.js'

/** The implementation behind an index type. */
export type IndexEngine = 'FLAT' | 'HNSW' | 'IVF' | 'SPARSE'

/**
 * How an index type reads its search parameters:
 * - HNSW: `ef`, knowhere's rules (ef >= k, default max(k, 16));
 * - AUTOINDEX: `ef` if sent, otherwise max(k, 64) (recall first: there is no user-tuned index);
 * - IVF: the IVF engine reads `nprobe` (ivfSearchParams); the HNSW stand-ins still served for
 *   IVF_RABITQ and SCANN validate it and search with ef = max(k, 64);
 * - DISKANN: `search_list` is validated and used as ef;
 * - NONE: exact engines, no search parameters.
 */
export type SearchProfile = 'HNSW' | 'AUTOINDEX' | 'IVF' | 'DISKANN' | 'NONE'

export interface IndexTypeSpec {
  /** Upper-case Milvus index_type, as reported by the built index. */
  readonly indexType: string
  readonly engine: IndexEngine
  readonly profile: SearchProfile
}

export interface HnswBuildParams {
  /** Graph degree (usearch `connectivity`; the base layer keeps 2M links, as hnswlib). */
  readonly M: number
  readonly efConstruction: number
}

export const INT_MAX = 2147483647
const HNSW_DEFAULTS: HnswBuildParams = { M: 30, efConstruction: 360 }
const AUTOINDEX_DEFAULTS: HnswBuildParams = { M: 18, efConstruction: 240 }
/** knowhere kEfMinValue: HNSW's ef when the client sends none. */
const HNSW_MIN_EF = 16
/** ef for profiles without a user-tunable beam (AUTOINDEX, IVF stand-ins). */
const AUTO_EF = 64
/** knowhere kDefaultRangeSearchEf. */
const RANGE_SEARCH_EF = 512
/** Milvus's nlist / nprobe bounds for the IVF family. */
const IVF_MAX_NLIST = 65536

/** knowhere IvfConfig defaults. */
const IVF_DEFAULT_NLIST = 128
const IVF_DEFAULT_NPROBE = 8
const IVF_DEFAULT_MAX_EMPTY_BUCKETS = 2
/** knowhere IvfPqConfig: nbits in [1, 24] ("FAISS rejects nbits > 24"), default 8. */
const PQ_MAX_NBITS = 24
const PQ_DEFAULT_NBITS = 8

/** Index types with an IVF engine of their own (ivf-index.ts). */
const IVF_TYPES: ReadonlySet<string> = new Set(['IVF_FLAT', 'IVF_SQ8', 'IVF_PQ', 'BIN_IVF_FLAT'])

/**
 * Index types served by the HNSW engine although Milvus implements them differently. Their own
 * implementations come later; until then they get a graph index, which answers the same queries
 * with at least the recall users expect of them.
 */
const HNSW_STAND_INS: Readonly<Record<string, SearchProfile>> = {
  HNSW_SQ: 'HNSW',
  HNSW_PQ: 'HNSW',
  HNSW_PRQ: 'HNSW',
  IVF_RABITQ: 'IVF',
  SCANN: 'IVF',
  DISKANN: 'DISKANN',
}

/**
 * Resolves a client's index_type (case-insensitive; '' is AUTOINDEX) for a vector type.
 *
 * @throws DbError IndexNotSupported for types Harrier has no engine for (GPU indexes,
 * MINHASH_LSH, scalar index types).
 */
export function indexTypeSpec(indexType: string, vectorType: VectorTypeName): IndexTypeSpec {
  const t = indexType.trim() === '' ? 'AUTOINDEX' : indexType.trim().toUpperCase()
  if (vectorType === 'SparseFloatVector') {
    // Milvus's AUTOINDEX on sparse fields is SPARSE_INVERTED_INDEX.
    if (t === 'SPARSE_INVERTED_INDEX' || t === 'SPARSE_WAND' || t === 'AUTOINDEX') {
      return { indexType: t, engine: 'SPARSE', profile: 'NONE' }
    }
    throw notSupported(t, vectorType)
  }
  if (t === 'FLAT' || t === 'BIN_FLAT') {
    if ((t === 'BIN_FLAT') !== (vectorType === 'BinaryVector')) throw notSupported(t, vectorType)
    return { indexType: t, engine: 'FLAT', profile: 'NONE' }
  }
  if (t === 'HNSW') return { indexType: t, engine: 'HNSW', profile: 'HNSW' }
  if (t === 'AUTOINDEX') return { indexType: t, engine: 'HNSW', profile: 'AUTOINDEX' }
  if (IVF_TYPES.has(t)) {
    if ((t === 'BIN_IVF_FLAT') !== (vectorType === 'BinaryVector')) throw notSupported(t, vectorType)
    return { indexType: t, engine: 'IVF', profile: 'IVF' }
  }
  const profile = HNSW_STAND_INS[t]
  if (profile === undefined) throw notSupported(t, vectorType)
  if (vectorType === 'BinaryVector') throw notSupported(t, vectorType)
  return { indexType: t, engine: 'HNSW', profile }
}

function notSupported(indexType: string, vectorType: VectorTypeName): DbError {
  return new DbError('IndexNotSupported', `index type ${indexType} is not supported for ${vectorType}`)
}

/**
 * The graph parameters of an HNSW-engine index from the client's build params. Unknown keys are
 * ignored, as Milvus does; the IVF stand-ins still validate `nlist` so bad requests fail alike.
 *
 * @throws DbError ParameterInvalid on non-integer or out-of-range values.
 */
export function hnswBuildParams(
  spec: IndexTypeSpec,
  params: Readonly<Record<string, string>>,
): HnswBuildParams {
  if (spec.profile === 'IVF') intParam(params, 'nlist', 1, IVF_MAX_NLIST)
  const d = spec.profile === 'HNSW' ? HNSW_DEFAULTS : AUTOINDEX_DEFAULTS
  // M and efConstruction are honoured on every HNSW-engine type so a caller can tune stand-ins.
  const M = intParam(params, 'M', 2, 2048) ?? d.M
  const efConstruction = intParam(params, 'efConstruction', 1, INT_MAX) ?? d.efConstruction
  return { M, efConstruction }
}

/**
 * The search beam (ef) for one search from the client's search params.
 *
 * @throws DbError ParameterInvalid on a malformed or out-of-range value, or (HNSW, AUTOINDEX)
 * `ef < k` in a top-k search, with knowhere's message `ef(E) should be larger than k(K)`.
 */
export function searchEf(
  profile: SearchProfile,
  params: Readonly<Record<string, unknown>> | undefined,
  k: number,
  range: boolean,
): number {
  const p = params ?? {}
  switch (profile) {
    case 'HNSW':
    case 'AUTOINDEX': {
      const ef = intParam(p, 'ef', 1, INT_MAX)
      if (ef === undefined) {
        if (range) return RANGE_SEARCH_EF
        return Math.max(k, profile === 'HNSW' ? HNSW_MIN_EF : AUTO_EF)
      }
      if (!range && k > ef) throw invalid(`ef(${ef}) should be larger than k(${k})`)
      return ef
    }
    case 'IVF':
      intParam(p, 'nprobe', 1, IVF_MAX_NLIST)
      return range ? RANGE_SEARCH_EF : Math.max(k, AUTO_EF)
    case 'DISKANN': {
      const list = intParam(p, 'search_list', 1, INT_MAX)
      if (range) return Math.max(list ?? 0, RANGE_SEARCH_EF)
      return Math.max(k, list ?? AUTO_EF)
    }
    case 'NONE':
      return k
  }
}

/**
 * An integer parameter as Milvus accepts it: a JSON integer or a decimal string; absent (or null,
 * as pymilvus sends for "default") is undefined.
 */
export function intParam(
  params: Readonly<Record<string, unknown>>,
  key: string,
  min: number,
  max: number,
): number | undefined {
  if (!Object.hasOwn(params, key)) return undefined
  const raw = params[key]
  if (raw === undefined || raw === null) return undefined
  let n: number
  if (typeof raw === 'number' && Number.isInteger(raw)) n = raw
  else if (typeof raw === 'string' && /^\s*[+-]?\d+\s*$/.test(raw)) n = Number(raw)
  else throw invalid(`invalid integer value, key: '${key}', value: '${String(raw)}'`)
  if (!(n >= min && n <= max)) throw invalid(`param '${key}' (${n}) should be in range [${min}, ${max}]`)
  return n
}

/** Build parameters of the IVF engine. m and nbits are 0 except for IVF_PQ. */
export interface IvfBuildParams {
  readonly nlist: number
  /** IVF_PQ sub-quantizers (divides dim). */
  readonly m: number
  /** IVF_PQ bits per code as the client asked (the engine may train fewer; see ivf-index.ts). */
  readonly nbits: number
}

/**
 * The IVF engine's build parameters for IVF_FLAT, IVF_SQ8, IVF_PQ and BIN_IVF_FLAT.
 *
 * @throws DbError ParameterInvalid on out-of-range values, a missing `m` for IVF_PQ (Milvus's
 * "parameter `m` not found") or an `m` that does not divide dim.
 */
export function ivfBuildParams(indexType: string, dim: number, params: Readonly<Record<string, unknown>>): IvfBuildParams {
  const nlist = intParam(params, 'nlist', 1, IVF_MAX_NLIST) ?? IVF_DEFAULT_NLIST
  if (indexType !== 'IVF_PQ') return { nlist, m: 0, nbits: 0 }
  const m = intParam(params, 'm', 1, IVF_MAX_NLIST)
  if (m === undefined) throw invalid('parameter `m` not found')
  if (dim % m !== 0) throw invalid(`dimension must be abled to be divided by \`m\`, dimension: ${dim}, m: ${m}`)
  const nbits = intParam(params, 'nbits', 1, PQ_MAX_NBITS) ?? PQ_DEFAULT_NBITS
  return { nlist, m, nbits }
}

export interface IvfSearchParams {
  /** Lists probed for a top-k search (knowhere default 8); the engine clamps it to nlist. */
  readonly nprobe: number
  /**
   * knowhere's refine_k: IVF_SQ8 / IVF_PQ re-score ceil(k * refineK) quantized candidates exactly;
   * undefined lets the engine choose.
   */
  readonly refineK: number | undefined
  /** Range search stops after this many consecutive probed lists without an in-range hit. */
  readonly maxEmptyBuckets: number
}

/** @throws DbError ParameterInvalid on malformed or out-of-range values. */
export function ivfSearchParams(params: Readonly<Record<string, unknown>> | undefined): IvfSearchParams {
  const p = params ?? {}
  return {
    nprobe: intParam(p, 'nprobe', 1, IVF_MAX_NLIST) ?? IVF_DEFAULT_NPROBE,
    refineK: floatParam(p, 'refine_k', 1, 3.4028234663852886e38, true),
    maxEmptyBuckets: intParam(p, 'max_empty_result_buckets', 1, IVF_MAX_NLIST) ?? IVF_DEFAULT_MAX_EMPTY_BUCKETS,
  }
}

/**
 * Query algorithms of knowhere's sparse inverted index (2.6 names). The BLOCKMAX variants are
 * accepted and served by their non-blockmax counterparts (same results, no block-max skipping).
 */
export type SparseAlgo = 'TAAT_NAIVE' | 'DAAT_WAND' | 'DAAT_MAXSCORE' | 'DAAT_BLOCKMAX_WAND' | 'DAAT_BLOCKMAX_MAXSCORE'
const SPARSE_ALGOS: readonly SparseAlgo[] = ['TAAT_NAIVE', 'DAAT_WAND', 'DAAT_MAXSCORE', 'DAAT_BLOCKMAX_WAND', 'DAAT_BLOCKMAX_MAXSCORE']

export interface SparseBuildParams {
  /** Fraction of each row's smallest-magnitude values left out of the posting lists. */
  readonly dropRatioBuild: number
  readonly algo: SparseAlgo
}

/**
 * Build parameters of SPARSE_INVERTED_INDEX / SPARSE_WAND / AUTOINDEX on sparse fields. SPARSE_WAND
 * defaults to DAAT_WAND (what Milvus 2.6 maps it to), the others to DAAT_MAXSCORE.
 *
 * @throws DbError ParameterInvalid with knowhere's messages.
 */
export function sparseBuildParams(indexType: string, params: Readonly<Record<string, unknown>>): SparseBuildParams {
  const dropRatioBuild = floatParam(params, 'drop_ratio_build', 0, 1, false) ?? 0
  let algo: SparseAlgo = indexType === 'SPARSE_WAND' ? 'DAAT_WAND' : 'DAAT_MAXSCORE'
  const raw = params['inverted_index_algo']
  if (Object.hasOwn(params, 'inverted_index_algo') && raw !== undefined && raw !== null) {
    const name = String(raw).trim().toUpperCase()
    const found = SPARSE_ALGOS.find((a) => a === name)
    if (found === undefined) {
      throw invalid(`sparse inverted index algo ${String(raw)} not found or not supported, supported: [${SPARSE_ALGOS.join(' ')}]`)
    }
    algo = found
  }
  return { dropRatioBuild, algo }
}

export interface SparseSearchParams {
  /** Fraction of the query's smallest-magnitude values ignored while collecting candidates. */
  readonly dropRatioSearch: number
  /** Approximate searches re-score k * refineFactor candidates exactly (knowhere default 1). */
  readonly refineFactor: number
  /** Scales each term's max score in DAAT pruning; below 1 prunes more (approximate). */
  readonly dimMaxScoreRatio: number
}

/** @throws DbError ParameterInvalid with knowhere's messages. */
export function sparseSearchParams(params: Readonly<Record<string, unknown>> | undefined): SparseSearchParams {
  const p = params ?? {}
  return {
    dropRatioSearch: floatParam(p, 'drop_ratio_search', 0, 1, false) ?? 0,
    refineFactor: intParam(p, 'refine_factor', 1, INT_MAX) ?? 1,
    dimMaxScoreRatio: floatParam(p, 'dim_max_score_ratio', 0.5, 1.3, true) ?? 1.05,
  }
}

/**
 * A float parameter as Milvus accepts it: a JSON number or a decimal string; absent or null is
 * undefined. The range is [min, max] or, with maxInclusive false, [min, max) as knowhere's
 * drop ratios.
 */
export function floatParam(
  params: Readonly<Record<string, unknown>>,
  key: string,
  min: number,
  max: number,
  maxInclusive: boolean,
): number | undefined {
  if (!Object.hasOwn(params, key)) return undefined
  const raw = params[key]
  if (raw === undefined || raw === null) return undefined
  let n: number
  if (typeof raw === 'number' && Number.isFinite(raw)) n = raw
  else if (typeof raw === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(raw)) n = Number(raw)
  else throw invalid(`invalid float value, key: '${key}', value: '${String(raw)}'`)
  if (!(n >= min && (maxInclusive ? n <= max : n < max))) {
    throw invalid(`param '${key}' (${n}) should be in range [${min}, ${max}${maxInclusive ? ']' : ')'}`)
  }
  return n
}
