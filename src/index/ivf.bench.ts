/**
 * IVF build time and QPS at recall@10 >= 0.95 on a Gaussian mixture (50k x 128, 100 clusters by
 * default, as hnsw.bench.ts) for IVF_FLAT, IVF_SQ8 and IVF_PQ: an nprobe sweep per type, then
 * filtered searches at the nprobe that met the target. QPS is one query per call on one thread.
 *
 *   node dist/src/index/ivf.bench.js [rows] [queries] [nlist] [m]     prints a markdown table
 */
import { pathToFileURL } from 'node:url'
import { Bitset } from '../common/bitset.js'
import type { VectorColumn } from '../schema/columns.js'
import { gaussianMixture, recall, rng } from './ann-fixture.js'
import { bruteForceSearch, type Hits } from './brute-force.js'
import { buildIvfIndex } from './ivf-index.js'
import type { MetricType } from './metric.js'

export interface IvfBenchOptions {
  readonly rows?: number
  readonly dim?: number
  readonly queries?: number
  readonly metric?: 'L2' | 'IP' | 'COSINE'
  readonly nlist?: number
  /** IVF_PQ sub-quantizers; default dim / 4 (4-d subspaces). */
  readonly m?: number
  readonly types?: readonly string[]
  /** Recall@10 to reach; default 0.95. */
  readonly target?: number
  readonly nprobes?: readonly number[]
  /** Filter pass rates to measure at the nprobe that met the target unfiltered. */
  readonly passRates?: readonly number[]
}

export interface IvfSweepPoint {
  readonly nprobe: number
  readonly recall: number
  readonly qps: number
}

export interface IvfBenchType {
  readonly indexType: string
  readonly buildMs: number
  readonly sweep: IvfSweepPoint[]
  /** First sweep point at or above the target (undefined: never reached). */
  readonly atTarget?: IvfSweepPoint
  readonly filtered: { readonly passRate: number; readonly nprobe: number; readonly recall: number; readonly qps: number }[]
}

export interface IvfBenchResult {
  readonly rows: number
  readonly dim: number
  readonly queries: number
  readonly metric: MetricType
  readonly nlist: number
  readonly m: number
  readonly groundTruthMs: number
  readonly types: IvfBenchType[]
}

const K = 10

export function runIvfBench(opts: IvfBenchOptions = {}): IvfBenchResult {
  const rows = opts.rows ?? 50_000
  const dim = opts.dim ?? 128
  const nq = opts.queries ?? 500
  const metric = opts.metric ?? 'L2'
  const nlist = opts.nlist ?? 256
  const m = opts.m ?? dim / 4
  const target = opts.target ?? 0.95
  const nprobes = opts.nprobes ?? [1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64]
  const passRates = opts.passRates ?? [0.5, 0.1]
  const types = opts.types ?? ['IVF_FLAT', 'IVF_SQ8', 'IVF_PQ']

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

  const out: IvfBenchType[] = []
  for (const indexType of types) {
    t0 = performance.now()
    const index = buildIvfIndex(data, metric, { nlist: String(nlist), m: String(m) }, { indexType })
    const buildMs = performance.now() - t0
    const sweep: IvfSweepPoint[] = []
    for (const nprobe of nprobes) {
      if (nprobe > nlist) break
      const p = timed(nq, () => qcols.map((q) => index.search(q, { k: K, params: { nprobe } })[0]!), truth, nprobe)
      sweep.push(p)
      // Past the target the sweep only gets slower; one more point shows the trend.
      if (sweep.filter((s) => s.recall >= target).length >= 2) break
    }
    const atTarget = sweep.find((p) => p.recall >= target)
    const nprobe = atTarget?.nprobe ?? sweep[sweep.length - 1]!.nprobe
    const filtered: IvfBenchType['filtered'] = []
    for (const passRate of passRates) {
      const r = rng(99)
      const allow = new Bitset(rows)
      for (let i = 0; i < rows; i++) if (r() < passRate) allow.set(i)
      const ft = bruteForceSearch(data, queries, { metric, k: K, allow })
      const p = timed(nq, () => qcols.map((q) => index.search(q, { k: K, allow, params: { nprobe } })[0]!), ft, nprobe)
      filtered.push({ passRate, nprobe, recall: p.recall, qps: p.qps })
    }
    out.push({ indexType, buildMs, sweep, ...(atTarget ? { atTarget } : {}), filtered })
  }
  return { rows, dim, queries: nq, metric, nlist, m, groundTruthMs, types: out }
}

/** Best of two timed passes (after one warm-up), with the recall of the last. */
function timed(nq: number, run: () => Hits[], truth: Hits[], nprobe: number): IvfSweepPoint {
  let got = run()
  let best = Infinity
  for (let rep = 0; rep < 2; rep++) {
    const t = performance.now()
    got = run()
    best = Math.min(best, performance.now() - t)
  }
  return { nprobe, recall: recall(got, truth), qps: (nq * 1000) / best }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = Number(process.argv[2] ?? 50_000)
  const queries = Number(process.argv[3] ?? 500)
  const nlist = Number(process.argv[4] ?? 256)
  const m = process.argv[5] === undefined ? undefined : Number(process.argv[5])
  const res = runIvfBench({ rows, queries, nlist, ...(m === undefined ? {} : { m }) })
  const out = (s: string): boolean => process.stdout.write(`${s}\n`)
  out(`IVF ${res.metric}, ${res.rows} x ${res.dim} Gaussian mixture (100 clusters), nlist=${res.nlist}, PQ m=${res.m} nbits=8, ${res.queries} queries, top-${K}`)
  out(`ground truth (JS brute force, batch): ${(res.groundTruthMs / 1000).toFixed(1)} s\n`)
  out('| index | build | QPS @ recall@10 >= 0.95 |\n|---|---:|---:|')
  for (const t of res.types) {
    const p = t.atTarget
    out(`| ${t.indexType} | ${(t.buildMs / 1000).toFixed(1)} s | ${p ? `${p.qps.toFixed(0)} q/s (nprobe ${p.nprobe}, R ${p.recall.toFixed(3)})` : 'not reached'} |`)
  }
  for (const t of res.types) {
    out(`\n${t.indexType}\n\n| nprobe | recall@10 | q/s |\n|---:|---:|---:|`)
    for (const p of t.sweep) out(`| ${p.nprobe} | ${p.recall.toFixed(3)} | ${p.qps.toFixed(0)} |`)
    for (const f of t.filtered) out(`| ${f.nprobe} (filter ${f.passRate * 100} %) | ${f.recall.toFixed(3)} | ${f.qps.toFixed(0)} |`)
  }
}
