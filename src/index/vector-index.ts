import type { VectorColumn } from '../schema/columns.js'
import type { Hits, SearchOptions } from './brute-force.js'
import type { GraphSearchBatcher } from './graph-search.js'
import type { MetricType } from './metric.js'

/** Search options of an index: its metric is fixed at build time. */
export type IndexSearchOptions = Omit<SearchOptions, 'metric'> & {
  /** Index-specific search params as the client sent them (ef, nprobe, ...); FLAT has none. */
  readonly params?: Record<string, unknown>
}

/**
 * A built vector index over one immutable vector column (one segment's field). Implementations
 * must return exactly what bruteForceSearch would for FLAT, and the same shape (best first, ties
 * to the lower row, null rows never returned) for approximate indexes.
 *
 * Concurrency: search is synchronous and does not mutate the index, so one instance may serve any
 * number of searches, also while searchBatched calls are pending.
 */
export interface VectorIndex {
  /** Milvus index_type, upper-case ('FLAT', 'HNSW', ...). */
  readonly indexType: string
  readonly metric: MetricType
  /**
   * @throws DbError ParameterInvalid on a query column of another vector type or dim, bad k, or
   * invalid range parameters.
   */
  search(queries: VectorColumn, opts: IndexSearchOptions): Hits[]
  /**
   * The same search with its graph traversal run by `batcher`, together with concurrent requests'
   * and on several threads. Only graph indexes have it; callers fall back to `search`.
   */
  searchBatched?(queries: VectorColumn, opts: IndexSearchOptions, batcher: GraphSearchBatcher): Promise<Hits[]>
  /**
   * The index files to upload, by file name. Values may be views of the index's own memory (even
   * of the segment's column): write them out, never mutate them or transfer their buffers, which
   * would pull the column from under native searches running on other threads.
   */
  serialize(): Map<string, Uint8Array>
}
