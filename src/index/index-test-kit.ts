/**
 * Shared helpers of the index engines' tests (HNSW, IVF): the same column builders and assertions,
 * so each engine is held to exactly the same contract. Test-only; nothing in src/ imports it.
 */
import assert from 'node:assert/strict'
import { Bitset } from '../common/bitset.js'
import { DbError } from '../common/errors.js'
import type { VectorColumn } from '../schema/columns.js'
import { gaussianMixture, rng } from './ann-fixture.js'
import { distance, type Hits } from './brute-force.js'
import { float32ToBfloat16, float32ToFloat16 } from './half-float.js'
import { higherIsBetter, type MetricType } from './metric.js'

/** Column builders over float32 rows of one dimension, for every dense vector type. */
export function columnKit(dim: number) {
  return {
    f32(data: Float32Array, valid?: Uint8Array): VectorColumn {
      return valid === undefined ? { type: 'FloatVector', dim, data } : { type: 'FloatVector', dim, data, valid }
    },
    f16(data: Float32Array): VectorColumn {
      return { type: 'Float16Vector', dim, data: Uint16Array.from(data, float32ToFloat16) }
    },
    bf16(data: Float32Array): VectorColumn {
      return { type: 'BFloat16Vector', dim, data: Uint16Array.from(data, float32ToBfloat16) }
    },
    i8(data: Float32Array): VectorColumn {
      return { type: 'Int8Vector', dim, data: Int8Array.from(data, (x) => Math.max(-128, Math.min(127, Math.round(x * 12)))) }
    },
  }
}

/** Binary rows: each bit is the sign of one coordinate of a 256-d mixture point (LSH-like). */
export function bits(seed: number, rows: number): VectorColumn {
  const dim = 256
  const x = gaussianMixture({ rows, dim, seed })
  const data = new Uint8Array((rows * dim) / 8)
  for (let i = 0; i < rows * dim; i++) if (x[i]! > 0) data[i >>> 3]! |= 1 << (i & 7)
  return { type: 'BinaryVector', dim, data }
}

export function randomAllow(rate: number, seed: number, size: number): Bitset {
  const r = rng(seed)
  const b = new Bitset(size)
  for (let i = 0; i < size; i++) if (r() < rate) b.set(i)
  return b
}

/** Hits are best first with ties to the lower row, and every score is the exact pair score. */
export function assertExactScores(data: VectorColumn, queries: VectorColumn, metric: MetricType, hits: Hits[]): void {
  const higher = higherIsBetter(metric)
  hits.forEach((h, q) => {
    for (let i = 0; i < h.rows.length; i++) {
      assert.equal(h.scores[i], distance(metric, data, h.rows[i]!, queries, q), `query ${q} hit ${i}`)
      if (i > 0) {
        const a = h.scores[i - 1]!
        const b = h.scores[i]!
        assert.ok(higher ? a > b || (a === b && h.rows[i - 1]! < h.rows[i]!) : a < b || (a === b && h.rows[i - 1]! < h.rows[i]!))
      }
    }
  })
}

export function assertKind(fn: () => unknown, kind: DbError['kind'], message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DbError, String(e))
    assert.equal(e.kind, kind, e.message)
    if (message !== undefined) assert.match(e.message, message)
    return true
  })
}
