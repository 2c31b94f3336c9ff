import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Bitset } from '../common/bitset.js'
import type { VectorColumn } from '../schema/columns.js'
import { gaussianMixture, recall } from './ann-fixture.js'
import { assertExactScores, assertKind, bits, columnKit, randomAllow as randomAllowRows } from './index-test-kit.js'
import { bruteForceSearch, distance } from './brute-force.js'
import { buildVectorIndex, loadVectorIndex } from './index-factory.js'
import { buildIvfIndex, IvfIndex, loadIvfIndex } from './ivf-index.js'
import { higherIsBetter, type MetricType } from './metric.js'

const N = 4000
const DIM = 32
const NQ = 100
const K = 10
/** nlist 64 over 4k rows (~60 per list); nprobe 16 of 64 is where IVF_FLAT reaches recall 1. */
const NLIST = '64'
const NPROBE = 16

const BASE = gaussianMixture({ rows: N, dim: DIM, seed: 1 })
const QUERIES = gaussianMixture({ rows: NQ, dim: DIM, seed: 2 })

const { f32, f16, bf16, i8 } = columnKit(DIM)
const randomAllow = (rate: number, seed: number, size = N): Bitset => randomAllowRows(rate, seed, size)

const PARAMS: Readonly<Record<string, Record<string, string>>> = {
  IVF_FLAT: { nlist: NLIST },
  IVF_SQ8: { nlist: NLIST },
  // dim 32 / m 8: 4-d subspaces of 256 codes; candidates are re-scored exactly.
  IVF_PQ: { nlist: NLIST, m: '8' },
}

