/**
 * Filter evaluation throughput: rows evaluated per second on one core over a synthetic chunk
 * (1M rows by default). Goals from the filter issue: numeric >= 100M rows/s, `in`/`like`
 * >= 20M rows/s, JSON path >= 5M rows/s.
 *
 *   node dist/src/expr/filter.bench.js [rows]     prints a markdown table
 */
import { pathToFileURL } from 'node:url'
import type { Column, ColumnChunk, JsonValue } from '../schema/columns.js'
import { fixtureSchema } from './fixture-schema.js'
import { evaluateFilter, parseFilter } from './index.js'

export interface FilterBenchResult {
  readonly name: string
  readonly rowsPerSec: number
}

/** mulberry32: deterministic data so runs are comparable. */
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

function buildChunk(n: number): ColumnChunk {
  const r = rng(42)
  const i64 = new BigInt64Array(n)
  const i32 = new Int32Array(n)
  const f64 = new Float64Array(n)
  const words = Array.from({ length: 10_000 }, (_, i) => `${r() < 0.2 ? 'pre' : 'val'}_${i.toString(36)}_${Math.floor(r() * 1e6)}`)
  const s: string[] = new Array(n)
  const meta: JsonValue[] = new Array(n)
  const arr: bigint[][] = new Array(n)
  for (let i = 0; i < n; i++) {
    i64[i] = BigInt(Math.floor(r() * 1_000_000))
    i32[i] = Math.floor(r() * 1_000_000)
    f64[i] = r()
    s[i] = words[Math.floor(r() * words.length)]!
    meta[i] = { price: Math.floor(r() * 10_000) / 100, tag: r() < 0.5 ? 'a' : 'b', stock: Math.floor(r() * 50) }
    const len = Math.floor(r() * 8)
    const cell: bigint[] = new Array(len)
    for (let k = 0; k < len; k++) cell[k] = BigInt(Math.floor(r() * 100))
    arr[i] = cell
  }
  const columns = new Map<string, Column>([
    ['i64', { type: 'Int64', data: i64 }],
    ['i32', { type: 'Int32', data: i32 }],
    ['f64', { type: 'Double', data: f64 }],
    ['s', { type: 'VarChar', data: s }],
    ['meta', { type: 'JSON', data: meta }],
    ['arr_i64', { type: 'Array', elementType: 'Int64', data: arr }],
  ])
  return { numRows: n, columns }
}

function inList(chunk: ColumnChunk): string {
  const col = chunk.columns.get('s')
  const data = col && col.type === 'VarChar' ? col.data : []
  return `[${Array.from({ length: 20 }, (_, i) => JSON.stringify(data[(i * 7919) % data.length] ?? '')).join(', ')}]`
}

/** Median rows/s over repeated runs after warm-up; each case runs for at least ~300 ms. */
function measure(run: () => void, rows: number): number {
  for (let i = 0; i < 3; i++) run()
  const samples: number[] = []
  const deadline = performance.now() + 300
  while (samples.length < 5 || (performance.now() < deadline && samples.length < 200)) {
    const t0 = performance.now()
    run()
    samples.push(performance.now() - t0)
  }
  samples.sort((a, b) => a - b)
  const ms = samples[samples.length >> 1]!
  return rows / (ms / 1000)
}

export async function runFilterBench(opts: { rows?: number } = {}): Promise<FilterBenchResult[]> {
  const n = opts.rows ?? 1_000_000
  const schema = fixtureSchema()
  const chunk = buildChunk(n)
  const cases: Array<[string, string]> = [
    ['numeric range (Int64)', '100000 <= i64 < 600000'],
    ['numeric range (Double)', '0.25 <= f64 < 0.75'],
    ['numeric compare (Int32)', 'i32 > 500000'],
    ['varchar in [20 values]', `s in ${inList(chunk)}`],
    ['like "pre%"', 's like "pre%"'],
    ['JSON path comparison', 'meta["price"] > 50'],
    ['array_contains', 'array_contains(arr_i64, 42)'],
    ['4-clause mix', 'i64 > 100000 and f64 < 0.5 and s like "pre%" and meta["stock"] != 7'],
  ]
  const out: FilterBenchResult[] = []
  for (const [name, text] of cases) {
    const plan = parseFilter(text, schema)
    out.push({ name, rowsPerSec: measure(() => evaluateFilter(plan, chunk), n) })
    // Yield between cases so a caller's event loop is not starved for the whole run.
    await new Promise((resolve) => setImmediate(resolve))
  }
  return out
}

function formatRate(r: number): string {
  return r >= 1e6 ? `${(r / 1e6).toFixed(1)}M` : `${(r / 1e3).toFixed(0)}k`
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = Number(process.argv[2] ?? 1_000_000)
  const results = await runFilterBench({ rows })
  const lines = [`| filter (${rows} rows) | rows/s |`, '| --- | ---: |', ...results.map((r) => `| ${r.name} | ${formatRate(r.rowsPerSec)} |`)]
  process.stdout.write(`${lines.join('\n')}\n`)
}
