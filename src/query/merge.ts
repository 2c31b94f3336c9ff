/**
 * Reads over a collection whose flushed segments are spread over several query nodes: the node
 * that takes the request (the delegator) searches its own rows, asks each other holder for its
 * share, and merges the answers here, as Milvus's delegator and proxy reduce do.
 *
 * Every share is computed with offset 0 and `offset + limit` rows (or groups), so the merge can
 * cut the offset once, over the union. A share arrives as one chunk holding only the rows it
 * returned, with the columns the delegator asked for (see `shareChunk`).
 */
import { DbError } from '../common/errors.js'
import { higherIsBetter, mergeTopK, type MetricType } from '../index/index.js'
import type { Column } from '../schema/columns.js'
import type { FieldSchema } from '../schema/types.js'
import { RowChunk } from '../segment/segment.js'
import type { PrimaryKeys } from '../storage/dml-message.js'
import { type RowSelection, type SearchResult, gather } from './executor.js'
import { groupKey } from './group-search.js'

/** The rows of another node's share as a chunk of their own (no MVCC: they were read at the snapshot). */
export function shareChunk(columns: ReadonlyMap<string, Column>, numRows: number, pkField: string): RowChunk {
  const pk = columns.get(pkField)
  if (!pk || (pk.type !== 'Int64' && pk.type !== 'VarChar')) throw new DbError('ServiceInternal', `a query node's share lacks the primary key column ${pkField}`)
  return new RowChunk(columns, numRows, pk.data as PrimaryKeys, new BigInt64Array(numRows))
}

/** A share's hits (per query, in the share's order) over `chunk`, whose rows are the hits in order. */
export function shareResult(chunk: RowChunk, topks: readonly number[], scores: Float32Array): SearchResult {
  const n = scores.length
  return { chunks: [chunk], topks: [...topks], scores, chunk: new Int32Array(n), row: Int32Array.from({ length: n }, (_, i) => i) }
}

interface Hit {
  readonly score: number
  readonly chunk: number
  readonly row: number
  /** Position in its part's flat arrays (for the group key). */
  readonly at: number
  readonly part: number
}

export interface MergeSpec {
  readonly topk: number
  readonly offset: number
  readonly metric: MetricType
  /** Grouping search: topk and offset count groups of at most `groupSize` hits. */
  readonly grouping?: { readonly field: FieldSchema; readonly groupSize: number }
}

/**
 * The global result from each part's best `offset + topk` hits (or groups). For grouping, a group
 * in the global answer ranks no lower in the part holding its best hit, and its best members are
 * among each part's best members of it, so the union of the parts' groupings holds the answer.
 */
export function mergeSearchResults(parts: readonly SearchResult[], spec: MergeSpec): SearchResult {
  const nq = parts[0]?.topks.length ?? 0
  const better = higherIsBetter(spec.metric)
  const wanted = spec.topk + spec.offset
  const chunks: RowChunk[] = []
  const base: number[] = []
  for (const p of parts) {
    base.push(chunks.length)
    chunks.push(...p.chunks)
  }
  const keys = spec.grouping ? parts.map((p) => gather(spec.grouping!.field, p)) : undefined
  const starts = parts.map(() => 0)
  const topks: number[] = []
  const out: Hit[] = []
  for (let q = 0; q < nq; q++) {
    const lists: Hit[][] = parts.map((p, pi) => {
      const n = p.topks[q] ?? 0
      const list: Hit[] = new Array(n)
      for (let i = 0; i < n; i++) {
        const at = starts[pi]! + i
        list[i] = { score: p.scores[at]!, chunk: base[pi]! + p.chunk[at]!, row: p.row[at]!, at, part: pi }
      }
      starts[pi]! += n
      return list
    })
    let picked: Hit[]
    if (!keys) {
      picked = mergeTopK(lists, wanted, better).slice(spec.offset)
    } else {
      // A part's grouped hits are contiguous per group, not in score order: sort the union first.
      const all = lists.flat().sort((a, b) => (a.score === b.score ? a.part - b.part || a.at - b.at : better ? b.score - a.score : a.score - b.score))
      const size = spec.grouping!.groupSize
      const ordinal = new Map<unknown, number>()
      const groups: Hit[][] = []
      for (const h of all) {
        const key = groupKey(keys[h.part]!, h.at)
        let g = ordinal.get(key)
        if (g === undefined) {
          if (groups.length >= wanted) continue
          g = groups.length
          ordinal.set(key, g)
          groups.push([])
        }
        const members = groups[g]!
        if (members.length < size) members.push(h)
      }
      picked = groups.slice(spec.offset).flat()
    }
    topks.push(picked.length)
    out.push(...picked)
  }
  return {
    chunks,
    topks,
    scores: Float32Array.from(out, (h) => h.score),
    chunk: Int32Array.from(out, (h) => h.chunk),
    row: Int32Array.from(out, (h) => h.row),
  }
}

/**
 * Retrieve over several parts. With a limit or offset, each part holds its first `offset + limit`
 * rows by primary key and the union is cut again in primary-key order; otherwise every row counts.
 */
export function mergeRetrieved(parts: readonly RowSelection[], spec: { readonly limit?: number; readonly offset: number }): RowSelection {
  const chunks: RowChunk[] = []
  const rows: { chunk: number; row: number }[] = []
  for (const p of parts) {
    const base = chunks.length
    chunks.push(...p.chunks)
    for (let i = 0; i < p.row.length; i++) rows.push({ chunk: base + p.chunk[i]!, row: p.row[i]! })
  }
  let order = rows
  if (spec.limit !== undefined || spec.offset > 0) {
    const pk = (r: { chunk: number; row: number }) => chunks[r.chunk]!.pks[r.row]!
    order = [...rows].sort((a, b) => {
      const x = pk(a)
      const y = pk(b)
      return x < y ? -1 : x > y ? 1 : 0
    })
    order = order.slice(spec.offset, spec.limit !== undefined ? spec.offset + spec.limit : undefined)
  }
  return { chunks, chunk: Int32Array.from(order, (r) => r.chunk), row: Int32Array.from(order, (r) => r.row) }
}
