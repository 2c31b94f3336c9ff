import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Bitset } from '../common/bitset.js'
import type { VectorColumn } from '../schema/columns.js'
import { gaussianMixture, rng } from './ann-fixture.js'
import { bruteForceSearch } from './brute-force.js'
import { columnGraphAvailable } from './column-graph.js'
import { nativeExactApplies, nativeExactSearch } from './native-exact.js'

const DIM = 33
const N = 10_000 // over two parts of 4,096 rows: candidates from both are merged
const data = gaussianMixture({ rows: N, dim: DIM, clusters: 10, seed: 11 })
const queries: VectorColumn = { type: 'FloatVector', dim: DIM, data: gaussianMixture({ rows: 6, dim: DIM, clusters: 10, seed: 12 }) }

describe('native exact search', { skip: !columnGraphAvailable() && 'the harrier_graph addon is not built' }, () => {
  for (const metric of ['L2', 'IP', 'COSINE'] as const) {
    it(`${metric}: identical to bruteForceSearch, filtered or not`, async () => {
      const col: VectorColumn = { type: 'FloatVector', dim: DIM, data }
      const r = rng(3)
      const some = new Bitset(N)
      for (let i = 0; i < N; i++) if (r() < 0.2) some.set(i)
      const one = new Bitset(N)
      one.set(N - 1)
      for (const allow of [undefined, some, one, new Bitset(N)]) {
        for (const k of [1, 10, 100]) {
          const want = bruteForceSearch(col, queries, { metric, k, allow })
          assert.deepEqual(await nativeExactSearch(col, queries, { metric, k, allow }), want, `k ${k}, allowed ${allow?.count() ?? N}`)
        }
      }
    })
  }

  for (const metric of ['L2', 'IP', 'COSINE'] as const) {
    it(`${metric}: range search (radius, range_filter) identical to bruteForceSearch`, async () => {
      const col: VectorColumn = { type: 'FloatVector', dim: DIM, data }
      // Bounds from the scores themselves: a band around the 5th..200th best of query 0, with the
      // bounds exactly on scores of rows, so that rounding at the edges matters.
      const ranked = bruteForceSearch(col, queries, { metric, k: 300 })[0]!.scores
      const inner = ranked[4]!
      const outer = ranked[199]!
      for (const k of [10, 50, 500]) {
        for (const o of [{ radius: outer }, { radius: outer, rangeFilter: inner }]) {
          const want = bruteForceSearch(col, queries, { metric, k, ...o })
          assert.deepEqual(await nativeExactSearch(col, queries, { metric, k, ...o }), want, `k ${k} ${JSON.stringify(o)}`)
        }
      }
    })
  }

  it('skips null rows and answers null queries with no hits, as brute force', async () => {
    const valid = new Uint8Array(N).fill(1)
    for (let i = 0; i < N; i += 3) valid[i] = 0
    const col: VectorColumn = { type: 'FloatVector', dim: DIM, data, valid }
    const qv: VectorColumn = { ...queries, valid: Uint8Array.of(1, 0, 1, 1, 0, 1) } as VectorColumn
    assert.deepEqual(await nativeExactSearch(col, qv, { metric: 'L2', k: 20 }), bruteForceSearch(col, qv, { metric: 'L2', k: 20 }))
  })

  it('breaks ties toward the lower row, across parts, as brute force does', async () => {
    // Every row one of three vectors (not parallel, so their cosines differ by more than
    // rounding): thousands of exact ties around the k-th place.
    const dup = new Float32Array(N * DIM)
    for (let i = 0; i < N; i++) for (let j = 0; j < DIM; j++) dup[i * DIM + j] = ((j + i) % 3) + 1
    const col: VectorColumn = { type: 'FloatVector', dim: DIM, data: dup }
    for (const metric of ['L2', 'IP', 'COSINE'] as const) {
      assert.deepEqual(await nativeExactSearch(col, queries, { metric, k: 50 }), bruteForceSearch(col, queries, { metric, k: 50 }), metric)
    }
  })

  it('takes only large float32 searches with few candidates and enough allowed rows', () => {
    const col: VectorColumn = { type: 'FloatVector', dim: DIM, data }
    assert.equal(nativeExactApplies(col, queries, 'L2', 10), true)
    assert.equal(nativeExactApplies(col, queries, 'HAMMING', 10), false)
    const small: VectorColumn = { type: 'FloatVector', dim: DIM, data: data.subarray(0, DIM * 100) }
    assert.equal(nativeExactApplies(small, queries, 'L2', 10), false)
    const f16: VectorColumn = { type: 'Float16Vector', dim: DIM, data: new Uint16Array(N * DIM) }
    assert.equal(nativeExactApplies(f16, { type: 'Float16Vector', dim: DIM, data: new Uint16Array(DIM) }, 'L2', 10), false)
    // A k near the row count would re-score more candidates on the event loop than the scan saves.
    assert.equal(nativeExactApplies(col, queries, 'L2', N / 2), false)
    // A selective filter leaves the JS scan (which walks allowed rows only) little to do.
    const few = new Bitset(N)
    for (let i = 0; i < N; i += 100) few.set(i)
    assert.equal(nativeExactApplies(col, queries, 'L2', 10, few), false)
  })

  it('a flood of exact ties, or scores past float32, still answer as brute force does', async () => {
    // Positive multiples of one vector: their cosines tie with the k-th far beyond the margin.
    const n = 9000
    const copies = new Float32Array(n * DIM)
    for (let i = 0; i < n; i++) for (let j = 0; j < DIM; j++) copies[i * DIM + j] = (j + 1) * (1 + (i % 7))
    const col: VectorColumn = { type: 'FloatVector', dim: DIM, data: copies }
    assert.deepEqual(await nativeExactSearch(col, queries, { metric: 'COSINE', k: 10 }), bruteForceSearch(col, queries, { metric: 'COSINE', k: 10 }))
    // Rows whose L2 to the queries overflows float32: no hits, as brute force.
    const huge = new Float32Array(n * DIM).fill(1e20)
    const far: VectorColumn = { type: 'FloatVector', dim: DIM, data: huge }
    assert.deepEqual(await nativeExactSearch(far, queries, { metric: 'L2', k: 10 }), bruteForceSearch(far, queries, { metric: 'L2', k: 10 }))
  })

  it('rejects what bruteForceSearch rejects', async () => {
    await assert.rejects(nativeExactSearch({ type: 'FloatVector', dim: DIM, data }, queries, { metric: 'L2', k: 5, radius: 1, rangeFilter: 2 }), /range_filter must be less/)
    const col: VectorColumn = { type: 'FloatVector', dim: DIM, data }
    await assert.rejects(nativeExactSearch(col, { type: 'FloatVector', dim: 4, data: new Float32Array(4) }, { metric: 'L2', k: 5 }), /dim|dimension/i)
    await assert.rejects(nativeExactSearch(col, queries, { metric: 'L2', k: 0 }), /topk/)
  })
})
