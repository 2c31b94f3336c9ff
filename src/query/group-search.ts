/**
 * Grouping search (Milvus `group_by_field`): walk the hits in score order and keep the first
 * `offset + limit` distinct values of the group field, each with its best `group_size` hits; groups
 * come out in the order of their best hit, each group's hits contiguous and best first, and
 * `offset` skips whole groups (Milvus's GroupByMap and its proxy reduce).
 *
 * A chunk's top-k is not enough for that: one crowded group can push every other group's rows
 * far down a chunk's ranking. So each chunk first yields a few times the needed hits, and the walk
 * only trusts hits strictly better than the worst hit of every truncated chunk list (anything a
 * chunk did not return scores no better than its last returned hit). When the walk needs hits past
 * that line, the truncated chunks are searched again four times deeper, the last time exhaustively,
 * so the result is the exact grouping of an exact search (approximate indexes stay approximate, as
 * in Milvus).
 *
 * strict_group_size changes nothing here: Milvus's non-strict mode may stop filling groups once
 * `limit` groups are known, as a shortcut; Harrier always fills each group as far as the data
 * allows, which satisfies both modes.
 */
import type { Bitset } from '../common/bitset.js'
import { invalid } from '../common/errors.js'
import { bruteForceSearch, higherIsBetter, type Hits } from '../index/index.js'
import type { Column, VectorColumn } from '../schema/columns.js'
import type { CollectionRuntime } from '../segment/collection-runtime.js'
import type { AttachedIndex, RowChunk } from '../segment/segment.js'
import type { SearchResult, SearchSpec } from './executor.js'
import { groupKey, scanChunks, vectorRow, vectorRows, type GroupKey } from './scan.js'

export { groupKey, type GroupKey } from './scan.js'

export interface GroupingSpec {
  /** A Bool, Int8/16/32/64 or VarChar field (checked by the caller). */
  readonly field: string
  /** Hits per group, >= 1. */
  readonly groupSize: number
  readonly strict: boolean
}


interface Source {
  readonly chunk: RowChunk
  readonly allow: Bitset
  readonly allowed: number
  readonly vectors: VectorColumn
  readonly index: AttachedIndex | undefined
  readonly groups: Column
}

interface GroupHit {
  readonly score: number
  readonly source: number
  readonly row: number
}

/** First depth per chunk, as a multiple of the hits the answer can hold. */
const OVERFETCH = 2
const MIN_DEPTH = 64
const WIDEN = 4

export function searchGrouped(rt: CollectionRuntime, spec: SearchSpec, grouping: GroupingSpec): SearchResult {
  const nq = vectorRows(spec.queries)
  const better = higherIsBetter(spec.metric)
  const wanted = spec.topk + spec.offset
  const sources: Source[] = []
  for (const { seg, chunk, allow } of scanChunks(rt, spec)) {
    const allowed = allow.count()
    if (allowed === 0) continue
    const vectors = chunk.columns.get(spec.annsField) as VectorColumn | undefined
    if (!vectors) continue
    const groups = chunk.columns.get(grouping.field)
    if (!groups) throw invalid(`group by field ${grouping.field} is not loaded`)
    const attached = seg.chunks.length === 1 ? seg.indexes.get(spec.annsField) : undefined
    sources.push({ chunk, allow, allowed, vectors, index: attached?.metric === spec.metric ? attached : undefined, groups })
  }

  const first = Math.max(MIN_DEPTH, wanted * grouping.groupSize * OVERFETCH)
  // Round one serves every query with one pass per chunk; only queries it cannot settle widen alone.
  const depth0 = sources.map((s) => Math.min(first, s.allowed))
  const round0 = sources.map((s, i) => fetch(s, spec, spec.queries, depth0[i]!))

  const topks: number[] = []
  const scores: number[] = []
  const chunkIdx: number[] = []
  const rowIdx: number[] = []
  for (let q = 0; q < nq; q++) {
    const depth = depth0.slice()
    const lists = round0.map((hits) => hits[q]!)
    let query: VectorColumn | undefined
    let groups: GroupHit[][] | undefined
    for (;;) {
      const truncated = sources.map((s, i) => depth[i]! < s.allowed && (s.index !== undefined || lists[i]!.rows.length === depth[i]))
      groups = walk(sources, lists, truncated, better, wanted, grouping.groupSize)
      if (groups) break
      query ??= vectorRow(spec.queries, q)
      sources.forEach((s, i) => {
        if (!truncated[i]) return
        depth[i] = Math.min(s.allowed, depth[i]! * WIDEN)
        lists[i] = fetch(s, spec, query!, depth[i]!)[0]!
      })
    }
    let n = 0
    for (const g of groups.slice(spec.offset, wanted)) {
      for (const h of g) {
        scores.push(h.score)
        chunkIdx.push(h.source)
        rowIdx.push(h.row)
        n++
      }
    }
    topks.push(n)
  }
  return {
    chunks: sources.map((s) => s.chunk),
    topks,
    scores: Float32Array.from(scores),
    chunk: Int32Array.from(chunkIdx),
    row: Int32Array.from(rowIdx),
  }
}

