import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Bitset } from '../common/bitset.js'
import type { VectorColumn } from '../schema/columns.js'
import { gaussianMixture, recall, rng } from './ann-fixture.js'
import { assertExactScores, assertKind, bits, columnKit, randomAllow as randomAllowRows } from './index-test-kit.js'
import { bruteForceSearch } from './brute-force.js'
import { float32ToBfloat16, float32ToFloat16 } from './half-float.js'
import { buildHnswIndex, HnswIndex, loadHnswIndex } from './hnsw-index.js'
import { columnGraphAvailable } from './column-graph.js'
import { buildVectorIndex, isColumnCopyFile, loadVectorIndex } from './index-factory.js'
import { IvfIndex } from './ivf-index.js'
import { SparseInvertedIndex } from './sparse-inverted-index.js'

const N = 5000
const DIM = 32
const NQ = 100
const K = 10
/** Small graph parameters keep each build around 0.1 s; recall is asserted at these. */
const FAST = { M: '16', efConstruction: '100' }

const BASE = gaussianMixture({ rows: N, dim: DIM, seed: 1 })
const QUERIES = gaussianMixture({ rows: NQ, dim: DIM, seed: 2 })

const { f32, f16, bf16, i8 } = columnKit(DIM)
const randomAllow = (rate: number, seed: number, size = N): Bitset => randomAllowRows(rate, seed, size)

