import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Bitset } from '../common/bitset.js'
import { DbError } from '../common/errors.js'
import type { SparseRow, VectorColumn } from '../schema/columns.js'
import { recall, rng } from './ann-fixture.js'
import { bruteForceSearch, distance } from './brute-force.js'
import { buildVectorIndex, loadVectorIndex } from './index-factory.js'
import { buildSparseIndex, loadSparseIndex, SparseInvertedIndex } from './sparse-inverted-index.js'

const N = 3000
const VOCAB = 3000
const NQ = 60

/**
 * Seeded sparse rows with a skewed vocabulary (low dimensions frequent, like tokens), values in
 * (0, 1), optionally with a fifth of them negated (Milvus accepts any finite value).
 */
function sparse(seed: number, rows: number, maxNnz: number, negative = false): VectorColumn & { type: 'SparseFloatVector' } {
  const r = rng(seed)
  const data: SparseRow[] = []
  for (let i = 0; i < rows; i++) {
    const set = new Set<number>()
    const n = 1 + Math.floor(r() * maxNnz)
    while (set.size < n) set.add(Math.floor(r() * r() * VOCAB))
    const indices = Uint32Array.from([...set].sort((a, b) => a - b))
    data.push({ indices, values: Float32Array.from(indices, () => (negative && r() < 0.2 ? -1 : 1) * (r() + 0.01)) })
  }
  return { type: 'SparseFloatVector', data }
}

const DATA = sparse(1, N, 40)
const QUERIES = sparse(2, NQ, 12)
const ALGOS = ['TAAT_NAIVE', 'DAAT_WAND', 'DAAT_MAXSCORE', 'DAAT_BLOCKMAX_WAND', 'DAAT_BLOCKMAX_MAXSCORE'] as const

function randomAllow(rate: number, seed: number, size = N): Bitset {
  const r = rng(seed)
  const b = new Bitset(size)
  for (let i = 0; i < size; i++) if (r() < rate) b.set(i)
  return b
}

function assertKind(fn: () => unknown, kind: DbError['kind'], message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DbError, String(e))
    assert.equal(e.kind, kind, e.message)
    if (message !== undefined) assert.match(e.message, message)
    return true
  })
}

