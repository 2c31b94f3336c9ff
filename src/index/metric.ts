import { invalid } from '../common/errors.js'
import type { VectorTypeName } from '../schema/types.js'

/**
 * Milvus metric types Harrier searches with. L2 is the SQUARED euclidean distance, as in Milvus;
 * COSINE is the similarity in [-1, 1], not a distance.
 */
export type MetricType = 'L2' | 'IP' | 'COSINE' | 'HAMMING' | 'JACCARD'

/** Per vector type, the metrics Milvus 2.6 accepts, the default first. */
const SUPPORTED: Readonly<Record<VectorTypeName, readonly MetricType[]>> = {
  FloatVector: ['COSINE', 'L2', 'IP'],
  Float16Vector: ['COSINE', 'L2', 'IP'],
  BFloat16Vector: ['COSINE', 'L2', 'IP'],
  Int8Vector: ['COSINE', 'L2', 'IP'],
  BinaryVector: ['HAMMING', 'JACCARD'],
  SparseFloatVector: ['IP'],
}

// Order used in error messages, which read better in Milvus's documentation order.
const DOC_ORDER: readonly MetricType[] = ['L2', 'IP', 'COSINE', 'HAMMING', 'JACCARD']

export function supportedMetrics(vectorType: VectorTypeName): readonly MetricType[] {
  const s = SUPPORTED[vectorType]
  return DOC_ORDER.filter((m) => s.includes(m))
}

/**
 * Resolves a client's metric_type for a vector field. Empty or missing means the Milvus default
 * (COSINE for dense float and int8, IP for sparse, HAMMING for binary); matching is
 * case-insensitive as in Milvus.
 *
 * @throws DbError ParameterInvalid naming the metric, the vector type and the supported metrics.
 */
export function normalizeMetric(
  metric: string | undefined,
  vectorType: VectorTypeName,
): MetricType {
  const s = SUPPORTED[vectorType]
  if (metric === undefined || metric.trim() === '') return s[0]!
  const m = metric.trim().toUpperCase()
  const found = s.find((x) => x === m)
  if (found === undefined) {
    const list = supportedMetrics(vectorType).join(', ')
    throw invalid(`metric type ${m} is not valid for ${vectorType}, supported: ${list}`)
  }
  return found
}

/** Like normalizeMetric for an already typed metric; used where a caller may mix types up. */
export function checkMetric(metric: MetricType, vectorType: VectorTypeName): void {
  if (!SUPPORTED[vectorType].includes(metric)) normalizeMetric(metric, vectorType)
}

/** IP and COSINE are similarities (bigger is closer); L2, HAMMING and JACCARD are distances. */
export function higherIsBetter(metric: MetricType): boolean {
  return metric === 'IP' || metric === 'COSINE'
}