describe('HNSW index: recall against brute force', () => {
  const cases: [string, VectorColumn, VectorColumn][] = [
    ['float32', f32(BASE), f32(QUERIES)],
    ['float16', f16(BASE), f16(QUERIES)],
  ]
  for (const [name, data, queries] of cases) {
    for (const metric of ['L2', 'IP', 'COSINE'] as const) {
      it(`${name} ${metric}: recall@10 >= 0.95 and exact scores`, () => {
        const idx = buildHnswIndex(data, metric, FAST, { threads: 1 })
        assert.equal(idx.indexType, 'HNSW')
        assert.equal(idx.metric, metric)
        const truth = bruteForceSearch(data, queries, { metric, k: K })
        const got = idx.search(queries, { k: K, params: { ef: 64 } })
        const r = recall(got, truth)
        assert.ok(r >= 0.95, `recall ${r}`)
        assertExactScores(data, queries, metric, got)
        // The exact-score re-rank means a fully recalled query matches brute force exactly.
        const same = got.filter((h, q) => recall([h], [truth[q]!]) === 1)
        assert.ok(same.every((h) => truth[got.indexOf(h)]!.scores.every((s, i) => s === h.scores[i])))
      })
    }
  }

  it('bfloat16 and int8 storage (L2, COSINE) keep recall and exact scores', () => {
    for (const [data, queries] of [
      [bf16(BASE), bf16(QUERIES)],
      [i8(BASE), i8(QUERIES)],
    ] as const) {
      for (const metric of ['L2', 'COSINE'] as const) {
        const idx = buildHnswIndex(data, metric, FAST, { threads: 1 })
        const got = idx.search(queries, { k: K, params: { ef: 64 } })
        const r = recall(got, bruteForceSearch(data, queries, { metric, k: K }))
        assert.ok(r >= 0.95, `${data.type} ${metric} recall ${r}`)
        assertExactScores(data, queries, metric, got)
      }
    }
  })

  it('binary vectors: HAMMING and JACCARD', () => {
    const data = bits(1, 3000)
    const queries = bits(2, 50)
    for (const metric of ['HAMMING', 'JACCARD'] as const) {
      const idx = buildHnswIndex(data, metric, FAST, { threads: 1 })
      const got = idx.search(queries, { k: K, params: { ef: 128 } })
      const r = recall(got, bruteForceSearch(data, queries, { metric, k: K }))
      assert.ok(r >= 0.95 && got.every((h) => h.rows.length === K), `${metric} recall ${r}`)
      assertExactScores(data, queries, metric, got)
    }
  })

  it('the default ef (max(k, 16), knowhere) and larger ef trade recall as expected', () => {
    const data = f32(BASE)
    const queries = f32(QUERIES)
    const idx = buildHnswIndex(data, 'L2') // Milvus defaults: M=30, efConstruction=360
    assert.deepEqual(idx.buildParams, { M: 30, efConstruction: 360 })
    const truth = bruteForceSearch(data, queries, { metric: 'L2', k: K })
    const rDefault = recall(idx.search(queries, { k: K }), truth)
    const r128 = recall(idx.search(queries, { k: K, params: { ef: '128' } }), truth)
    assert.ok(rDefault >= 0.9, `default ef recall ${rDefault}`)
    assert.ok(r128 >= 0.99 && r128 >= rDefault, `ef 128 recall ${r128}`)
    // k larger than ef's default: ef becomes k.
    const big = idx.search(queries, { k: 100 })
    assert.ok(big.every((h) => h.rows.length === 100))
  })

  it('never returns null rows; null queries get no hits', () => {
    const valid = Uint8Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 0 : 1))
    const data = f32(BASE, valid)
    const qValid = Uint8Array.from({ length: NQ }, (_, i) => (i % 10 === 0 ? 0 : 1))
    const queries: VectorColumn = { type: 'FloatVector', dim: DIM, data: QUERIES, valid: qValid }
    const idx = buildHnswIndex(data, 'L2', FAST, { threads: 1 })
    assert.equal(idx.indexed, N - Math.ceil(N / 3))
    const got = idx.search(queries, { k: K, params: { ef: 64 } })
    got.forEach((h, q) => {
      if (q % 10 === 0) assert.equal(h.rows.length, 0)
      else assert.equal(h.rows.length, K)
      for (const row of h.rows) assert.equal(valid[row], 1)
    })
    assert.ok(recall(got, bruteForceSearch(data, queries, { metric: 'L2', k: K })) >= 0.95)
  })

  it('IP on float16 rows whose norms overflow f16: the column graph widens them, a usearch copy falls back to f32', () => {
    const r = rng(11)
    const rows = 300
    const big = Float32Array.from({ length: rows * 4 }, () => (r() * 2 - 1) * 40000)
    const data: VectorColumn = { type: 'Float16Vector', dim: 4, data: Uint16Array.from(big, float32ToFloat16) }
    const queries: VectorColumn = { type: 'Float16Vector', dim: 4, data: Uint16Array.from(big.subarray(0, 40), float32ToFloat16) }
    const scalarOf = (ix: HnswIndex) => JSON.parse(new TextDecoder().decode(ix.serialize().get('hnsw.meta.json'))).scalar
    // Any floatStorage asks for a usearch copy; float16 rows keep their own precision there.
    const copy = buildHnswIndex(data, 'IP', FAST, { threads: 1, floatStorage: 'f32' })
    assert.equal(scalarOf(copy), 'f32')
    const idx = buildHnswIndex(data, 'IP', FAST, { threads: 1 })
    assert.equal(scalarOf(idx), columnGraphAvailable() ? 'column' : 'f32')
    const meta = JSON.parse(new TextDecoder().decode(idx.serialize().get('hnsw.meta.json')))
    assert.equal(meta.transform, 'mips')
    const truth = bruteForceSearch(data, queries, { metric: 'IP', k: 5 })
    for (const ix of [idx, loadHnswIndex(idx.serialize()), copy, loadHnswIndex(copy.serialize())]) {
      const got = ix.search(queries, { k: 5, params: { ef: 32 } })
      assert.ok(recall(got, truth) >= 0.95)
      assertExactScores(data, queries, 'IP', got)
    }
  })

  it('stops a build when asked, with progress up to that point', () => {
    const seen: number[] = []
    assertKind(
      () => buildHnswIndex(f32(BASE), 'L2', FAST, { onProgress: (f) => seen.push(f), shouldStop: () => seen.length >= 1 }),
      'ServiceUnavailable',
      /aborted/,
    )
    assert.equal(seen.length, 1)
    assert.ok(seen[0]! > 0 && seen[0]! < 1)
  })

  it('tiny and empty columns', () => {
    const one = buildHnswIndex({ type: 'FloatVector', dim: 2, data: Float32Array.from([1, 2]) }, 'IP')
    assert.deepEqual(one.search({ type: 'FloatVector', dim: 2, data: Float32Array.from([1, 1]) }, { k: 5 }), [
      { rows: Int32Array.from([0]), scores: Float32Array.from([3]) },
    ])
    const empty = buildHnswIndex({ type: 'FloatVector', dim: 2, data: new Float32Array(0) }, 'L2')
    assert.equal(empty.indexed, 0)
    const q = { type: 'FloatVector' as const, dim: 2, data: Float32Array.from([1, 1]) }
    assert.deepEqual(empty.search(q, { k: 3 })[0]!.rows.length, 0)
    const back = loadHnswIndex(empty.serialize())
    assert.deepEqual(back.search(q, { k: 3 }), empty.search(q, { k: 3 }))
    const allNull = buildHnswIndex({ type: 'FloatVector', dim: 2, data: new Float32Array(4), valid: new Uint8Array(2) }, 'L2')
    assert.equal(allNull.search(q, { k: 3 })[0]!.rows.length, 0)
  })
})