describe('sparse inverted index: exact without drop ratios', () => {
  for (const algo of ALGOS) {
    it(`${algo}: equals brute force bit for bit (k 1, 10, 100; negative values)`, () => {
      for (const [data, queries] of [
        [DATA, QUERIES],
        [sparse(3, N, 30, true), sparse(4, NQ, 10, true)],
      ] as const) {
        const idx = buildSparseIndex(data, 'IP', { inverted_index_algo: algo })
        assert.equal(idx.algo, algo)
        for (const k of [1, 10, 100]) {
          assert.deepEqual(idx.search(queries, { k }), bruteForceSearch(data, queries, { metric: 'IP', k }), `k ${k}`)
        }
      }
    })
  }

  it('SPARSE_WAND defaults to DAAT_WAND, the others to DAAT_MAXSCORE (Milvus 2.6)', () => {
    assert.equal(buildSparseIndex(DATA, 'IP', {}, { indexType: 'SPARSE_WAND' }).algo, 'DAAT_WAND')
    assert.equal(buildSparseIndex(DATA, 'IP', {}).algo, 'DAAT_MAXSCORE')
    const auto = buildVectorIndex('', DATA, 'IP', {})
    assert.ok(auto instanceof SparseInvertedIndex)
    assert.equal(auto.indexType, 'AUTOINDEX')
    assert.equal(auto.algo, 'DAAT_MAXSCORE')
    assert.equal(buildSparseIndex(DATA, 'IP', { inverted_index_algo: 'taat_naive' }).algo, 'TAAT_NAIVE')
  })

  for (const algo of ['TAAT_NAIVE', 'DAAT_WAND', 'DAAT_MAXSCORE'] as const) {
    it(`${algo}: filtered search at 50 %, 10 %, 1 %, one row and zero rows equals brute force`, () => {
      const idx = buildSparseIndex(DATA, 'IP', { inverted_index_algo: algo })
      for (const [i, rate] of [0.5, 0.1, 0.01].entries()) {
        const allow = randomAllow(rate, 20 + i)
        for (const k of [1, 10]) {
          assert.deepEqual(idx.search(QUERIES, { k, allow }), bruteForceSearch(DATA, QUERIES, { metric: 'IP', k, allow }), `rate ${rate} k ${k}`)
        }
      }
      const one = new Bitset(N)
      one.set(17)
      assert.deepEqual(idx.search(QUERIES, { k: 10, allow: one }), bruteForceSearch(DATA, QUERIES, { metric: 'IP', k: 10, allow: one }))
      assert.ok(idx.search(QUERIES, { k: 10, allow: new Bitset(N) }).every((h) => h.rows.length === 0))
      assert.deepEqual(
        idx.search(QUERIES, { k: 10, allow: Bitset.full(100) }),
        bruteForceSearch(DATA, QUERIES, { metric: 'IP', k: 10, allow: Bitset.full(100) }),
      )
    })
  }

  it('range search equals brute force (every algorithm accumulates term at a time for ranges)', () => {
    for (const algo of ['TAAT_NAIVE', 'DAAT_MAXSCORE'] as const) {
      const idx = buildSparseIndex(DATA, 'IP', { inverted_index_algo: algo })
      for (const opts of [
        { k: 50, radius: 0.5 },
        { k: 50, radius: 0.5, rangeFilter: 1.5 },
        { k: 5, radius: 0 },
      ]) {
        const truth = bruteForceSearch(DATA, QUERIES, { metric: 'IP', ...opts })
        assert.ok(truth.some((h) => h.rows.length > 0))
        assert.deepEqual(idx.search(QUERIES, opts), truth)
        const allow = randomAllow(0.3, 5)
        assert.deepEqual(idx.search(QUERIES, { ...opts, allow }), bruteForceSearch(DATA, QUERIES, { metric: 'IP', ...opts, allow }))
      }
    }
  })

  it('null rows are never indexed or returned; a null or empty query gets no hits', () => {
    const valid = Uint8Array.from({ length: N }, (_, i) => (i % 4 === 0 ? 0 : 1))
    const data: VectorColumn = { ...DATA, valid }
    const qValid = Uint8Array.from({ length: NQ }, (_, i) => (i === 3 ? 0 : 1))
    const queries: VectorColumn = { ...QUERIES, valid: qValid }
    for (const algo of ['TAAT_NAIVE', 'DAAT_WAND', 'DAAT_MAXSCORE'] as const) {
      const idx = buildSparseIndex(data, 'IP', { inverted_index_algo: algo })
      assert.equal(idx.indexed, N - N / 4)
      const got = idx.search(queries, { k: 20 })
      assert.deepEqual(got, bruteForceSearch(data, queries, { metric: 'IP', k: 20 }))
      assert.equal(got[3]!.rows.length, 0)
      assert.ok(got.every((h) => h.rows.every((r) => valid[r] === 1)))
    }
    const empty: VectorColumn = { type: 'SparseFloatVector', data: [{ indices: new Uint32Array(0), values: new Float32Array(0) }] }
    assert.equal(buildSparseIndex(DATA, 'IP').search(empty, { k: 5 })[0]!.rows.length, 0)
    // A column with no values at all, and an empty column.
    const blank = buildSparseIndex({ type: 'SparseFloatVector', data: [empty.data[0]!, empty.data[0]!] }, 'IP')
    assert.equal(blank.search(QUERIES, { k: 3 })[0]!.rows.length, 0)
    assert.equal(buildSparseIndex({ type: 'SparseFloatVector', data: [] }, 'IP').search(QUERIES, { k: 3 })[0]!.rows.length, 0)
  })
})

