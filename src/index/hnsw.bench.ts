/**
 * HNSW build time and QPS at recall@10 >= 0.95 on a Gaussian mixture (100k x 128 by default),
 * for usearch called directly and for HnswIndex (the wrapper: query conversion, the ef-as-`wanted`
 * beam, exact re-scoring, filtering), so the wrapper's overhead is visible. Both are built with the
 * same M / efConstruction / threads; QPS is one query per call on one thread.
 *
 *   node dist/src/index/hnsw.bench.js [rows] [queries]     prints a markdown table
 */
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import type usearchModule from 'usearch'
import { Bitset } from '../common/bitset.js'
import type { VectorColumn } from '../schema/columns.js'
import { gaussianMixture, recall, rng } from './ann-fixture.js'
import { bruteForceSearch, type Hits } from './brute-force.js'
import { buildHnswIndex } from './hnsw-index.js'
import type { MetricType } from './metric.js'

export interface HnswBenchOptions {
  readonly rows?: number
  readonly dim?: number
  readonly queries?: number
  readonly metric?: 'L2' | 'IP' | 'COSINE'
  readonly M?: number
  readonly efConstruction?: number
  /** usearch add threads for both builds; 0 = all cores. */
  readonly threads?: number
  /** Recall@10 to reach; default 0.95. */
  readonly target?: number
  readonly efs?: readonly number[]
  /** Filter pass rates to measure on the wrapper (at the ef that met the target unfiltered). */
  readonly passRates?: readonly number[]
}

export interface SweepPoint {
  readonly ef: number
  readonly recall: number
  readonly qps: number
}

export interface HnswBenchResult {
  readonly rows: number
  readonly dim: number
  readonly queries: number
  readonly metric: MetricType
  readonly M: number
  readonly efConstruction: number
  readonly buildMs: { readonly usearch: number; readonly wrapper: number }
  readonly sweep: { readonly usearch: SweepPoint[]; readonly wrapper: SweepPoint[] }
  /** First sweep point at or above the target, per engine (undefined: never reached). */
  readonly atTarget: { readonly usearch?: SweepPoint; readonly wrapper?: SweepPoint }
  readonly filtered: { readonly passRate: number; readonly ef: number; readonly recall: number; readonly qps: number }[]
  readonly groundTruthMs: number
}

const K = 10

export async function runHnswBench(opts: HnswBenchOptions = {}): Promise<HnswBenchResult> {
  const rows = opts.rows ?? 100_000
  const dim = opts.dim ?? 128
  const nq = opts.queries ?? 1000
  const metric = opts.metric ?? 'L2'
  const M = opts.M ?? 16
  const efConstruction = opts.efConstruction ?? 200
  const threads = opts.threads ?? 0
  const target = opts.target ?? 0.95
  const efs = opts.efs ?? [10, 16, 24, 32, 48, 64, 96, 128, 192, 256]
  const passRates = opts.passRates ?? [0.1, 0.01]

  const base = gaussianMixture({ rows, dim, seed: 1, clusters: 100 })
  const qdata = gaussianMixture({ rows: nq, dim, seed: 2, clusters: 100 })
  const data: VectorColumn = { type: 'FloatVector', dim, data: base }
  const queries: VectorColumn = { type: 'FloatVector', dim, data: qdata }
  const qcols: VectorColumn[] = Array.from({ length: nq }, (_, i) => ({
    type: 'FloatVector',
    dim,
    data: qdata.subarray(i * dim, (i + 1) * dim),
  }))

  let t0 = performance.now()
  const truth = bruteForceSearch(data, queries, { metric, k: K })
  const groundTruthMs = performance.now() - t0

  // (a) usearch directly: the calls a hand-written integration would make.
  const u = createRequire(import.meta.url)('usearch') as typeof usearchModule
  t0 = performance.now()
  const direct = new u.Index({
    dimensions: dim,
    metric: metric === 'L2' ? u.MetricKind.L2sq : metric === 'IP' ? u.MetricKind.IP : u.MetricKind.Cos,
    quantization: u.ScalarKind.F32,
    connectivity: M,
    expansion_add: efConstruction,
    expansion_search: 1,
    multi: false,
  })
  direct.add(BigUint64Array.from({ length: rows }, (_, i) => BigInt(i)), base, threads)
  const buildDirect = performance.now() - t0

  // (b) the wrapper.
  t0 = performance.now()
  const index = buildHnswIndex(data, metric, { M: String(M), efConstruction: String(efConstruction) }, { threads })
  const buildWrapper = performance.now() - t0

  const sweepDirect: SweepPoint[] = []
  const sweepWrapper: SweepPoint[] = []
  for (const ef of efs) {
    const wanted = Math.max(ef, K)
    // Interleaved per ef so machine noise hits both alike.
    sweepDirect.push(
      timed(nq, () => {
        const out: Hits[] = new Array(nq)
        for (let i = 0; i < nq; i++) {
          const m = direct.search(qdata.subarray(i * dim, (i + 1) * dim), wanted, 1)
          const n = Math.min(K, m.keys.length)
          const r = new Int32Array(n)
          for (let j = 0; j < n; j++) r[j] = Number(m.keys[j]!)
          out[i] = { rows: r, scores: m.distances.subarray(0, n) }
        }
        return out
      }, truth, ef),
    )
    sweepWrapper.push(
      timed(nq, () => qcols.map((q) => index.search(q, { k: K, params: { ef } })[0]!), truth, ef),
    )
  }
  const atDirect = sweepDirect.find((p) => p.recall >= target)
  const atWrapper = sweepWrapper.find((p) => p.recall >= target)

  const filtered: HnswBenchResult['filtered'] = []
  const ef = atWrapper?.ef ?? efs[efs.length - 1]!
  for (const passRate of passRates) {
    const r = rng(99)
    const allow = new Bitset(rows)
    for (let i = 0; i < rows; i++) if (r() < passRate) allow.set(i)
    const ft = bruteForceSearch(data, queries, { metric, k: K, allow })
    const p = timed(nq, () => qcols.map((q) => index.search(q, { k: K, allow, params: { ef } })[0]!), ft, ef)
    filtered.push({ passRate, ef, recall: p.recall, qps: p.qps })
  }

  return {
    rows,
    dim,
    queries: nq,
    metric,
    M,
    efConstruction,
    buildMs: { usearch: buildDirect, wrapper: buildWrapper },
    sweep: { usearch: sweepDirect, wrapper: sweepWrapper },
    atTarget: { ...(atDirect ? { usearch: atDirect } : {}), ...(atWrapper ? { wrapper: atWrapper } : {}) },
    filtered,
    groundTruthMs,
  }
}