describe('IVF index: recall against brute force', () => {
  const data = f32(BASE)
  const queries = f32(QUERIES)
  for (const type of ['IVF_FLAT', 'IVF_SQ8', 'IVF_PQ'] as const) {
    for (const metric of ['L2', 'IP', 'COSINE'] as const) {
      it(`${type} ${metric}: recall@10 >= 0.95 and exact scores`, () => {
        const idx = buildIvfIndex(data, metric, PARAMS[type], { indexType: type })
        assert.equal(idx.indexType, type)
        assert.equal(idx.metric, metric)
        assert.equal(idx.nlist, 64)
        const truth = bruteForceSearch(data, queries, { metric, k: K })
        const got = idx.search(queries, { k: K, params: { nprobe: NPROBE } })
        const r = recall(got, truth)
        assert.ok(r >= 0.95, `recall ${r}`)
        assert.ok(got.every((h) => h.rows.length === K))
        assertExactScores(data, queries, metric, got)
      })
    }
  }

  it('IVF_FLAT probing every list is exactly brute force', () => {
    for (const metric of ['L2', 'IP', 'COSINE'] as const) {
      const idx = buildIvfIndex(data, metric, { nlist: '32' })
      const truth = bruteForceSearch(data, queries, { metric, k: K })
      assert.deepEqual(idx.search(queries, { k: K, params: { nprobe: 32 } }), truth, metric)
      // nprobe above nlist is clamped (faiss does the same).
      assert.deepEqual(idx.search(queries, { k: K, params: { nprobe: 65536 } }), truth, metric)
    }
  })

  it('a larger nprobe never lowers recall (IVF_FLAT)', () => {
    const idx = buildIvfIndex(data, 'L2', { nlist: NLIST })
    const truth = bruteForceSearch(data, queries, { metric: 'L2', k: K })
    let last = 0
    for (const nprobe of [1, 2, 4, 8, 16, 64]) {
      const r = recall(idx.search(queries, { k: K, params: { nprobe } }), truth)
      assert.ok(r >= last, `nprobe ${nprobe}: ${r} < ${last}`)
      last = r
    }
    assert.equal(last, 1)
  })

  it('float16, bfloat16 and int8 columns (trained and scanned as float32) keep recall and exact scores', () => {
    for (const [mk, type] of [
      [f16, 'IVF_FLAT'],
      [bf16, 'IVF_SQ8'],
      [i8, 'IVF_PQ'],
      [f16, 'IVF_PQ'],
    ] as const) {
      const col = mk(BASE)
      const qs = mk(QUERIES)
      for (const metric of ['L2', 'COSINE'] as const) {
        const idx = buildIvfIndex(col, metric, PARAMS[type], { indexType: type })
        const got = idx.search(qs, { k: K, params: { nprobe: NPROBE } })
        const r = recall(got, bruteForceSearch(col, qs, { metric, k: K }))
        assert.ok(r >= 0.95, `${col.type} ${type} ${metric} recall ${r}`)
        assertExactScores(col, qs, metric, got)
      }
    }
  })

  it('BIN_IVF_FLAT: HAMMING and JACCARD', () => {
    const bin = bits(1, 3000)
    const bq = bits(2, 50)
    for (const metric of ['HAMMING', 'JACCARD'] as const) {
      const idx = buildIvfIndex(bin, metric, { nlist: '32' }, { indexType: 'BIN_IVF_FLAT' })
      assert.equal(idx.indexType, 'BIN_IVF_FLAT')
      const got = idx.search(bq, { k: K, params: { nprobe: 8 } })
      const r = recall(got, bruteForceSearch(bin, bq, { metric, k: K }))
      assert.ok(r >= 0.95 && got.every((h) => h.rows.length === K), `${metric} recall ${r}`)
      assertExactScores(bin, bq, metric, got)
      assert.deepEqual(idx.search(bq, { k: K, params: { nprobe: 32 } }), bruteForceSearch(bin, bq, { metric, k: K }))
    }
  })

  it('PQ nbits: small codebooks train, nbits above 8 is accepted and trained as 8', () => {
    const small = buildIvfIndex(data, 'L2', { nlist: '16', m: '8', nbits: '4' }, { indexType: 'IVF_PQ' })
    assert.equal(small.ksub, 16)
    // 16 codes per subspace rank coarsely: a deeper exact re-score restores recall.
    const got = small.search(queries, { k: K, params: { nprobe: 16, refine_k: 50 } })
    assert.ok(recall(got, bruteForceSearch(data, queries, { metric: 'L2', k: K })) >= 0.95)
    assert.equal(buildIvfIndex(data, 'L2', { nlist: '16', m: '8', nbits: '12' }, { indexType: 'IVF_PQ' }).ksub, 256)
  })

  it('deeper refine_k re-scores more PQ candidates and never loses recall', () => {
    const idx = buildIvfIndex(data, 'L2', { nlist: '16', m: '4' }, { indexType: 'IVF_PQ' })
    const truth = bruteForceSearch(data, queries, { metric: 'L2', k: K })
    const r1 = recall(idx.search(queries, { k: K, params: { nprobe: 16, refine_k: 1 } }), truth)
    const r8 = recall(idx.search(queries, { k: K, params: { nprobe: 16, refine_k: '8' } }), truth)
    const all = recall(idx.search(queries, { k: K, params: { nprobe: 16, refine_k: 400 } }), truth)
    assert.ok(r1 <= r8 && r8 <= all, `${r1} ${r8} ${all}`)
    // Every row of every probed list re-scored: exact.
    assert.equal(all, 1)
  })
})

