/**
 * index/: vector search kernels and the VectorIndex port. Exact search (bruteForceSearch, FLAT)
 * is pure TypeScript over typed arrays and always available; native ANN indexes plug in behind
 * VectorIndex later.
 */
export type { Hits, SearchOptions } from './brute-force.js'
export { bruteForceSearch, distance } from './brute-force.js'
export { buildFlatIndex, loadFlatIndex } from './flat-index.js'
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
