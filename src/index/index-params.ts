/**
 * Milvus index types and their build/search parameters: which engine serves each type, the
 * defaults, and validation with knowhere's messages (so clients that match on them still do).
 *
 * Sources: knowhere `BaseHnswConfig` (M in [2, 2048] default 30, efConstruction in [1, INT_MAX]
 * default 360, ef in [1, INT_MAX] and >= k, default max(k, 16), range-search default 512) and
 * Milvus's `autoIndex.params.build` default `{"M": 18, "efConstruction": 240, "index_type": "HNSW"}`.
 */
import { DbError, invalid } from '../common/errors.js'
import type { VectorTypeName } from '../schema/types.js'

/** The implementation behind an index type. */
export type IndexEngine = 'FLAT' | 'HNSW'

/**
 * How an index type reads its search parameters:
 * - HNSW: `ef`, knowhere's rules (ef >= k, default max(k, 16));
 * - AUTOINDEX: `ef` if sent, otherwise max(k, 64) (recall first: there is no user-tuned index);
 * - IVF: `nprobe` is validated and ignored until the IVF engine exists; ef = max(k, 64);
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

/**
 * Index types served by the HNSW engine although Milvus implements them differently. Their own
 * implementations come later; until then they get a graph index, which answers the same queries
 * with at least the recall users expect of them.
 */
const HNSW_STAND_INS: Readonly<Record<string, SearchProfile>> = {
  HNSW_SQ: 'HNSW',
  HNSW_PQ: 'HNSW',
  HNSW_PRQ: 'HNSW',
  IVF_FLAT: 'IVF',
  IVF_SQ8: 'IVF',
  IVF_PQ: 'IVF',
  IVF_RABITQ: 'IVF',
  SCANN: 'IVF',
  BIN_IVF_FLAT: 'IVF',
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
    // Exact sparse search is fast enough for segment sizes so far; the inverted index comes later.
    if (t === 'SPARSE_INVERTED_INDEX' || t === 'SPARSE_WAND' || t === 'AUTOINDEX') {
      return { indexType: t, engine: 'FLAT', profile: 'NONE' }
    }
    throw notSupported(t, vectorType)
  }
  if (t === 'FLAT' || t === 'BIN_FLAT') {
    if ((t === 'BIN_FLAT') !== (vectorType === 'BinaryVector')) throw notSupported(t, vectorType)
    return { indexType: t, engine: 'FLAT', profile: 'NONE' }
  }
  if (t === 'HNSW') return { indexType: t, engine: 'HNSW', profile: 'HNSW' }
  if (t === 'AUTOINDEX') return { indexType: t, engine: 'HNSW', profile: 'AUTOINDEX' }
  const profile = HNSW_STAND_INS[t]
  if (profile === undefined) throw notSupported(t, vectorType)
  if ((t === 'BIN_IVF_FLAT') !== (vectorType === 'BinaryVector')) throw notSupported(t, vectorType)
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