/** Best of three timed passes (after one warm-up), with the recall of the last. */
function timed(nq: number, run: () => Hits[], truth: Hits[], ef: number): SweepPoint {
  let got = run()
  let best = Infinity
  for (let rep = 0; rep < 3; rep++) {
    const t = performance.now()
    got = run()
    best = Math.min(best, performance.now() - t)
  }
  return { ef, recall: recall(got, truth), qps: (nq * 1000) / best }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = Number(process.argv[2] ?? 100_000)
  const queries = Number(process.argv[3] ?? 1000)
  const res = await runHnswBench({ rows, queries })
  const out = (s: string): boolean => process.stdout.write(`${s}\n`)
  out(`HNSW ${res.metric}, ${res.rows} x ${res.dim} Gaussian mixture, M=${res.M}, efConstruction=${res.efConstruction}, ${res.queries} queries, top-${K}`)
  out(`ground truth (JS brute force, batch): ${(res.groundTruthMs / 1000).toFixed(1)} s\n`)
  out(`| | usearch direct | HnswIndex |\n|---|---:|---:|`)
  out(`| build | ${(res.buildMs.usearch / 1000).toFixed(1)} s | ${(res.buildMs.wrapper / 1000).toFixed(1)} s |`)
  const fmt = (p?: SweepPoint): string => (p ? `${p.qps.toFixed(0)} q/s (ef ${p.ef}, R ${p.recall.toFixed(3)})` : 'not reached')
  out(`| QPS @ recall@10 >= 0.95 | ${fmt(res.atTarget.usearch)} | ${fmt(res.atTarget.wrapper)} |\n`)
  out('| ef | usearch recall | usearch q/s | HnswIndex recall | HnswIndex q/s | overhead |\n|---:|---:|---:|---:|---:|---:|')
  res.sweep.usearch.forEach((d, i) => {
    const w = res.sweep.wrapper[i]!
    out(`| ${d.ef} | ${d.recall.toFixed(3)} | ${d.qps.toFixed(0)} | ${w.recall.toFixed(3)} | ${w.qps.toFixed(0)} | ${((d.qps / w.qps - 1) * 100).toFixed(0)} % |`)
  })
  out('\n| filter pass rate | ef | recall@10 | HnswIndex q/s |\n|---:|---:|---:|---:|')
  for (const f of res.filtered) out(`| ${f.passRate * 100} % | ${f.ef} | ${f.recall.toFixed(3)} | ${f.qps.toFixed(0)} |`)
}
