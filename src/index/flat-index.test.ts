import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Bitset } from '../common/bitset.js'
import { DbError } from '../common/errors.js'
import type { VectorColumn } from '../schema/columns.js'
import { bruteForceSearch } from './brute-force.js'
import { buildFlatIndex, loadFlatIndex } from './flat-index.js'

const row = (ix: number[], vs: number[]) => ({ indices: Uint32Array.from(ix), values: Float32Array.from(vs) })

const COLUMNS: [VectorColumn, VectorColumn, 'L2' | 'IP' | 'COSINE' | 'HAMMING' | 'JACCARD'][] = [
  [
    { type: 'FloatVector', dim: 3, data: Float32Array.from([1, 0, 0, 0, 1, 0, 0.5, 0.5, 0, -1, 0, 0]), valid: Uint8Array.from([1, 1, 0, 1]) },
    { type: 'FloatVector', dim: 3, data: Float32Array.from([1, 0.1, 0]) },
    'L2',
  ],
  [
    { type: 'Float16Vector', dim: 2, data: Uint16Array.from([0x3c00, 0x0000, 0x0000, 0x3c00, 0xbc00, 0x3800]) },
    { type: 'Float16Vector', dim: 2, data: Uint16Array.from([0x3c00, 0x3c00]) },
    'COSINE',
  ],
  [
    { type: 'BFloat16Vector', dim: 2, data: Uint16Array.from([0x3f80, 0x4000, 0xbf80, 0x3f80]) },
    { type: 'BFloat16Vector', dim: 2, data: Uint16Array.from([0x3f80, 0x3f80]) },
    'IP',
  ],
  [
    { type: 'Int8Vector', dim: 2, data: Int8Array.from([1, 2, -3, 4, 5, -6]) },
    { type: 'Int8Vector', dim: 2, data: Int8Array.from([1, 1]) },
    'L2',
  ],
  [
    { type: 'BinaryVector', dim: 16, data: Uint8Array.from([0xff, 0x00, 0x0f, 0xf0, 0x01, 0x80]) },
    { type: 'BinaryVector', dim: 16, data: Uint8Array.from([0x0f, 0x00]) },
    'JACCARD',
  ],
  [
    { type: 'SparseFloatVector', data: [row([1, 7], [0.5, 2]), row([], []), row([7, 4000000000], [1, 3])], valid: Uint8Array.from([1, 0, 1]) },
    { type: 'SparseFloatVector', data: [row([7, 4000000000], [1, 1])] },
    'IP',
  ],
]

describe('FLAT index', () => {
  it('searches exactly like bruteForceSearch', () => {
    for (const [data, q, metric] of COLUMNS) {
      const idx = buildFlatIndex(data, metric)
      assert.equal(idx.indexType, 'FLAT')
      assert.equal(idx.metric, metric)
      const allow = Bitset.full(8)
      allow.clear(0)
      assert.deepEqual(idx.search(q, { k: 2 }), bruteForceSearch(data, q, { k: 2, metric }), data.type)
      assert.deepEqual(idx.search(q, { k: 10, allow }), bruteForceSearch(data, q, { k: 10, allow, metric }), data.type)
      // FLAT has no search params; any that are sent are ignored.
      assert.deepEqual(idx.search(q, { k: 10, params: { nprobe: 3 } }), bruteForceSearch(data, q, { k: 10, metric }))
    }
  })

  it('round-trips through serialize and loadFlatIndex', () => {
    for (const [data, q, metric] of COLUMNS) {
      const files = idxFiles(data, metric)
      // Copy each file to an odd offset, as slices of a larger download would be.
      const moved = new Map<string, Uint8Array>()
      for (const [name, bytes] of files) {
        const buf = new Uint8Array(bytes.length + 1)
        buf.set(bytes, 1)
        moved.set(name, buf.subarray(1))
      }
      const loaded = loadFlatIndex(moved)
      assert.equal(loaded.metric, metric)
      assert.deepEqual(loaded.search(q, { k: 5 }), buildFlatIndex(data, metric).search(q, { k: 5 }), data.type)
      assert.deepEqual(loaded.serialize(), files, data.type)
    }
  })

  it('rejects a metric the vector type does not support', () => {
    const [f] = COLUMNS[0]!
    assert.throws(() => buildFlatIndex(f, 'HAMMING'), (e: unknown) => e instanceof DbError && e.kind === 'ParameterInvalid')
  })

  it('reports damaged files as DataCorrupted', () => {
    const [f, , metric] = COLUMNS[0]!
    const files = idxFiles(f, metric)
    const corrupted = (m: Map<string, Uint8Array>): void =>
      assert.throws(() => loadFlatIndex(m), (e: unknown) => e instanceof DbError && e.kind === 'DataCorrupted')
    corrupted(new Map())
    corrupted(new Map([...files, ['flat.data', new Uint8Array(5)]]))
    corrupted(new Map([...files, ['flat.meta.json', new TextEncoder().encode('{')]]))
    corrupted(new Map([...files, ['flat.meta.json', new TextEncoder().encode('{"version":2}')]]))
    corrupted(new Map([...files, ['flat.valid', new Uint8Array(1)]]))
  })
})

function idxFiles(data: VectorColumn, metric: 'L2' | 'IP' | 'COSINE' | 'HAMMING' | 'JACCARD'): Map<string, Uint8Array> {
  // Copy out of the index's memory so the comparison cannot alias it.
  return new Map([...buildFlatIndex(data, metric).serialize()].map(([k, v]) => [k, v.slice()]))
}