describe('IVF index: filters, nulls and range search', () => {
  const data = f32(BASE)
  const queries = f32(QUERIES)

  for (const type of ['IVF_FLAT', 'IVF_SQ8', 'IVF_PQ'] as const) {
    it(`${type}: filtered search at 50 %, 10 %, 1 %, one row and zero rows`, () => {
      // filterExactRows 0 forces the lists; the default routes small allow sets to exact search.
      const forced = buildIvfIndex(data, 'L2', PARAMS[type], { indexType: type, filterExactRows: 0 })
      const auto = buildIvfIndex(data, 'L2', PARAMS[type], { indexType: type })
      for (const [i, rate] of [0.5, 0.1, 0.01].entries()) {
        const allow = randomAllow(rate, 10 + i)
        const truth = bruteForceSearch(data, queries, { metric: 'L2', k: K, allow })
        for (const idx of [forced, auto]) {
          const got = idx.search(queries, { k: K, allow, params: { nprobe: NPROBE } })
          const r = recall(got, truth)
          assert.ok(r >= 0.95, `${type} rate ${rate} recall ${r}`)
          assert.ok(got.every((h) => h.rows.every((row) => allow.get(row))))
          assert.ok(got.every((h, q) => h.rows.length === truth[q]!.rows.length))
          assertExactScores(data, queries, 'L2', got)
        }
      }
      const one = new Bitset(N)
      one.set(1234)
      for (const idx of [forced, auto]) {
        const got = idx.search(queries, { k: K, allow: one, params: { nprobe: 1 } })
        assert.ok(got.every((h, q) => h.rows.length === 1 && h.rows[0] === 1234 && h.scores[0] === distance('L2', data, 1234, queries, q)))
        assert.ok(idx.search(queries, { k: K, allow: new Bitset(N) }).every((h) => h.rows.length === 0))
        // An allow set shorter than the column admits nothing past its end.
        const short = Bitset.full(10)
        assert.ok(idx.search(queries, { k: K, allow: short }).every((h) => h.rows.length === K && h.rows.every((r) => r < 10)))
      }
    })
  }

  it('null rows are never indexed or returned; a null query gets no hits', () => {
    const valid = Uint8Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 0 : 1))
    const col = f32(BASE, valid)
    const qValid = Uint8Array.from({ length: NQ }, (_, i) => (i === 7 ? 0 : 1))
    const qs = f32(QUERIES, qValid)
    for (const type of ['IVF_FLAT', 'IVF_SQ8', 'IVF_PQ'] as const) {
      const idx = buildIvfIndex(col, 'IP', PARAMS[type], { indexType: type, filterExactRows: 0 })
      assert.equal(idx.indexed, N - Math.ceil(N / 3))
      const truth = bruteForceSearch(col, qs, { metric: 'IP', k: K })
      for (const opts of [{ k: K }, { k: K, allow: randomAllow(0.5, 3) }, { k: 3000 }]) {
        const got = idx.search(qs, { ...opts, params: { nprobe: NPROBE } })
        assert.ok(got.every((h) => h.rows.every((r) => valid[r] === 1)), type)
        assert.equal(got[7]!.rows.length, 0)
      }
      assert.ok(recall(idx.search(qs, { k: K, params: { nprobe: NPROBE } }), truth) >= 0.95)
      // k beyond the indexed rows returns every non-null row once.
      const big = idx.search(qs, { k: N })
      assert.equal(big[0]!.rows.length, idx.indexed)
      assert.equal(new Set(big[0]!.rows).size, idx.indexed)
    }
    const allNull = buildIvfIndex(f32(BASE, new Uint8Array(N)), 'L2', {}, { indexType: 'IVF_SQ8' })
    assert.equal(allNull.indexed, 0)
    assert.ok(allNull.search(queries, { k: K }).every((h) => h.rows.length === 0))
    assert.ok(loadVectorIndex(allNull.serialize()).search(queries, { k: K }).every((h) => h.rows.length === 0))
  })

  it('segments smaller than nlist train one list per row at most', () => {
    const tiny = f32(BASE.subarray(0, 5 * DIM))
    for (const type of ['IVF_FLAT', 'IVF_SQ8', 'IVF_PQ'] as const) {
      const idx = buildIvfIndex(tiny, 'L2', { nlist: '128', m: '8' }, { indexType: type })
      assert.equal(idx.nlist, 5)
      assert.deepEqual(idx.search(queries, { k: 5, params: { nprobe: 1 } }), bruteForceSearch(tiny, queries, { metric: 'L2', k: 5 }))
    }
    const empty = buildIvfIndex(f32(new Float32Array(0)), 'L2', {})
    assert.equal(empty.nlist, 0)
    assert.ok(empty.search(queries, { k: K }).every((h) => h.rows.length === 0))
  })

  it('range search: every hit in range with exact scores; all lists probed equals brute force', () => {
    for (const type of ['IVF_FLAT', 'IVF_SQ8', 'IVF_PQ'] as const) {
      for (const [metric, radius, rangeFilter] of [
        ['L2', 60, 20],
        // A band near the top: IVF ranges find what lies around the query, as knowhere's do.
        ['IP', 150, 400],
        ['COSINE', 0.8, 0.99],
      ] as const) {
        const idx = buildIvfIndex(data, metric, PARAMS[type], { indexType: type })
        const opts = { k: 100, radius, rangeFilter }
        const truth = bruteForceSearch(data, queries, { metric, ...opts })
        assert.ok(truth.some((h) => h.rows.length > 0), 'the range must select something')
        const got = idx.search(queries, { ...opts, params: { nprobe: 4 } })
        assertExactScores(data, queries, metric, got)
        const higher = higherIsBetter(metric)
        assert.ok(got.every((h) => Array.from(h.scores).every((s) => (higher ? s > radius && s <= rangeFilter : s < radius && s >= rangeFilter))))
        const r = recall(got, truth)
        assert.ok(r >= 0.95, `${type} ${metric} range recall ${r}`)
        assert.deepEqual(idx.search(queries, { ...opts, params: { nprobe: 64 } }), truth)
      }
    }
  })

  it('range search keeps probing past nprobe until lists stop contributing', () => {
    const idx = buildIvfIndex(data, 'L2', { nlist: NLIST })
    const opts = { k: 1000, radius: 60 }
    const truth = bruteForceSearch(data, queries, { metric: 'L2', ...opts })
    // nprobe 1 alone would see one list; the empty-bucket rule carries the scan across the cluster.
    const got = idx.search(queries, { ...opts, params: { nprobe: 1 } })
    assert.ok(recall(got, truth) >= 0.95)
    const patient = idx.search(queries, { ...opts, params: { nprobe: 1, max_empty_result_buckets: 64 } })
    assert.deepEqual(patient, truth)
  })
})

