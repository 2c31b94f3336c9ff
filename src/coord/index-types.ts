/**
 * Which index types a field may take, by data type, with Milvus's names. Every accepted vector
 * index is served exactly (brute force) until the ANN kernels land; the index record keeps the
 * user's parameters so clients see what they created.
 */
import { invalid } from '../common/errors.js'
import type { StoredTypeName } from '../schema/types.js'

const FLOAT_INDEXES = ['FLAT', 'IVF_FLAT', 'IVF_SQ8', 'IVF_PQ', 'HNSW', 'HNSW_SQ', 'HNSW_PQ', 'HNSW_PRQ', 'SCANN', 'DISKANN', 'IVF_RABITQ', 'AUTOINDEX']
const BY_TYPE: Partial<Record<StoredTypeName, readonly string[]>> = {
  FloatVector: FLOAT_INDEXES,
  Float16Vector: FLOAT_INDEXES,
  BFloat16Vector: FLOAT_INDEXES,
  Int8Vector: ['FLAT', 'HNSW', 'AUTOINDEX'],
  BinaryVector: ['BIN_FLAT', 'BIN_IVF_FLAT', 'MINHASH_LSH', 'AUTOINDEX'],
  SparseFloatVector: ['SPARSE_INVERTED_INDEX', 'SPARSE_WAND', 'AUTOINDEX'],
}
const NUMERIC = ['INVERTED', 'STL_SORT', 'BITMAP', 'AUTOINDEX']
const SCALAR_BY_TYPE: Partial<Record<StoredTypeName, readonly string[]>> = {
  Bool: ['INVERTED', 'BITMAP', 'AUTOINDEX'],
  Int8: NUMERIC,
  Int16: NUMERIC,
  Int32: NUMERIC,
  Int64: NUMERIC,
  Float: ['INVERTED', 'STL_SORT', 'AUTOINDEX'],
  Double: ['INVERTED', 'STL_SORT', 'AUTOINDEX'],
  VarChar: ['INVERTED', 'Trie', 'TRIE', 'BITMAP', 'NGRAM', 'AUTOINDEX'],
  JSON: ['INVERTED', 'NGRAM', 'AUTOINDEX'],
  Array: ['INVERTED', 'BITMAP', 'AUTOINDEX'],
}

/** Normalises and validates an index type for a field; '' means AUTOINDEX as in Milvus. */
export function checkIndexType(dataType: StoredTypeName, fieldName: string, indexType: string): string {
  const t = indexType === '' ? 'AUTOINDEX' : indexType
  const allowed = BY_TYPE[dataType] ?? SCALAR_BY_TYPE[dataType] ?? []
  const hit = allowed.find((a) => a.toUpperCase() === t.toUpperCase())
  if (!hit) {
    throw invalid(`index type ${t} is not supported for field ${fieldName} of type ${dataType}; supported: ${allowed.join(', ') || 'none'}`)
  }
  return hit
}