/** The best `k` allowed rows of a chunk; exhaustive (and exact) once `k` covers every allowed row. */
function fetch(s: Source, spec: SearchSpec, queries: VectorColumn, k: number): Hits[] {
  if (s.index && k < s.allowed) return s.index.index.search(queries, { k, allow: s.allow, params: spec.indexParams })
  return bruteForceSearch(s.vectors, queries, { k, allow: s.allow, metric: spec.metric })
}

/**
 * The grouping of one query's candidate lists, or undefined when it depends on rows the truncated
 * lists did not return. Lists are merged best first with a heap of list heads (equal scores: the
 * earlier list first, as mergeTopK does).
 */
function walk(
  sources: readonly Source[],
  lists: readonly Hits[],
  truncated: readonly boolean[],
  better: boolean,
  wanted: number,
  size: number,
): GroupHit[][] | undefined {
  // Rows a truncated list left out score no better than its last hit; only hits strictly better
  // than the best such bound are certain to sit at their final rank.
  let bound: number | undefined
  lists.forEach((h, i) => {
    if (!truncated[i]) return
    const worst = h.rows.length > 0 ? h.scores[h.rows.length - 1]! : better ? Infinity : -Infinity
    if (bound === undefined || (better ? worst > bound : worst < bound)) bound = worst
  })

  const L = lists.length
  const pos = new Int32Array(L)
  const heap = new Int32Array(L)
  let size_ = 0
  const before = (a: number, b: number): boolean => {
    const sa = lists[a]!.scores[pos[a]!]!
    const sb = lists[b]!.scores[pos[b]!]!
    if (sa !== sb) return better ? sa > sb : sa < sb
    return a < b
  }
  const siftDown = (i: number): void => {
    const top = heap[i]!
    for (;;) {
      const l = 2 * i + 1
      if (l >= size_) break
      let c = l
      if (l + 1 < size_ && before(heap[l + 1]!, heap[l]!)) c = l + 1
      if (!before(heap[c]!, top)) break
      heap[i] = heap[c]!
      i = c
    }
    heap[i] = top
  }
  for (let l = 0; l < L; l++) if (lists[l]!.rows.length > 0) heap[size_++] = l
  for (let i = (size_ >>> 1) - 1; i >= 0; i--) siftDown(i)

  const ordinal = new Map<GroupKey, number>()
  const groups: GroupHit[][] = []
  let full = 0
  while (size_ > 0) {
    const l = heap[0]!
    const hits = lists[l]!
    const p = pos[l]!
    const score = hits.scores[p]!
    if (bound !== undefined && !(better ? score > bound : score < bound)) return undefined
    const row = hits.rows[p]!
    const key = groupKey(sources[l]!.groups, row)
    let g = ordinal.get(key)
    if (g === undefined && groups.length < wanted) {
      g = groups.length
      ordinal.set(key, g)
      groups.push([])
    }
    if (g !== undefined) {
      const members = groups[g]!
      if (members.length < size) {
        members.push({ score, source: l, row })
        if (members.length === size) full++
        if (full === wanted) return groups
      }
    }
    pos[l] = p + 1
    if (p + 1 >= hits.rows.length) heap[0] = heap[--size_]!
    if (size_ > 0) siftDown(0)
  }
  // Every list ran out: settled unless a truncated list may still hold better rows.
  return truncated.some((t) => t) ? undefined : groups
}