describe('HNSW index: filtered search', () => {
  const data = f32(BASE)
  const queries = f32(QUERIES)
  const idx = buildHnswIndex(data, 'L2', FAST, { threads: 1 })
  // The default policy goes exact for small allow-lists; forcing the graph exercises over-fetch,
  // retries and the exact fallback at every pass rate.
  const graphOnly = loadHnswIndex(idx.serialize(), data, { filterExactRows: 0 })

  for (const [label, rate] of [
    ['100%', 1],
    ['50%', 0.5],
    ['10%', 0.1],
    ['1%', 0.01],
    ['0.1%', 0.001],
  ] as const) {
    it(`pass rate ${label}: recall@10 >= 0.95, only allowed rows`, () => {
      const allow = rate === 1 ? Bitset.full(N) : randomAllow(rate, 7)
      const truth = bruteForceSearch(data, queries, { metric: 'L2', k: K, allow })
      for (const index of [idx, graphOnly]) {
        const got = index.search(queries, { k: K, allow, params: { ef: 32 } })
        const r = recall(got, truth)
        assert.ok(r >= 0.95, `recall ${r} at ${label}`)
        got.forEach((h, q) => {
          assert.equal(h.rows.length, truth[q]!.rows.length)
          for (const row of h.rows) assert.ok(allow.get(row))
        })
        assertExactScores(data, queries, 'L2', got)
      }
    })
  }

  it('one allowed row, and none', () => {
    const one = new Bitset(N)
    one.set(4321)
    for (const index of [idx, graphOnly]) {
      const got = index.search(queries, { k: K, allow: one })
      assert.deepEqual(got, bruteForceSearch(data, queries, { metric: 'L2', k: K, allow: one }))
      assert.ok(got.every((h) => h.rows.length === 1 && h.rows[0] === 4321))
      const none = index.search(queries, { k: K, allow: new Bitset(N) })
      assert.ok(none.every((h) => h.rows.length === 0))
      // An allow set shorter than the column excludes the rows past its end.
      const short = index.search(queries, { k: K, allow: Bitset.full(100) })
      assert.ok(short.every((h) => h.rows.length === K && h.rows.every((r) => r < 100)))
    }
  })

  it('filters with null rows: allowed null rows are never returned', () => {
    const valid = Uint8Array.from({ length: N }, (_, i) => (i % 2 === 0 ? 0 : 1))
    const col = f32(BASE, valid)
    // One build thread keeps the graph (and so the recall) the same on every run; multi-threaded
    // builds vary, and at ef 32 this 10%-pass filter sat right at the threshold on a busy CI machine.
    const index = buildHnswIndex(col, 'COSINE', FAST, { threads: 1 })
    const g = loadHnswIndex(index.serialize(), col, { filterExactRows: 0 })
    const allow = randomAllow(0.2, 9)
    const truth = bruteForceSearch(col, queries, { metric: 'COSINE', k: K, allow })
    for (const ix of [index, g]) {
      const got = ix.search(queries, { k: K, allow, params: { ef: 64 } })
      assert.ok(recall(got, truth) >= 0.95)
      for (const h of got) for (const row of h.rows) assert.ok(allow.get(row) && valid[row] === 1)
    }
  })
})

