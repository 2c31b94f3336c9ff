import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DbError } from '../common/errors.js'
import { gaussianMixture, rng } from './ann-fixture.js'
import { Assigner, kmeans, nearest } from './kmeans.js'

describe('kmeans', () => {
  it('assigns every point to its nearest final centre, pruned or not, on clustered and flat data', () => {
    const r = rng(4)
    const cases: [string, Float32Array, number, number][] = [
      ['mixture 32-d, 100 centres (pruned scans)', gaussianMixture({ rows: 3000, dim: 32, seed: 1 }), 32, 100],
      ['uniform 16-d, 64 centres (pruned scans)', Float32Array.from({ length: 2000 * 16 }, () => r()), 16, 64],
      ['uniform 4-d, 256 centres (blocked full scans)', Float32Array.from({ length: 3000 * 4 }, () => r()), 4, 256],
    ]
    for (const [name, x, d, k] of cases) {
      const n = x.length / d
      const res = kmeans(x, n, d, k, { iterations: 10, seed: 7 })
      assert.equal(res.centroids.length, k * d)
      const assigner = new Assigner(res.centroids, k, d)
      let mismatches = 0
      const counts = new Int32Array(k)
      for (let i = 0; i < n; i++) {
        const want = nearest(x, i * d, res.centroids, k, d)
        // Exact up to float ties between two equally near centres.
        if (res.assign[i] !== want || assigner.nearest(x, i * d) !== want) mismatches++
        counts[res.assign[i]!]!++
      }
      assert.ok(mismatches <= n / 1000, `${name}: ${mismatches} mismatches`)
      assert.ok(counts.every((c) => c > 0), `${name}: empty cluster`)
    }
  })

  it('is deterministic for a seed and caps k at the point count', () => {
    const x = gaussianMixture({ rows: 500, dim: 8, seed: 3 })
    const a = kmeans(x, 500, 8, 20, { iterations: 5, seed: 1 })
    const b = kmeans(x, 500, 8, 20, { iterations: 5, seed: 1 })
    assert.deepEqual(a, b)
    const c = kmeans(x, 500, 8, 20, { iterations: 5, seed: 2 })
    assert.notDeepEqual(a.centroids, c.centroids)
    const few = kmeans(x.subarray(0, 3 * 8), 3, 8, 10, { iterations: 5, seed: 1 })
    assert.equal(few.centroids.length, 3 * 8)
    assert.deepEqual([...few.assign].sort(), [0, 1, 2])
  })

  it('repairs empty clusters on duplicate points and aborts on request', () => {
    const x = new Float32Array(200 * 4)
    for (let i = 0; i < 100 * 4; i++) x[i] = 1
    // Two distinct points only, 8 centres: most start as duplicates and must be split, not NaN.
    const res = kmeans(x, 200, 4, 8, { iterations: 10, seed: 1 })
    assert.ok(res.centroids.every((v) => Number.isFinite(v)))
    assert.throws(
      () => kmeans(x, 200, 4, 8, { iterations: 10, seed: 1, shouldStop: () => true }),
      (e: unknown) => e instanceof DbError && e.kind === 'ServiceUnavailable',
    )
  })
})