describe('sparse inverted index: drop ratios', () => {
  it('drop_ratio_build / drop_ratio_search: exact scores, recall close to exact, refine_factor helps', () => {
    const truth = bruteForceSearch(DATA, QUERIES, { metric: 'IP', k: 10 })
    for (const algo of ['TAAT_NAIVE', 'DAAT_WAND', 'DAAT_MAXSCORE'] as const) {
      const built = buildSparseIndex(DATA, 'IP', { inverted_index_algo: algo, drop_ratio_build: '0.2' })
      const exact = buildSparseIndex(DATA, 'IP', { inverted_index_algo: algo })
      for (const [idx, params] of [
        [built, {}],
        [exact, { drop_ratio_search: 0.3 }],
        [exact, { dim_max_score_ratio: 0.8 }],
      ] as const) {
        const got = idx.search(QUERIES, { k: 10, params })
        got.forEach((h, q) => h.rows.forEach((r, i) => assert.equal(h.scores[i], distance('IP', DATA, r, QUERIES, q))))
        const r1 = recall(got, truth)
        const r10 = recall(idx.search(QUERIES, { k: 10, params: { ...params, refine_factor: 10 } }), truth)
        assert.ok(r1 >= 0.7 && r10 >= r1 && r10 >= 0.9, `${algo} ${JSON.stringify(params)}: ${r1} ${r10}`)
      }
    }
  })

  it('drop_ratio_build drops each row\'s smallest values from the postings', () => {
    const row: SparseRow = { indices: Uint32Array.from([1, 2, 3, 4, 5]), values: Float32Array.from([0.5, 0.1, 0.9, 0.2, 0.7]) }
    const data: VectorColumn = { type: 'SparseFloatVector', data: [row] }
    const idx = buildSparseIndex(data, 'IP', { drop_ratio_build: '0.4' })
    const probe = (dim: number): number =>
      idx.search({ type: 'SparseFloatVector', data: [{ indices: Uint32Array.from([dim]), values: Float32Array.from([1]) }] }, { k: 1 })[0]!.rows.length
    // floor(0.4 * 5) = 2 smallest (0.1 at dim 2, 0.2 at dim 4) are not indexed.
    assert.deepEqual([1, 2, 3, 4, 5].map(probe), [1, 0, 1, 0, 1])
  })
})

