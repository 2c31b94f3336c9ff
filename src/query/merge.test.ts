/**
 * A collection split into shares (segment subsets, as query nodes hold them) must read exactly as
 * the whole: each share is searched alone, shipped as its own chunk of hits, and merged.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CollectionInfo } from '../catalog/model.js'
import type { MetricType } from '../index/index.js'
import type { Column } from '../schema/columns.js'
import type { FieldSchema } from '../schema/types.js'
import { CollectionRuntime } from '../segment/collection-runtime.js'
import { RowChunk, Segment } from '../segment/segment.js'
import { count, gather, retrieve, search, type SearchResult, type SearchSpec } from './executor.js'
import { mergeRetrieved, mergeSearchResults, shareChunk, shareResult } from './merge.js'

const DIM = 4

function field(fieldId: number, name: string, dataType: FieldSchema['dataType'], extra: Partial<FieldSchema> = {}): FieldSchema {
  return { fieldId, name, description: '', dataType, isPrimaryKey: false, autoId: false, typeParams: {}, nullable: false, isDynamic: false, isPartitionKey: false, isClusteringKey: false, ...extra }
}

const FIELDS = [field(100, 'id', 'Int64', { isPrimaryKey: true }), field(101, 'g', 'Int64'), field(102, 'v', 'FloatVector', { dim: DIM })]

function info(): CollectionInfo {
  return {
    id: 1n,
    dbId: 1n,
    name: 'c',
    schema: { name: 'c', description: '', fields: FIELDS, enableDynamicField: false, functions: [] },
    shardsNum: 1,
    consistencyLevel: 'Strong',
    properties: {},
    createdTs: 1n,
    updateTs: 1n,
    partitions: [{ id: 10n, name: '_default', createdTs: 1n } as never],
    indexes: [],
    numPartitions: 1,
  }
}

/** A seeded LCG: the same rows every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
}

/** `segments` flushed segments of `rows` rows each (random vectors: no ties in score). */
function runtime(segments: number, rows: number): CollectionRuntime {
  const rt = new CollectionRuntime(info(), () => 0n, 1_000_000)
  const r = rng(7)
  // Keys scattered over the segments (a permutation), so scan order is not key order.
  const n = segments * rows
  for (let s = 0; s < segments; s++) {
    const ids = new BigInt64Array(rows)
    const g = new BigInt64Array(rows)
    const v = new Float32Array(rows * DIM)
    for (let i = 0; i < rows; i++) {
      ids[i] = BigInt(((s * rows + i) * 7919) % n)
      g[i] = BigInt(Math.floor(r() * 5))
      for (let d = 0; d < DIM; d++) v[i * DIM + d] = r()
    }
    const cols = new Map<string, Column>([
      ['id', { type: 'Int64', data: ids }],
      ['g', { type: 'Int64', data: g }],
      ['v', { type: 'FloatVector', dim: DIM, data: v }],
    ])
    const seg = new Segment(BigInt(100 + s), 10n, 0, 'flushed')
    seg.append(new RowChunk(cols, rows, ids, new BigInt64Array(rows).fill(1n)))
    rt.shards[0]!.addLoadedSegment(seg)
    rt.loadedSegments.add(seg.id)
  }
  return rt
}

/** What a holder ships: its hits' rows (only the asked columns) as a chunk of their own. */
function ship(res: SearchResult, names: string[]): SearchResult {
  const cols = new Map<string, Column>(names.map((n) => [n, gather(FIELDS.find((f) => f.name === n)!, res)]))
  return shareResult(shareChunk(cols, res.row.length, 'id'), res.topks, res.scores)
}

function flat(res: SearchResult): { id: bigint; score: number }[][] {
  const out: { id: bigint; score: number }[][] = []
  let at = 0
  for (const n of res.topks) {
    const q: { id: bigint; score: number }[] = []
    for (let i = 0; i < n; i++, at++) q.push({ id: res.chunks[res.chunk[at]!]!.pks[res.row[at]!] as bigint, score: res.scores[at]! })
    out.push(q)
  }
  return out
}

