/**
 * index/: vector search kernels and the VectorIndex port. Exact search (bruteForceSearch, FLAT),
 * the IVF family (IVF_FLAT, IVF_SQ8, IVF_PQ, BIN_IVF_FLAT) and the sparse inverted index are pure
 * TypeScript over typed arrays and always available; HNSW (and, for now, the remaining graph and
 * disk index types) runs on the usearch native addon behind the same port. buildVectorIndex /
 * loadVectorIndex dispatch on Milvus's index_type; IndexBuildPool builds off the event loop.
 */
export type { Hits, SearchOptions } from './brute-force.js'
export { bruteForceSearch, distance } from './brute-force.js'
export { buildFlatIndex, loadFlatIndex } from './flat-index.js'
export type { GraphSearchBatcherOptions } from './graph-search.js'
export { GraphSearchBatcher } from './graph-search.js'
export type { HnswOptions } from './hnsw-index.js'
export { buildHnswIndex, HnswIndex, loadHnswIndex } from './hnsw-index.js'
export { NativeMemoryTrimmer } from './column-graph.js'
export { exactSearch } from './native-exact.js'
export type { IndexBuildOptions, IndexBuildPoolOptions, IndexBuildRequest } from './index-build-pool.js'
export { IndexBuildPool } from './index-build-pool.js'
export type { BuildOptions } from './index-factory.js'
export { buildVectorIndex, isColumnCopyFile, loadVectorIndex } from './index-factory.js'
export type {
  HnswBuildParams,
  IndexEngine,
  IndexTypeSpec,
  IvfBuildParams,
  IvfSearchParams,
  SearchProfile,
  SparseAlgo,
  SparseBuildParams,
  SparseSearchParams,
} from './index-params.js'
export {
  hnswBuildParams,
  indexTypeSpec,
  ivfBuildParams,
  ivfSearchParams,
  searchEf,
  sparseBuildParams,
  sparseSearchParams,
} from './index-params.js'
export type { IvfKind, IvfOptions } from './ivf-index.js'
export { buildIvfIndex, IvfIndex, loadIvfIndex } from './ivf-index.js'
export type { SparseIndexOptions } from './sparse-inverted-index.js'
export { buildSparseIndex, loadSparseIndex, SparseInvertedIndex } from './sparse-inverted-index.js'
export {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
} from './half-float.js'
export { mergeTopK } from './merge-top-k.js'
export type { MetricType } from './metric.js'
export { higherIsBetter, normalizeMetric, supportedMetrics } from './metric.js'
export type { IndexSearchOptions, VectorIndex } from './vector-index.js'
