/**
 * Throughput of the pure-TS exact search: 100k x 128 float32, L2, top-10.
 * Run: npx tsc -p . && node dist/src/index/brute-force.bench.js [nq]
 */
import { bruteForceSearch } from './brute-force.js'

const N = 100_000
const DIM = 128
const K = 10

/** Deterministic PRNG (mulberry32) so runs compare. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function column(rows: number, seed: number): { type: 'FloatVector'; dim: number; data: Float32Array } {
  const r = rng(seed)
  const data = new Float32Array(rows * DIM)
  for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1
  return { type: 'FloatVector', dim: DIM, data }
}

const data = column(N, 1)
const nq = Number(process.argv[2] ?? 20)
const queries = column(nq, 2)
const single = { type: 'FloatVector' as const, dim: DIM, data: queries.data.subarray(0, DIM) }

// Warm up so the measured runs see optimized code.
for (let i = 0; i < 3; i++) bruteForceSearch(data, single, { metric: 'L2', k: K })

let t0 = performance.now()
for (let i = 0; i < nq; i++) {
  const q = { type: 'FloatVector' as const, dim: DIM, data: queries.data.subarray(i * DIM, (i + 1) * DIM) }
  bruteForceSearch(data, q, { metric: 'L2', k: K })
}
let ms = performance.now() - t0
process.stdout.write(`L2 top-${K}, ${N} x ${DIM} f32, one query per call: ${((nq * 1000) / ms).toFixed(1)} q/s (${(ms / nq).toFixed(2)} ms/query)\n`)

t0 = performance.now()
bruteForceSearch(data, queries, { metric: 'L2', k: K })
ms = performance.now() - t0
process.stdout.write(`L2 top-${K}, ${N} x ${DIM} f32, nq=${nq} batch: ${((nq * 1000) / ms).toFixed(1)} q/s (${(ms / nq).toFixed(2)} ms/query)\n`)

for (const metric of ['IP', 'COSINE'] as const) {
  bruteForceSearch(data, single, { metric, k: K })
  t0 = performance.now()
  bruteForceSearch(data, queries, { metric, k: K })
  ms = performance.now() - t0
  process.stdout.write(`${metric} top-${K}, nq=${nq} batch: ${((nq * 1000) / ms).toFixed(1)} q/s\n`)
}