describe('merging shares of a spread collection', () => {
  const rt = runtime(6, 120)
  const shares = [new Set([100n, 103n]), new Set([101n]), new Set([102n, 104n, 105n])]
  const queries = { type: 'FloatVector' as const, dim: DIM, data: Float32Array.from({ length: 3 * DIM }, (_, i) => (i % 5) / 5) }

  for (const metric of ['L2', 'IP'] as MetricType[]) {
    it(`search (${metric}): top-k with offset over the shares equals the whole`, () => {
      const spec: SearchSpec = { ts: 10n, annsField: 'v', queries, metric, topk: 9, offset: 4 }
      const whole = search(rt, spec)
      const parts = shares.map((segments) => ship(search(rt, { ...spec, segments, offset: 0, topk: spec.topk + spec.offset }), ['id']))
      const merged = mergeSearchResults(parts, { topk: spec.topk, offset: spec.offset, metric })
      assert.deepEqual(flat(merged), flat(whole))
      assert.deepEqual(merged.topks, whole.topks)
    })
  }

  it('grouping search over the shares equals grouping over the whole (groups, sizes, order)', () => {
    const spec: SearchSpec = { ts: 10n, annsField: 'v', queries, metric: 'L2', topk: 3, offset: 1, grouping: { field: 'g', groupSize: 2, strict: false } }
    const whole = search(rt, spec)
    const grouping = { field: FIELDS[1]!, groupSize: 2 }
    const wide = { ...spec, offset: 0, topk: spec.topk + spec.offset }
    const round1 = shares.map((segments) => ship(search(rt, { ...wide, segments }), ['id', 'g']))
    // One round is not enough: a group's members can sit in shares where the group ranks too low.
    const found = mergeSearchResults(round1, { topk: wide.topk, offset: 0, metric: 'L2', grouping })
    const values = new Set(Array.from(gather(FIELDS[1]!, found).data as BigInt64Array))
    const round2 = shares.map((segments) => ship(search(rt, { ...wide, segments, keep: { field: 'g', values }, topk: values.size }), ['id', 'g']))
    const merged = mergeSearchResults(round2, { topk: spec.topk, offset: spec.offset, metric: 'L2', grouping })
    const groups = (r: SearchResult) => {
      const g = gather(FIELDS[1]!, r).data as BigInt64Array
      let at = 0
      return r.topks.map((n) => Array.from({ length: n }, () => ({ g: g[at]!, score: r.scores[at++]! })))
    }
    assert.deepEqual(groups(merged), groups(whole))
  })

  it('retrieve with limit and offset over the shares equals the whole, in primary-key order', () => {
    const whole = retrieve(rt, { ts: 10n, limit: 25, offset: 300 })
    const parts = shares.map((segments) => {
      const sel = retrieve(rt, { ts: 10n, segments, limit: 325, offset: 0 })
      const cols = new Map<string, Column>([['id', gather(FIELDS[0]!, sel)]])
      return { chunks: [shareChunk(cols, sel.row.length, 'id')], chunk: new Int32Array(sel.row.length), row: Int32Array.from({ length: sel.row.length }, (_, i) => i) }
    })
    const merged = mergeRetrieved(parts, { limit: 25, offset: 300 })
    assert.deepEqual(gather(FIELDS[0]!, merged).data, gather(FIELDS[0]!, whole).data)
    // Without limit or offset every row of every share counts once.
    const all = mergeRetrieved(shares.map((segments) => retrieve(rt, { ts: 10n, segments, offset: 0 })), { offset: 0 })
    assert.equal(all.row.length, 720)
  })

  it('count over the shares sums to the whole; a share reads only its segments', () => {
    assert.equal(shares.reduce((a, segments) => a + count(rt, { ts: 10n, segments }), 0), count(rt, { ts: 10n }))
    assert.equal(count(rt, { ts: 10n, segments: new Set([101n]) }), 120)
    assert.equal(count(rt, { ts: 10n, segments: new Set() }), 0)
  })

  it('a share without hits merges as nothing', () => {
    const spec: SearchSpec = { ts: 10n, annsField: 'v', queries, metric: 'L2', topk: 5, offset: 0 }
    const empty = ship(search(rt, { ...spec, segments: new Set() }), ['id'])
    const whole = search(rt, spec)
    const merged = mergeSearchResults([ship(whole, ['id']), empty], { topk: 5, offset: 0, metric: 'L2' })
    assert.deepEqual(flat(merged), flat(whole))
  })
})
