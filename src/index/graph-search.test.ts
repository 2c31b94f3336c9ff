import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import type { Index as UsearchIndex } from 'usearch'
import type { VectorColumn } from '../schema/columns.js'
import { gaussianMixture } from './ann-fixture.js'
import { GraphSearchBatcher, searchGraph } from './graph-search.js'
import { buildHnswIndex, type HnswIndex, loadHnswIndex } from './hnsw-index.js'
import { columnKit, randomAllow } from './index-test-kit.js'

const DIM = 16
const N = 3000
const BASE = gaussianMixture({ rows: N, dim: DIM, seed: 3 })
const QUERIES = gaussianMixture({ rows: 40, dim: DIM, seed: 4 })
const { f32 } = columnKit(DIM)

function graph(): UsearchIndex {
  const u = createRequire(import.meta.url)('usearch') as typeof import('usearch')
  const g = new u.Index({ dimensions: DIM, metric: u.MetricKind.L2sq, quantization: u.ScalarKind.F32, connectivity: 16, expansion_add: 64, expansion_search: 1, multi: false })
  // Two add threads reserve two search contexts, so batches may run on two threads.
  g.add(BigUint64Array.from({ length: N }, (_, i) => BigInt(i)), BASE, 2)
  return g
}

/** Counts the usearch calls a graph receives (the real index answers them). */
function counted(g: UsearchIndex): { graph: UsearchIndex; calls: number[] } {
  const calls: number[] = []
  const search = g.search.bind(g)
  g.search = ((v: Float32Array, k: number, threads: number) => {
    calls.push(v.length / DIM)
    return search(v, k, threads)
  }) as UsearchIndex['search']
  return { graph: g, calls }
}

const query = (i: number, n = 1) => QUERIES.slice(i * DIM, (i + n) * DIM)

describe('GraphSearchBatcher', () => {
  it('answers concurrent searches of one graph with one call, each as searched alone', async () => {
    const { graph: g, calls } = counted(graph())
    const alone = Array.from({ length: 6 }, (_, i) => searchGraph(g, query(i), 20, 1))
    calls.length = 0
    const batcher = new GraphSearchBatcher({ threads: 2 })
    const got = await Promise.all(Array.from({ length: 6 }, (_, i) => batcher.search(g, query(i), 1, 20, 2)))
    assert.deepEqual(calls, [6])
    got.forEach((m, i) => {
      assert.equal(m.counts[0], alone[i]!.counts[0])
      assert.deepEqual(Array.from(m.keys.subarray(0, m.counts[0]!)), Array.from(alone[i]!.keys.subarray(0, alone[i]!.counts[0]!)))
    })
  })

  it('keeps multi-query requests whole and apart from other beam widths', async () => {
    const { graph: g, calls } = counted(graph())
    const batcher = new GraphSearchBatcher({ threads: 2 })
    const [a, b, c] = await Promise.all([batcher.search(g, query(0, 3), 3, 10, 2), batcher.search(g, query(3, 2), 2, 10, 2), batcher.search(g, query(5), 1, 30, 2)])
    assert.deepEqual([...calls].sort(), [1, 5])
    // A later tick starts a new batch.
    await batcher.search(g, query(6), 1, 10, 2)
    assert.equal(calls.length, 3)
    for (const [m, from, n, wanted] of [[a, 0, 3, 10], [b, 3, 2, 10], [c, 5, 1, 30]] as const) {
      assert.equal(m.counts.length, n)
      for (let i = 0; i < n; i++) {
        const one = searchGraph(g, query(from + i), wanted, 1)
        assert.deepEqual(Array.from(m.keys.subarray(i * wanted, i * wanted + m.counts[i]!)), Array.from(one.keys.subarray(0, one.counts[0]!)))
      }
    }
  })

  it('rejects every request of a failed call', async () => {
    const g = graph()
    g.search = (() => {
      throw new Error('boom')
    }) as UsearchIndex['search']
    const batcher = new GraphSearchBatcher()
    const all = await Promise.allSettled([batcher.search(g, query(0), 1, 10, 2), batcher.search(g, query(1), 1, 10, 2)])
    for (const r of all) {
      assert.equal(r.status, 'rejected')
      assert.match(String((r as PromiseRejectedResult).reason), /usearch search failed/)
    }
  })
})

describe('HnswIndex.searchBatched', () => {
  const data = f32(BASE)
  const qValid = Uint8Array.from({ length: 10 }, (_, i) => (i === 4 ? 0 : 1))
  const queries: VectorColumn = { type: 'FloatVector', dim: DIM, data: query(0, 10), valid: qValid }

  it('returns what search returns: plain, filtered, range, null queries, several queries', async () => {
    // Built on one thread: one search context, so batches stay on one thread whatever the batcher allows.
    for (const threads of [1, 2]) {
      const idx = buildHnswIndex(data, 'L2', { M: '16', efConstruction: '64' }, { threads, filterExactRows: 0 })
      const batcher = new GraphSearchBatcher({ threads: 2 })
      await sameAsSearch(idx, batcher)
      // A loaded graph reserves all cores.
      await sameAsSearch(loadHnswIndex(idx.serialize(), data, { filterExactRows: 0 }), batcher)
    }
  })

  async function sameAsSearch(idx: HnswIndex, batcher: GraphSearchBatcher): Promise<void> {
    const cases = [
      { k: 10, params: { ef: 32 } },
      { k: 10, params: { ef: 32 }, allow: randomAllow(0.2, 7, N) },
      { k: 10, params: { ef: 32 }, allow: randomAllow(0.003, 8, N) },
      { k: 50, radius: 60, params: { ef: 64 } },
    ]
    // All cases at once, so their graph searches share batches.
    const got = await Promise.all(cases.map((o) => idx.searchBatched(queries, o, batcher)))
    cases.forEach((o, i) => assert.deepEqual(got[i], idx.search(queries, o), JSON.stringify(o)))
    assert.equal(got[0]![4]!.rows.length, 0)
  }
})
