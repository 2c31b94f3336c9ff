/**
 * Sparse inverted index build time and QPS per query algorithm against brute force, on seeded
 * SPLADE-like rows (Zipf-skewed vocabulary, positive weights). Results are exact for every
 * algorithm (no drop ratios), so only speed differs. QPS is one query per call on one thread.
 *
 *   node dist/src/index/sparse.bench.js [rows] [queries]     prints a markdown table
 */
import { pathToFileURL } from 'node:url'
import type { SparseRow, VectorColumn } from '../schema/columns.js'
import { rng } from './ann-fixture.js'
import { bruteForceSearch } from './brute-force.js'
import { buildSparseIndex } from './sparse-inverted-index.js'

const K = 10
const VOCAB = 30_000

/**
 * Rows of 1..2*avgNnz terms drawn from a Zipf(1)-like vocabulary, weights u * idf with u in (0, 1]
 * and idf = ln(id + 2) / ln(V): frequent terms weigh little, as learned sparse embeddings
 * (SPLADE) and BM25 weight them. That skew is what DAAT's score bounds prune on.
 */
function splade(rows: number, avgNnz: number, seed: number): VectorColumn & { type: 'SparseFloatVector' } {
  const r = rng(seed)
  const data: SparseRow[] = []
  for (let i = 0; i < rows; i++) {
    const n = 1 + Math.floor(r() * 2 * avgNnz)
    const set = new Set<number>()
    // exp(u ln V) - 1 is log-uniform over the vocabulary: frequent low ids, a long tail.
    while (set.size < n) set.add(Math.min(VOCAB - 1, Math.floor(Math.exp(r() * Math.log(VOCAB)) - 1)))
    const indices = Uint32Array.from([...set].sort((a, b) => a - b))
    data.push({ indices, values: Float32Array.from(indices, (id) => (1 - r()) * (Math.log(id + 2) / Math.log(VOCAB))) })
  }
  return { type: 'SparseFloatVector', data }
}

export interface SparseBenchRow {
  readonly name: string
  readonly buildMs: number
  readonly qps: number
}

export function runSparseBench(rows = 100_000, nq = 200): { rows: number; queries: number; results: SparseBenchRow[] } {
  const data = splade(rows, 60, 1)
  const queries = splade(nq, 15, 2)
  const qcols: VectorColumn[] = queries.data.map((row) => ({ type: 'SparseFloatVector', data: [row] }))
  const results: SparseBenchRow[] = []
  const time = (run: () => void): number => {
    run()
    const t = performance.now()
    run()
    return (nq * 1000) / (performance.now() - t)
  }
  results.push({ name: 'brute force', buildMs: 0, qps: time(() => qcols.forEach((q) => bruteForceSearch(data, q, { metric: 'IP', k: K }))) })
  for (const algo of ['TAAT_NAIVE', 'DAAT_WAND', 'DAAT_MAXSCORE']) {
    const t = performance.now()
    const index = buildSparseIndex(data, 'IP', { inverted_index_algo: algo })
    const buildMs = performance.now() - t
    results.push({ name: algo, buildMs, qps: time(() => qcols.forEach((q) => index.search(q, { k: K }))) })
  }
  return { rows, queries: nq, results }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const res = runSparseBench(Number(process.argv[2] ?? 100_000), Number(process.argv[3] ?? 200))
  const out = (s: string): boolean => process.stdout.write(`${s}\n`)
  out(`sparse IP, ${res.rows} rows (~60 terms of a ${VOCAB} vocabulary), ${res.queries} queries (~15 terms), top-${K}, exact\n`)
  out('| algorithm | build | q/s |\n|---|---:|---:|')
  for (const r of res.results) out(`| ${r.name} | ${r.buildMs === 0 ? '-' : `${(r.buildMs / 1000).toFixed(1)} s`} | ${r.qps.toFixed(0)} |`)
}