describe('sparse inverted index: files and parameters', () => {
  it('round-trips through loadVectorIndex, with and without the column', () => {
    const data: VectorColumn = { ...DATA, valid: Uint8Array.from({ length: N }, (_, i) => (i % 9 === 0 ? 0 : 1)) }
    for (const [type, params] of [
      ['SPARSE_INVERTED_INDEX', { inverted_index_algo: 'DAAT_MAXSCORE' }],
      ['SPARSE_WAND', { drop_ratio_build: '0.1' }],
      ['AUTOINDEX', {}],
    ] as const) {
      const idx = buildVectorIndex(type, data, 'IP', params)
      const files = idx.serialize()
      const want = idx.search(QUERIES, { k: 10 })
      for (const back of [loadVectorIndex(files), loadVectorIndex(files, data), loadSparseIndex(files)]) {
        assert.ok(back instanceof SparseInvertedIndex)
        assert.equal(back.indexType, type)
        assert.deepEqual(back.params, params)
        assert.deepEqual(back.search(QUERIES, { k: 10 }), want)
      }
      const again = buildVectorIndex(type, data, 'IP', params).serialize()
      for (const [name, bytes] of files) assert.deepEqual(again.get(name), bytes, name)
    }
  })

  it('damaged files are DataCorrupted; a mismatched column is ParameterInvalid', () => {
    const files = buildSparseIndex(DATA, 'IP').serialize()
    const withFile = (name: string, bytes: Uint8Array | undefined): Map<string, Uint8Array> => {
      const m = new Map(files)
      if (bytes === undefined) m.delete(name)
      else m.set(name, bytes)
      return m
    }
    for (const name of ['sparse.postings', 'sparse.data', 'sparse.offsets']) {
      const b = files.get(name)!.slice()
      b[b.length >> 1]! ^= 0x20
      assertKind(() => loadVectorIndex(withFile(name, b)), 'DataCorrupted')
      assertKind(() => loadVectorIndex(withFile(name, undefined)), 'DataCorrupted')
    }
    const meta = JSON.parse(new TextDecoder().decode(files.get('sparse.meta.json'))) as Record<string, unknown>
    const bad = (patch: Record<string, unknown>): Map<string, Uint8Array> =>
      withFile('sparse.meta.json', new TextEncoder().encode(JSON.stringify({ ...meta, ...patch })))
    assertKind(() => loadVectorIndex(bad({ version: 9 })), 'DataCorrupted')
    assertKind(() => loadVectorIndex(bad({ dims: (meta.dims as number) - 1 })), 'DataCorrupted')
    assertKind(() => loadVectorIndex(bad({ params: { inverted_index_algo: 'BM25_MAGIC' } })), 'DataCorrupted', /invalid parameters/)
    assertKind(() => loadVectorIndex(bad({ indexType: 'HNSW' })), 'DataCorrupted')
    assertKind(() => loadVectorIndex(withFile('sparse.meta.json', new TextEncoder().encode('[]'))), 'DataCorrupted')
    assertKind(() => loadVectorIndex(files, sparse(1, 10, 3)), 'ParameterInvalid', /does not match/)
  })

  it('validates params with knowhere messages', () => {
    assertKind(() => buildVectorIndex('SPARSE_INVERTED_INDEX', DATA, 'IP', { drop_ratio_build: '1' }), 'ParameterInvalid', /param 'drop_ratio_build' \(1\) should be in range \[0, 1\)/)
    assertKind(() => buildVectorIndex('SPARSE_WAND', DATA, 'IP', { drop_ratio_build: '-0.1' }), 'ParameterInvalid')
    assertKind(() => buildVectorIndex('SPARSE_WAND', DATA, 'IP', { drop_ratio_build: 'lots' }), 'ParameterInvalid', /invalid float value/)
    assertKind(
      () => buildVectorIndex('SPARSE_INVERTED_INDEX', DATA, 'IP', { inverted_index_algo: 'BM25' }),
      'ParameterInvalid',
      /sparse inverted index algo BM25 not found or not supported, supported: \[TAAT_NAIVE DAAT_WAND DAAT_MAXSCORE/,
    )
    assertKind(() => buildVectorIndex('SPARSE_INVERTED_INDEX', DATA, 'L2', {}), 'ParameterInvalid', /metric type L2 is not valid/)
    assertKind(() => buildSparseIndex({ type: 'FloatVector', dim: 2, data: new Float32Array(2) }, 'IP'), 'IndexNotSupported')
    const idx = buildSparseIndex(DATA, 'IP')
    assertKind(() => idx.search(QUERIES, { k: 5, params: { drop_ratio_search: 1 } }), 'ParameterInvalid', /param 'drop_ratio_search' \(1\) should be in range \[0, 1\)/)
    assertKind(() => idx.search(QUERIES, { k: 5, params: { dim_max_score_ratio: 2 } }), 'ParameterInvalid', /\[0.5, 1.3\]/)
    assertKind(() => idx.search(QUERIES, { k: 5, params: { refine_factor: 0 } }), 'ParameterInvalid', /param 'refine_factor' \(0\)/)
    assertKind(() => idx.search(QUERIES, { k: 0 }), 'ParameterInvalid')
    assertKind(() => idx.search({ type: 'FloatVector', dim: 2, data: new Float32Array(2) }, { k: 1 }), 'ParameterInvalid', /vector type mismatch/)
    // Huge refine_factor and k are bounded by the rows, not allocated as asked.
    const approx = idx.search(QUERIES, { k: 1e6, params: { drop_ratio_search: 0.5, refine_factor: 2147483647 } })
    assert.ok(approx.every((h) => h.rows.length <= N))
    // Strings, nulls and knowhere's 1.05 default ratio are fine.
    assert.deepEqual(
      idx.search(QUERIES, { k: 5, params: { drop_ratio_search: '0', dim_max_score_ratio: 1.05, refine_factor: null } }),
      bruteForceSearch(DATA, QUERIES, { metric: 'IP', k: 5 }),
    )
  })
})