describe('IVF index: serialization', () => {
  const data = f32(BASE)
  const queries = f32(QUERIES)

  it('round-trips every kind through loadVectorIndex, with and without the column', () => {
    const cases: [string, VectorColumn, VectorColumn, MetricType, Record<string, string>][] = [
      ['IVF_FLAT', data, queries, 'COSINE', PARAMS.IVF_FLAT!],
      ['IVF_SQ8', { ...data, valid: Uint8Array.from({ length: N }, (_, i) => (i % 7 === 0 ? 0 : 1)) }, queries, 'L2', PARAMS.IVF_SQ8!],
      ['IVF_PQ', data, queries, 'IP', PARAMS.IVF_PQ!],
      ['IVF_PQ', i8(BASE), i8(QUERIES), 'L2', { nlist: '8', m: '16', nbits: '6' }],
      ['BIN_IVF_FLAT', bits(3, 1000), bits(4, 10), 'JACCARD', { nlist: '16' }],
    ]
    for (const [type, col, qs, metric, params] of cases) {
      const idx = buildVectorIndex(type, col, metric, params)
      assert.ok(idx instanceof IvfIndex)
      const files = idx.serialize()
      const opts = { k: K, params: { nprobe: 4 } }
      const want = idx.search(qs, opts)
      for (const back of [loadVectorIndex(files), loadVectorIndex(files, col), loadIvfIndex(files)]) {
        assert.ok(back instanceof IvfIndex)
        assert.equal(back.indexType, type)
        assert.equal(back.metric, metric)
        assert.deepEqual(back.params, params)
        assert.equal(back.nlist, idx.nlist)
        assert.deepEqual(back.search(qs, opts), want, type)
      }
      // Builds are deterministic: the same column and params give the same bytes.
      const again = buildVectorIndex(type, col, metric, params).serialize()
      for (const [name, bytes] of files) assert.deepEqual(again.get(name), bytes, `${type} ${name}`)
    }
  })

  it('damaged or inconsistent files are DataCorrupted; a mismatched column is ParameterInvalid', () => {
    const idx = buildIvfIndex(data, 'L2', PARAMS.IVF_PQ, { indexType: 'IVF_PQ' })
    const files = idx.serialize()
    const withFile = (name: string, bytes: Uint8Array | undefined): Map<string, Uint8Array> => {
      const m = new Map(files)
      if (bytes === undefined) m.delete(name)
      else m.set(name, bytes)
      return m
    }
    const payload = files.get('ivf.payload')!
    const flipped = payload.slice()
    flipped[flipped.length >> 1]! ^= 0x10
    assertKind(() => loadVectorIndex(withFile('ivf.payload', flipped)), 'DataCorrupted', /checksum/)
    assertKind(() => loadVectorIndex(withFile('ivf.payload', payload.subarray(0, payload.length - 4))), 'DataCorrupted')
    assertKind(() => loadVectorIndex(withFile('ivf.payload', undefined)), 'DataCorrupted')
    const raw = files.get('ivf.data')!.slice()
    raw[5]! ^= 1
    assertKind(() => loadVectorIndex(withFile('ivf.data', raw)), 'DataCorrupted', /raw data/)
    assertKind(() => loadVectorIndex(withFile('ivf.data', undefined)), 'DataCorrupted')
    const meta = JSON.parse(new TextDecoder().decode(files.get('ivf.meta.json'))) as Record<string, unknown>
    const bad = (patch: Record<string, unknown>): Map<string, Uint8Array> =>
      withFile('ivf.meta.json', new TextEncoder().encode(JSON.stringify({ ...meta, ...patch })))
    assertKind(() => loadVectorIndex(withFile('ivf.meta.json', new TextEncoder().encode('{not json'))), 'DataCorrupted')
    assertKind(() => loadVectorIndex(bad({ version: 2 })), 'DataCorrupted')
    assertKind(() => loadVectorIndex(bad({ nlist: 63 })), 'DataCorrupted')
    assertKind(() => loadVectorIndex(bad({ params: { nlist: '64', m: '5' } })), 'DataCorrupted', /invalid parameters/)
    assertKind(() => loadVectorIndex(bad({ indexType: 'HNSW' })), 'DataCorrupted')
    assertKind(() => loadVectorIndex(bad({ kind: 'SQ8' })), 'DataCorrupted')
    assertKind(() => loadVectorIndex(bad({ rows: N + 1 })), 'DataCorrupted')
    assertKind(() => loadVectorIndex(files, f32(BASE.subarray(0, 10 * DIM))), 'ParameterInvalid', /does not match/)
    assertKind(() => loadVectorIndex(files, f16(BASE)), 'ParameterInvalid')
    // A column whose nulls differ from the index's lists.
    assertKind(() => loadVectorIndex(files, f32(BASE, Uint8Array.from({ length: N }, (_, i) => (i === 0 ? 0 : 1)))), 'DataCorrupted')
  })
})