describe('HNSW index: range search', () => {
  const data = f32(BASE)
  const queries = f32(QUERIES)
  const idx = buildHnswIndex(data, 'L2', FAST, { threads: 1 })
  const ip = buildHnswIndex(data, 'IP', FAST, { threads: 1 })

  it('L2: radius and range_filter bound every hit; recall against exact range search', () => {
    // A radius around the 50th-nearest distance, and a range_filter excluding the nearest few.
    const t = bruteForceSearch(data, queries, { metric: 'L2', k: 50 })
    const radius = t.reduce((s, h) => s + h.scores[49]!, 0) / NQ
    const rangeFilter = t.reduce((s, h) => s + h.scores[4]!, 0) / NQ
    for (const k of [10, 100]) {
      const opts = { k, radius, rangeFilter }
      const truth = bruteForceSearch(data, queries, { metric: 'L2', ...opts })
      const got = idx.search(queries, opts)
      for (const h of got) for (const s of h.scores) assert.ok(s >= rangeFilter && s < radius)
      assert.ok(recall(got, truth) >= 0.95, `k=${k} recall ${recall(got, truth)}`)
      assertExactScores(data, queries, 'L2', got)
    }
  })

  it('IP: similarities in (radius, range_filter], with a filter', () => {
    const t = bruteForceSearch(data, queries, { metric: 'IP', k: 30 })
    const radius = t.reduce((s, h) => s + h.scores[29]!, 0) / NQ
    const allow = randomAllow(0.5, 3)
    const truth = bruteForceSearch(data, queries, { metric: 'IP', k: K, radius, allow })
    const got = ip.search(queries, { k: K, radius, allow })
    for (const h of got) for (const s of h.scores) assert.ok(s > radius)
    assert.ok(recall(got, truth) >= 0.95)
  })

  it('rejects bounds in the wrong order like brute force', () => {
    assertKind(() => idx.search(queries, { k: K, radius: 1, rangeFilter: 2 }), 'ParameterInvalid', /range_filter must be less/)
  })
})

