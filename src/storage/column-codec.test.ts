import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isDbError } from '../common/errors.js'
import type { Column } from '../schema/columns.js'
import { decodeColumn, encodeColumn } from './column-codec.js'
import { decodeDeltaLog, decodeInsertLog, encodeDeltaLog, encodeInsertLog } from './binlog.js'

const COLUMNS: Column[] = [
  { type: 'Bool', data: Uint8Array.of(1, 0, 1) },
  { type: 'Int8', data: Int8Array.of(-128, 0, 127), valid: Uint8Array.of(1, 0, 1) },
  { type: 'Int16', data: Int16Array.of(-1, 2, 3) },
  { type: 'Int32', data: Int32Array.of(-2147483648, 0, 2147483647) },
  { type: 'Int64', data: BigInt64Array.of(-(2n ** 63n), 0n, 2n ** 63n - 1n) },
  { type: 'Float', data: Float32Array.of(1.5, Number.NaN, -0) },
  { type: 'Double', data: Float64Array.of(1e300, 0.1, -2) },
  { type: 'VarChar', data: ['', 'héllo', '日本'] },
  { type: 'JSON', data: [{ a: [1, { b: null }] }, null, 'x'] },
  { type: 'Array', elementType: 'Int64', data: [[1n, 9007199254740993n], [], [-5n]] },
  { type: 'Array', elementType: 'VarChar', data: [['a'], ['b', 'c'], []] },
  { type: 'FloatVector', dim: 2, data: Float32Array.of(1, 2, 3, 4, 5, 6) },
  { type: 'BinaryVector', dim: 16, data: Uint8Array.of(1, 2, 3, 4, 5, 6) },
  { type: 'Float16Vector', dim: 1, data: Uint16Array.of(0x3c00, 0, 0xffff) },
  { type: 'BFloat16Vector', dim: 1, data: Uint16Array.of(0x3f80, 1, 2) },
  { type: 'Int8Vector', dim: 2, data: Int8Array.of(-1, 2, -3, 4, -5, 6) },
  {
    type: 'SparseFloatVector',
    data: [
      { indices: Uint32Array.of(1, 7), values: Float32Array.of(0.5, 2) },
      { indices: new Uint32Array(0), values: new Float32Array(0) },
      { indices: Uint32Array.of(4294967294), values: Float32Array.of(-1) },
    ],
  },
]

describe('column codec', () => {
  for (const col of COLUMNS) {
    it(`round-trips ${col.type}${col.type === 'Array' ? `<${col.elementType}>` : ''}`, () => {
      const back = decodeColumn(encodeColumn(col))
      assert.deepEqual(back, col)
      const fromLog = decodeInsertLog('k', encodeInsertLog(col))
      assert.deepEqual(fromLog, col)
    })
  }

  it('detects truncation and bit flips in binlogs', () => {
    const bytes = encodeInsertLog(COLUMNS[11]!)
    assert.throws(() => decodeInsertLog('k', bytes.subarray(0, bytes.length - 1)), (e) => isDbError(e, 'DataCorrupted'))
    const flipped = bytes.slice()
    flipped[flipped.length - 2]! ^= 0x10
    assert.throws(() => decodeInsertLog('seg/1', flipped), (e) => isDbError(e, 'DataCorrupted') && /seg\/1/.test(e.message))
  })

  it('round-trips deltalogs for both key types', () => {
    const a = decodeDeltaLog('d', encodeDeltaLog(BigInt64Array.of(1n, 2n), BigInt64Array.of(10n, 11n)))
    assert.deepEqual([...a.pks], [1n, 2n])
    assert.deepEqual([...a.ts], [10n, 11n])
    const b = decodeDeltaLog('d', encodeDeltaLog(['x', 'y'], BigInt64Array.of(3n, 4n)))
    assert.deepEqual(b.pks, ['x', 'y'])
  })
})