describe('IVF index: parameters and builds', () => {
  const data = f32(BASE.subarray(0, 500 * DIM))
  const queries = f32(QUERIES.subarray(0, 5 * DIM))

  it('validates build params with knowhere / Milvus messages', () => {
    assertKind(() => buildVectorIndex('IVF_FLAT', data, 'L2', { nlist: '0' }), 'ParameterInvalid', /param 'nlist' \(0\) should be in range \[1, 65536\]/)
    assertKind(() => buildVectorIndex('IVF_SQ8', data, 'L2', { nlist: '65537' }), 'ParameterInvalid', /\[1, 65536\]/)
    assertKind(() => buildVectorIndex('IVF_FLAT', data, 'L2', { nlist: 'x' }), 'ParameterInvalid', /invalid integer value, key: 'nlist'/)
    assertKind(() => buildVectorIndex('IVF_PQ', data, 'L2', {}), 'ParameterInvalid', /parameter `m` not found/)
    assertKind(
      () => buildVectorIndex('IVF_PQ', data, 'L2', { m: '5' }),
      'ParameterInvalid',
      /dimension must be abled to be divided by `m`, dimension: 32, m: 5/,
    )
    assertKind(() => buildVectorIndex('IVF_PQ', data, 'L2', { m: '8', nbits: '25' }), 'ParameterInvalid', /param 'nbits' \(25\) should be in range \[1, 24\]/)
    assertKind(() => buildVectorIndex('IVF_PQ', data, 'L2', { m: '0' }), 'ParameterInvalid', /param 'm' \(0\)/)
    assertKind(() => buildVectorIndex('BIN_IVF_FLAT', data, 'L2', {}), 'IndexNotSupported')
    assertKind(() => buildVectorIndex('IVF_FLAT', bits(1, 16), 'HAMMING', {}), 'IndexNotSupported')
    assertKind(() => buildVectorIndex('BIN_IVF_FLAT', bits(1, 16), 'L2', {}), 'ParameterInvalid', /metric type L2 is not valid/)
    assertKind(() => buildIvfIndex({ type: 'SparseFloatVector', data: [] }, 'IP', {}), 'IndexNotSupported')
    assertKind(() => buildIvfIndex(data, 'L2', {}, { indexType: 'HNSW' }), 'ParameterInvalid', /not an IVF index/)
    // Defaults: nlist 128 (capped at the rows); unknown keys are ignored, as Milvus does.
    const d = buildVectorIndex('IVF_FLAT', data, 'L2', { not_a_param: 'x' })
    assert.ok(d instanceof IvfIndex)
    assert.equal(d.nlist, 128)
    assert.deepEqual(d.buildParams, { nlist: 128, m: 0, nbits: 0 })
    const pq = buildVectorIndex('IVF_PQ', data, 'L2', { m: '4' })
    assert.ok(pq instanceof IvfIndex)
    assert.deepEqual(pq.buildParams, { nlist: 128, m: 4, nbits: 8 })
  })

  it('validates search params with knowhere messages', () => {
    const ix = buildVectorIndex('IVF_SQ8', data, 'L2', { nlist: '16' })
    assertKind(() => ix.search(queries, { k: 10, params: { nprobe: 0 } }), 'ParameterInvalid', /param 'nprobe' \(0\) should be in range \[1, 65536\]/)
    assertKind(() => ix.search(queries, { k: 10, params: { nprobe: 65537 } }), 'ParameterInvalid')
    assertKind(() => ix.search(queries, { k: 10, params: { nprobe: 2.5 } }), 'ParameterInvalid', /invalid integer value, key: 'nprobe'/)
    assertKind(() => ix.search(queries, { k: 10, params: { refine_k: 0.5 } }), 'ParameterInvalid', /param 'refine_k' \(0.5\)/)
    assertKind(() => ix.search(queries, { k: 10, params: { refine_k: 'many' } }), 'ParameterInvalid', /invalid float value, key: 'refine_k'/)
    assertKind(() => ix.search(queries, { k: 10, radius: 5, params: { max_empty_result_buckets: 0 } }), 'ParameterInvalid')
    assertKind(() => ix.search(queries, { k: 0 }), 'ParameterInvalid')
    assertKind(() => ix.search(queries, { k: 5, radius: 1, rangeFilter: 2 }), 'ParameterInvalid', /range_filter must be less than radius/)
    assertKind(() => ix.search(f16(QUERIES.subarray(0, DIM)), { k: 1 }), 'ParameterInvalid', /vector type mismatch/)
    assertKind(() => ix.search({ type: 'FloatVector', dim: 3, data: new Float32Array(3) }, { k: 1 }), 'ParameterInvalid', /dimension mismatch/)
    // Huge refine_k and k are bounded by the rows, not allocated as asked.
    const pq = buildVectorIndex('IVF_PQ', data, 'L2', { nlist: '16', m: '8' })
    assert.equal(pq.search(queries, { k: 5, params: { refine_k: 3e38 } })[0]!.rows.length, 5)
    assert.deepEqual(pq.search(queries, { k: 1e6, params: { nprobe: 16 } })[0]!.rows.length, 500)
    // nprobe as a string, absent, or null (pymilvus's "default") is fine.
    for (const params of [{ nprobe: '4' }, {}, { nprobe: null }, { nprobe: 16, refine_k: '1.5' }]) {
      assert.equal(ix.search(queries, { k: 10, params })[0]!.rows.length, 10)
    }
  })

  it('reports progress, honours shouldStop, and aborts with ServiceUnavailable', () => {
    const progress: number[] = []
    buildIvfIndex(f32(BASE), 'L2', { nlist: '32', m: '8' }, { indexType: 'IVF_PQ', onProgress: (f) => progress.push(f) })
    assert.ok(progress.length >= 3)
    assert.equal(progress.at(-1), 1)
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!)
    let polls = 0
    assertKind(() => buildVectorIndex('IVF_FLAT', f32(BASE), 'L2', {}, { shouldStop: () => ++polls > 2 }), 'ServiceUnavailable', /aborted/)
  })
})