describe('HNSW index: serialize and load', () => {
  const data = f32(BASE, Uint8Array.from({ length: N }, (_, i) => (i % 7 === 3 ? 0 : 1)))
  const queries = f32(QUERIES)
  const idx = buildHnswIndex(data, 'COSINE', FAST, { indexType: 'AUTOINDEX' })

  it('round-trips with identical results, with and without the column', () => {
    const files = idx.serialize()
    assert.deepEqual([...files.keys()].sort(), ['hnsw.data', 'hnsw.graph', 'hnsw.meta.json', 'hnsw.valid'])
    const meta = JSON.parse(new TextDecoder().decode(files.get('hnsw.meta.json')))
    assert.equal(meta.indexType, 'AUTOINDEX')
    assert.equal(meta.metric, 'COSINE')
    assert.deepEqual(meta.params, FAST)
    assert.equal(meta.dim, DIM)
    assert.equal(meta.rows, N)
    assert.equal(meta.indexed, idx.indexed)
    const opts = { k: K, params: { ef: 40 }, allow: randomAllow(0.3, 5) }
    const expected = idx.search(queries, opts)
    // Copies at odd offsets, as a download sliced out of one buffer would be.
    const copied = new Map([...files].map(([n, b]) => {
      const big = new Uint8Array(b.length + 3)
      big.set(b, 3)
      return [n, big.subarray(3)] as const
    }))
    for (const back of [loadHnswIndex(copied), loadHnswIndex(files, data), loadVectorIndex(files)]) {
      assert.equal(back.indexType, 'AUTOINDEX')
      assert.equal(back.metric, 'COSINE')
      assert.deepEqual(back.search(queries, opts), expected)
    }
  })

  it('reads float32 rows from the column by default, keeps a bf16 or f32 copy on request; all kinds load', () => {
    const scalarOf = (ix: HnswIndex) => JSON.parse(new TextDecoder().decode(ix.serialize().get('hnsw.meta.json'))).scalar
    assert.equal(scalarOf(idx), columnGraphAvailable() ? 'column' : 'bf16')
    const half = buildHnswIndex(data, 'COSINE', FAST, { floatStorage: 'bf16', threads: 1 })
    assert.equal(scalarOf(half), 'bf16')
    const full = buildHnswIndex(data, 'COSINE', FAST, { floatStorage: 'f32', threads: 1 })
    assert.equal(scalarOf(full), 'f32')
    const truth = bruteForceSearch(data, queries, { metric: 'COSINE', k: K })
    for (const ix of [idx, half, full]) {
      const back = loadHnswIndex(ix.serialize(), data)
      assert.equal(scalarOf(back), scalarOf(ix))
      const got = back.search(queries, { k: K, params: { ef: 64 } })
      assert.ok(recall(got, truth) >= 0.95)
      assertExactScores(data, queries, 'COSINE', got)
    }
    // Half the bytes per stored element: the bf16 graph file is well under the f32 one, and the
    // column graph's (neighbour lists only) under both.
    const graphBytes = (ix: HnswIndex) => ix.serialize().get('hnsw.graph')!.length
    assert.ok(graphBytes(half) < 0.85 * graphBytes(full))
    if (columnGraphAvailable()) assert.ok(graphBytes(idx) < graphBytes(half))
  })

  it('float16, bfloat16 and int8 files with a usearch copy (older files, or floatStorage) still load', () => {
    const r = rng(21)
    const src = Float32Array.from({ length: 400 * 8 }, () => r() * 2 - 1)
    const columns: VectorColumn[] = [
      { type: 'Float16Vector', dim: 8, data: Uint16Array.from(src, float32ToFloat16) },
      { type: 'BFloat16Vector', dim: 8, data: Uint16Array.from(src, float32ToBfloat16) },
      { type: 'Int8Vector', dim: 8, data: Int8Array.from(src, (x) => Math.round(x * 100)) },
    ]
    for (const col of columns) {
      const copy = buildHnswIndex(col, 'L2', FAST, { threads: 1, floatStorage: 'bf16' })
      const scalar = JSON.parse(new TextDecoder().decode(copy.serialize().get('hnsw.meta.json'))).scalar
      assert.equal(scalar, col.type === 'BFloat16Vector' ? 'bf16' : 'f16')
      const back = loadHnswIndex(copy.serialize(), col)
      const q: VectorColumn = { ...col, data: col.data.slice(0, 8 * 5) } as VectorColumn
      assert.deepEqual(back.search(q, { k: 5, params: { ef: 32 } }), copy.search(q, { k: 5, params: { ef: 32 } }), col.type)
    }
  })

  it('files of the graph addon load where it is switched off: the graph is rebuilt on usearch', () => {
    if (!columnGraphAvailable()) return
    const dir = mkdtempSync(join(tmpdir(), 'harrier-hnsw-fallback-'))
    try {
      for (const [name, bytes] of idx.serialize()) writeFileSync(join(dir, name), bytes)
      const qf = queries.data as Float32Array
      writeFileSync(join(dir, 'queries.bin'), new Uint8Array(qf.buffer, qf.byteOffset, qf.byteLength))
      const mod = JSON.stringify(new URL('./hnsw-index.js', import.meta.url).href)
      const script = `
        import { readFileSync, readdirSync } from 'node:fs'
        import { loadHnswIndex } from ${mod}
        const dir = ${JSON.stringify(dir)}
        const files = new Map(readdirSync(dir).filter((f) => f.startsWith('hnsw.')).map((f) => [f, new Uint8Array(readFileSync(dir + '/' + f))]))
        const ix = loadHnswIndex(files)
        const q = readFileSync(dir + '/queries.bin')
        const data = new Float32Array(q.buffer, q.byteOffset, q.byteLength / 4)
        const got = ix.search({ type: 'FloatVector', dim: ${DIM}, data }, { k: ${K}, params: { ef: 64 } })
        const scalar = JSON.parse(new TextDecoder().decode(ix.serialize().get('hnsw.meta.json'))).scalar
        process.stdout.write(JSON.stringify({ scalar, rows: got.map((h) => Array.from(h.rows)) }))`
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, HARRIER_NATIVE_GRAPH: '0' }, encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      const out = JSON.parse(r.stdout) as { scalar: string; rows: number[][] }
      assert.equal(out.scalar, 'bf16')
      const truth = bruteForceSearch(data, queries, { metric: 'COSINE', k: K })
      const got = out.rows.map((rows) => ({ rows: Int32Array.from(rows), scores: new Float32Array(rows.length) }))
      assert.ok(recall(got, truth) >= 0.95)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('detects damaged files instead of handing them to usearch', () => {
    const files = idx.serialize()
    const bad = new Map(files)
    const g = files.get('hnsw.graph')!.slice()
    g[100] = g[100]! ^ 0xff
    bad.set('hnsw.graph', g)
    assertKind(() => loadHnswIndex(bad), 'DataCorrupted', /checksum/)
    const truncated = new Map(files)
    truncated.set('hnsw.graph', files.get('hnsw.graph')!.subarray(0, 1000))
    assertKind(() => loadHnswIndex(truncated), 'DataCorrupted')
    const noGraph = new Map(files)
    noGraph.delete('hnsw.graph')
    assertKind(() => loadHnswIndex(noGraph), 'DataCorrupted')
    const badMeta = new Map(files)
    badMeta.set('hnsw.meta.json', new TextEncoder().encode('{"version":2}'))
    assertKind(() => loadHnswIndex(badMeta), 'DataCorrupted')
    assertKind(() => loadVectorIndex(new Map([['x', new Uint8Array(1)]])), 'DataCorrupted')
    // A column that is not the indexed one.
    assertKind(() => loadHnswIndex(files, f32(BASE.subarray(0, 10 * DIM))), 'ParameterInvalid')
  })
})

describe('buildVectorIndex and parameter validation', () => {
  const data = f32(BASE.subarray(0, 500 * DIM))
  const queries = f32(QUERIES.subarray(0, 5 * DIM))

  it('loads from the segment column without the files that only copy it', () => {
    const nullable = f32(BASE.subarray(0, 500 * DIM), Uint8Array.from({ length: 500 }, (_, i) => (i % 9 === 0 ? 0 : 1)))
    const sparse: VectorColumn = {
      type: 'SparseFloatVector',
      data: Array.from({ length: 300 }, (_, i) => ({ indices: Uint32Array.from([i % 7, 10 + (i % 13)]), values: Float32Array.from([1 + (i % 5), 2]) })),
      valid: Uint8Array.from({ length: 300 }, (_, i) => (i % 11 === 0 ? 0 : 1)),
    }
    const sq: VectorColumn = { type: 'SparseFloatVector', data: sparse.data.slice(0, 3) }
    const cases: [string, VectorColumn, VectorColumn, string][] = [
      ['HNSW', nullable, queries, 'L2'],
      ['IVF_FLAT', nullable, queries, 'L2'],
      ['IVF_PQ', nullable, queries, 'L2'],
      ['SPARSE_INVERTED_INDEX', sparse, sq, 'IP'],
    ]
    for (const [type, col, q, metric] of cases) {
      const ix = buildVectorIndex(type, col, metric as 'L2' | 'IP', { nlist: '16', m: '8', M: '8', efConstruction: '40' })
      const files = ix.serialize()
      const lean = new Map([...files].filter(([name]) => !isColumnCopyFile(name)))
      assert.ok(lean.size < files.size, type)
      const opts = { k: K, params: { ef: 32, nprobe: 4 } }
      assert.deepEqual(loadVectorIndex(lean, col).search(q, opts), ix.search(q, opts), type)
    }
    // FLAT's files are its column.
    const flat = buildVectorIndex('FLAT', data, 'L2', {})
    assert.ok([...flat.serialize().keys()].every((n) => !isColumnCopyFile(n)))
  })

  it('dispatches index types to engines', () => {
    const flat = buildVectorIndex('FLAT', data, 'L2', {})
    assert.equal(flat.indexType, 'FLAT')
    assert.deepEqual(flat.search(queries, { k: K }), bruteForceSearch(data, queries, { metric: 'L2', k: K }))
    const auto = buildVectorIndex('', data, 'L2', {})
    assert.ok(auto instanceof HnswIndex)
    assert.equal(auto.indexType, 'AUTOINDEX')
    assert.deepEqual(auto.buildParams, { M: 18, efConstruction: 240 })
    const hnsw = buildVectorIndex('hnsw', data, 'IP', { M: '8', efConstruction: '50' })
    assert.ok(hnsw instanceof HnswIndex && hnsw.indexType === 'HNSW')
    assert.deepEqual(hnsw.buildParams, { M: 8, efConstruction: 50 })
    for (const t of ['IVF_FLAT', 'IVF_SQ8', 'IVF_PQ', 'HNSW_SQ', 'SCANN', 'DISKANN']) {
      // One build thread: the same graph every run (a two-thread build's insertion order varies, and
      // on 5 queries a rare weaker graph fell just under the recall bar).
      const ix = buildVectorIndex(t, data, 'COSINE', { nlist: '128', m: '8', M: '8', efConstruction: '40' }, { threads: 1 })
      // The IVF family has its own engine (ivf-index.ts); the other stand-ins are still graphs.
      assert.ok(t.startsWith('IVF_') ? ix instanceof IvfIndex : ix instanceof HnswIndex, t)
      assert.equal(ix.indexType, t)
      const got = ix.search(queries, { k: K, params: { nprobe: 16, search_list: 20 } })
      assert.ok(recall(got, bruteForceSearch(data, queries, { metric: 'COSINE', k: K })) >= 0.95, t)
      assert.equal(loadVectorIndex(ix.serialize()).indexType, t)
    }
    const bin = bits(3, 200)
    const binFlat = buildVectorIndex('BIN_FLAT', bin, 'HAMMING', {})
    assert.equal(binFlat.indexType, 'BIN_FLAT')
    const binBack = loadVectorIndex(binFlat.serialize())
    assert.equal(binBack.indexType, 'BIN_FLAT')
    const bq = bits(4, 3)
    assert.deepEqual(binBack.search(bq, { k: 5 }), bruteForceSearch(bin, bq, { metric: 'HAMMING', k: 5 }))
    assert.ok(buildVectorIndex('BIN_IVF_FLAT', bin, 'JACCARD', {}) instanceof IvfIndex)
    const sparse: VectorColumn = {
      type: 'SparseFloatVector',
      data: [
        { indices: Uint32Array.from([1, 5]), values: Float32Array.from([1, 2]) },
        { indices: Uint32Array.from([5]), values: Float32Array.from([3]) },
      ],
    }
    for (const t of ['SPARSE_INVERTED_INDEX', 'SPARSE_WAND', 'AUTOINDEX']) {
      const sp = buildVectorIndex(t, sparse, 'IP', { drop_ratio_build: '0.2' })
      assert.ok(sp instanceof SparseInvertedIndex)
      assert.equal(sp.indexType, t)
      const back = loadVectorIndex(sp.serialize())
      assert.equal(back.indexType, t)
      assert.deepEqual(back.search(sparse, { k: 2 }), bruteForceSearch(sparse, sparse, { metric: 'IP', k: 2 }))
    }
  })

  it('rejects unsupported index types', () => {
    assertKind(() => buildVectorIndex('GPU_CAGRA', data, 'L2', {}), 'IndexNotSupported')
    assertKind(() => buildVectorIndex('BIN_FLAT', data, 'L2', {}), 'IndexNotSupported')
    assertKind(() => buildVectorIndex('HNSW', bits(1, 16), 'L2', {}), 'ParameterInvalid', /metric type L2 is not valid/)
    assertKind(
      () => buildVectorIndex('HNSW', { type: 'SparseFloatVector', data: [] }, 'IP', {}),
      'IndexNotSupported',
    )
    assertKind(() => buildVectorIndex('MINHASH_LSH', bits(1, 16), 'HAMMING', {}), 'IndexNotSupported')
  })

  it('validates build params with knowhere messages', () => {
    assertKind(() => buildVectorIndex('HNSW', data, 'L2', { M: '1' }), 'ParameterInvalid', /param 'M' \(1\) should be in range \[2, 2048\]/)
    assertKind(() => buildVectorIndex('HNSW', data, 'L2', { M: '2049' }), 'ParameterInvalid', /\[2, 2048\]/)
    assertKind(
      () => buildVectorIndex('HNSW', data, 'L2', { efConstruction: '0' }),
      'ParameterInvalid',
      /param 'efConstruction' \(0\) should be in range \[1, 2147483647\]/,
    )
    assertKind(() => buildVectorIndex('HNSW', data, 'L2', { M: 'abc' }), 'ParameterInvalid', /invalid integer value, key: 'M'/)
    assertKind(() => buildVectorIndex('HNSW', data, 'L2', { M: '16.5' }), 'ParameterInvalid', /invalid integer value/)
    assertKind(() => buildVectorIndex('IVF_FLAT', data, 'L2', { nlist: '0' }), 'ParameterInvalid', /param 'nlist' \(0\)/)
    // Unknown keys are ignored, as Milvus does.
    assert.ok(buildVectorIndex('HNSW', data, 'L2', { M: '4', efConstruction: '20', not_a_param: 'x' }))
  })

  it('validates search params with knowhere messages', () => {
    const ix = buildVectorIndex('HNSW', data, 'L2', { M: '8', efConstruction: '40' })
    assertKind(() => ix.search(queries, { k: 10, params: { ef: 5 } }), 'ParameterInvalid', /ef\(5\) should be larger than k\(10\)/)
    assertKind(() => ix.search(queries, { k: 10, params: { ef: -1 } }), 'ParameterInvalid', /param 'ef' \(-1\) should be in range \[1, 2147483647\]/)
    assertKind(() => ix.search(queries, { k: 10, params: { ef: 32.5 } }), 'ParameterInvalid', /invalid integer value, key: 'ef'/)
    assertKind(() => ix.search(queries, { k: 10, params: { ef: true } }), 'ParameterInvalid')
    assertKind(() => ix.search(queries, { k: 0 }), 'ParameterInvalid')
    assertKind(() => ix.search(f16(QUERIES.subarray(0, DIM)), { k: 1 }), 'ParameterInvalid', /vector type mismatch/)
    assertKind(() => ix.search({ type: 'FloatVector', dim: 3, data: new Float32Array(3) }, { k: 1 }), 'ParameterInvalid', /dimension mismatch/)
    // ef equal to k, ef as a string, ef absent and ef null (pymilvus's "default") are fine.
    for (const params of [{ ef: 10 }, { ef: '12' }, {}, { ef: null }]) assert.equal(ix.search(queries, { k: 10, params })[0]!.rows.length, 10)
    // A range search takes any ef.
    assert.ok(ix.search(queries, { k: 10, radius: 1e9, params: { ef: 3 } }))
    const ivf = buildVectorIndex('IVF_FLAT', data, 'L2', { nlist: '16', M: '8', efConstruction: '40' })
    assertKind(() => ivf.search(queries, { k: 10, params: { nprobe: 0 } }), 'ParameterInvalid', /param 'nprobe' \(0\)/)
    assertKind(() => ivf.search(queries, { k: 10, params: { nprobe: 65537 } }), 'ParameterInvalid')
  })
})
