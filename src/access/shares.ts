/**
 * A read over a collection whose flushed segments are spread over several query nodes. The node
 * that takes the read (the delegator) reads its growing rows and its own share locally and asks
 * each other holder for its share through this port; cluster/share-rpc.ts carries it between
 * processes. Standalone has no port: every segment is local.
 */
import type { Timestamp } from '../common/tso.js'
import type { GroupKey } from '../query/scan.js'
import type { Column, VectorColumn } from '../schema/columns.js'

/** What one share read does. Every share is read with offset 0 and `offset + limit` rows or groups. */
export type ShareOp = 'search' | 'hybrid' | 'iterator' | 'query' | 'count' | 'rows'

export interface ShareRequest {
  readonly op: ShareOp
  readonly collectionId: bigint
  /** The delegator's snapshot: the share reads at exactly this timestamp. */
  readonly ts: Timestamp
  /** The flushed segments this holder is asked for (the delegator read everything else). */
  readonly segments: readonly bigint[]
  readonly partitionIds?: readonly bigint[]
  /** The client's SearchRequest (search, hybrid sub-request, iterator) or QueryRequest (query, count). */
  readonly request?: Record<string, unknown>
  /** Columns to return for the rows of the share. */
  readonly fields: readonly string[]
  /** Iterator page: where the previous page ended. */
  readonly page?: { readonly bound?: number; readonly includeBound: boolean; readonly returned: readonly (bigint | string)[] }
  /** Query: at most this many rows, the first by primary key (limit + offset); absent for all. */
  readonly limit?: number
  /** Search by primary keys: the query vectors, already resolved by the delegator. */
  readonly queries?: VectorColumn
  /**
   * Grouping search, second round: only rows whose group field value is one of these, and up to
   * that many groups (all of them) instead of offset + limit.
   */
  readonly keep?: { readonly field: string; readonly values: readonly GroupKey[] }
  /** op 'rows': the primary keys to look up (search by primary keys). */
  readonly pks?: readonly (bigint | string)[]
}

export interface ShareReply {
  /** op 'count'. */
  readonly count?: number
  /** Searches: hits per query and their scores; row i of `columns` is hit i. */
  readonly topks?: readonly number[]
  readonly scores?: Float32Array
  readonly numRows: number
  readonly columns: ReadonlyMap<string, Column>
}

export interface ShareTarget {
  readonly nodeId: string
  readonly address: string
  readonly segments: readonly bigint[]
}

export interface SegmentFanout {
  /**
   * The other holders' shares of the collection for a read planned now. Synchronous, so it agrees
   * with the rows a local read started in the same tick sees.
   */
  plan(collectionId: bigint, partitionIds?: ReadonlySet<bigint>): ShareTarget[]
  read(target: ShareTarget, req: ShareRequest): Promise<ShareReply>
  /** Whether a failed share read is worth planning again (a holder went away, a view was behind). */
  retriable(e: unknown): boolean
}
