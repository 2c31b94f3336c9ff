import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import sdk from '@zilliz/milvus2-sdk-node'
import { loadMilvusProto } from './milvus-proto.js'
import { DbError } from '../common/errors.js'
import type { Column, ColumnOf } from './columns.js'
import {
  concatColumns,
  decodeInsertData,
  decodePlaceholderVectors,
  emptyColumn,
  encodeDynamicField,
  encodeFieldData,
  encodeIds,
  takeRows,
  type DecodedBatch,
} from './field-data.js'
import { decodeCollectionSchema } from './schema-codec.js'
import type { CollectionSchema, FieldSchema } from './types.js'

const P = loadMilvusProto()
const FD = 'milvus.proto.schema.FieldData'
type Obj = Record<string, unknown>

// ---------------------------------------------------------------------------------------------
// Fixtures

const kv = (params: Record<string, string | number>) => Object.entries(params).map(([key, value]) => ({ key, value: String(value) }))

function makeSchema(fields: Obj[], extra: Obj = {}): CollectionSchema {
  return decodeCollectionSchema(P.encode('milvus.proto.schema.CollectionSchema', { name: 'c', fields, ...extra }), 'c')
}

/** Every scalar type plus four dense vector types (Milvus allows 4 vector fields). */
const scalars = makeSchema(
  [
    { name: 'id', data_type: 'Int64', is_primary_key: true },
    { name: 'fv', data_type: 'FloatVector', type_params: kv({ dim: 4 }) },
    { name: 'bv', data_type: 'BinaryVector', type_params: kv({ dim: 16 }) },
    { name: 'hv', data_type: 'Float16Vector', type_params: kv({ dim: 3 }) },
    { name: 'bf', data_type: 'BFloat16Vector', type_params: kv({ dim: 2 }) },
    { name: 'b', data_type: 'Bool' },
    { name: 'i8', data_type: 'Int8' },
    { name: 'i16', data_type: 'Int16' },
    { name: 'i32', data_type: 'Int32' },
    { name: 'i64', data_type: 'Int64' },
    { name: 'f', data_type: 'Float' },
    { name: 'd', data_type: 'Double' },
    { name: 's', data_type: 'VarChar', type_params: kv({ max_length: 6 }) },
    { name: 'j', data_type: 'JSON' },
    { name: 'ai', data_type: 'Array', element_type: 'Int32', type_params: kv({ max_capacity: 3 }) },
    { name: 'al', data_type: 'Array', element_type: 'Int64', type_params: kv({ max_capacity: 3 }) },
    { name: 'as', data_type: 'Array', element_type: 'VarChar', type_params: kv({ max_capacity: 3, max_length: 3 }) },
    { name: 'ab', data_type: 'Array', element_type: 'Bool', type_params: kv({ max_capacity: 3 }) },
    { name: 'ad', data_type: 'Array', element_type: 'Double', type_params: kv({ max_capacity: 3 }) },
    { name: 'a8', data_type: 'Array', element_type: 'Int8', type_params: kv({ max_capacity: 3 }) },
  ],
  { enable_dynamic_field: true },
)

const others = makeSchema([
  { name: 'pk', data_type: 'VarChar', is_primary_key: true, type_params: kv({ max_length: 4 }) },
  { name: 'iv', data_type: 'Int8Vector', type_params: kv({ dim: 3 }) },
  { name: 'sv', data_type: 'SparseFloatVector' },
])

const nullables = makeSchema([
  { name: 'id', data_type: 'Int64', is_primary_key: true, autoID: true },
  { name: 'v', data_type: 'FloatVector', type_params: kv({ dim: 2 }) },
  { name: 'n64', data_type: 'Int64', nullable: true },
  { name: 'ns', data_type: 'VarChar', type_params: kv({ max_length: 8 }), nullable: true },
  { name: 'nj', data_type: 'JSON', nullable: true },
  { name: 'na', data_type: 'Array', element_type: 'Int32', type_params: kv({ max_capacity: 4 }), nullable: true },
  { name: 'nb', data_type: 'Bool', nullable: true },
  { name: 'def', data_type: 'Int16', default_value: { int_data: 7 } },
  { name: 'ndef', data_type: 'VarChar', type_params: kv({ max_length: 8 }), nullable: true, default_value: { string_data: 'dflt' } },
])

const fieldOf = (s: CollectionSchema, n: string): FieldSchema => s.fields.find((f) => f.name === n)!

/** A wire object in the server's conventions: through real protobuf bytes and toObject. */
const wire = (o: Obj): Obj => P.decode(FD, P.encode(FD, o))
const scalarFD = (name: string, type: string, key: string, data: unknown, valid: boolean[] = []): Obj =>
  wire({ type, field_name: name, scalars: { [key]: key === 'array_data' ? data : { data } }, valid_data: valid })
const vectorFD = (name: string, type: string, dim: number, key: string, payload: unknown): Obj =>
  wire({ type, field_name: name, vectors: { dim, [key]: payload } })
const arrayFD = (name: string, et: string, key: string, rows: unknown[][], valid: boolean[] = []): Obj =>
  scalarFD(name, 'Array', 'array_data', { element_type: et, data: rows.map((r) => ({ [key]: { data: r } })) }, valid)
const jsonFD = (name: string, rows: unknown[], valid: boolean[] = [], dynamic = false): Obj =>
  wire({
    type: 'JSON',
    field_name: name,
    is_dynamic: dynamic,
    scalars: { json_data: { data: rows.map((r) => (r instanceof Uint8Array ? r : Buffer.from(JSON.stringify(r)))) } },
    valid_data: valid,
  })

/** What the Node SDK makes of our result FieldData (its own decoding code, after protobuf). */
function sdkView(fieldsData: Obj[]): Map<string, unknown[]> {
  return sdk.buildFieldDataMap(fieldsData.map((f) => wire(f)) as never) as Map<string, unknown[]>
}

function expectError(fn: () => unknown, pattern: RegExp, kind = 'ParameterInvalid'): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DbError, `expected DbError, got ${String(e)}`)
    assert.equal(e.kind, kind, e.message)
    assert.match(e.message, pattern)
    return true
  })
}

// Row values, as the user would give them to the SDK.
const ROWS = 3
const fvRows = [
  [1, 2, 3, 4],
  [0.5, -1, 0, 2],
  [9, 8, 7, 6],
]
const bvRows = [
  [1, 2],
  [255, 0],
  [16, 128],
]
const hvRows = [
  [1.5, -2, 0.25],
  [0, 1, 2],
  [65504, -1, 0.5],
]
const bfRows = [
  [1, -2],
  [3.5, 0],
  [256, -0.125],
]

function scalarsBatchInput(): Obj[] {
  return [
    scalarFD('id', 'Int64', 'long_data', ['1', '9007199254740993', '-9223372036854775808']),
    vectorFD('fv', 'FloatVector', 4, 'float_vector', { data: fvRows.flat() }),
    vectorFD('bv', 'BinaryVector', 16, 'binary_vector', sdk.f32ArrayToBinaryBytes(bvRows.flat())),
    vectorFD('hv', 'Float16Vector', 3, 'float16_vector', Buffer.concat(hvRows.map((r) => sdk.f32ArrayToF16Bytes(r)))),
    vectorFD('bf', 'BFloat16Vector', 2, 'bfloat16_vector', Buffer.concat(bfRows.map((r) => sdk.f32ArrayToBf16Bytes(r)))),
    scalarFD('b', 'Bool', 'bool_data', [true, false, true]),
    scalarFD('i8', 'Int8', 'int_data', [-128, 0, 127]),
    scalarFD('i16', 'Int16', 'int_data', [-32768, 5, 32767]),
    scalarFD('i32', 'Int32', 'int_data', [-2147483648, 6, 2147483647]),
    scalarFD('i64', 'Int64', 'long_data', ['9223372036854775807', '0', '-42']),
    scalarFD('f', 'Float', 'float_data', [1.5, -2.25, 0]),
    scalarFD('d', 'Double', 'double_data', [1e300, -0.1, 3]),
    scalarFD('s', 'VarChar', 'string_data', ['ab', 'héllo', '']),
    jsonFD('j', [{ a: 1, b: [true, null] }, [1, 2], 'str']),
    arrayFD('ai', 'Int32', 'int_data', [[1, 2, 3], [], [-7]]),
    arrayFD('al', 'Int64', 'long_data', [['9007199254740993'], ['-1', '2'], []]),
    arrayFD('as', 'VarChar', 'string_data', [['a', 'bcd'], [''], []]),
    arrayFD('ab', 'Bool', 'bool_data', [[true], [false, true], []]),
    arrayFD('ad', 'Double', 'double_data', [[0.1], [], [1e-300, 2]]),
    arrayFD('a8', 'Int8', 'int_data', [[-128, 127], [], [0]]),
    jsonFD('$meta', [{ x: 1 }, {}, { y: 'z', w: [1] }], [], true),
  ]
}

const decodeScalars = (input: Obj[] = scalarsBatchInput(), mode: 'insert' | 'upsert' = 'insert'): DecodedBatch =>
  decodeInsertData(scalars, input, ROWS, { mode })

// ---------------------------------------------------------------------------------------------

describe('decodeInsertData + encodeFieldData round trip', () => {
  it('decodes every scalar and dense vector type into typed columns', () => {
    const b = decodeScalars()
    assert.equal(b.numRows, 3)
    assert.equal(b.columns.size, scalars.fields.length)
    assert.deepEqual(b.primaryKeys, BigInt64Array.from([1n, 9007199254740993n, -9223372036854775808n]))
    const col = (n: string) => b.columns.get(n)!
    assert.deepEqual(col('b'), { type: 'Bool', data: Uint8Array.from([1, 0, 1]) })
    assert.deepEqual(col('i8'), { type: 'Int8', data: Int8Array.from([-128, 0, 127]) })
    assert.deepEqual(col('i64').data, BigInt64Array.from([9223372036854775807n, 0n, -42n]))
    assert.deepEqual(col('f'), { type: 'Float', data: Float32Array.from([1.5, -2.25, 0]) })
    assert.deepEqual(col('s').data, ['ab', 'héllo', ''])
    assert.deepEqual(col('j').data, [{ a: 1, b: [true, null] }, [1, 2], 'str'])
    assert.deepEqual(col('al'), { type: 'Array', elementType: 'Int64', data: [[9007199254740993n], [-1n, 2n], []] })
    assert.deepEqual(col('fv'), { type: 'FloatVector', dim: 4, data: Float32Array.from(fvRows.flat()) })
    assert.deepEqual(col('bv'), { type: 'BinaryVector', dim: 16, data: Uint8Array.from(bvRows.flat()) })
    const hv = col('hv') as ColumnOf<'Float16Vector'>
    assert.equal(hv.dim, 3)
    assert.equal(hv.data.length, 9)
    assert.deepEqual(col('$meta').data, [{ x: 1 }, {}, { y: 'z', w: [1] }])
    for (const c of b.columns.values()) assert.equal(c.valid, undefined)
  })

  it('encodes every column so the SDK reads back the original values', () => {
    const b = decodeScalars()
    const out = scalars.fields.map((f) => encodeFieldData(f, b.columns.get(f.name)!))
    const view = sdkView(out)
    assert.deepEqual(view.get('id'), ['1', '9007199254740993', '-9223372036854775808'])
    assert.deepEqual(view.get('fv'), fvRows)
    assert.deepEqual(view.get('bv'), bvRows)
    assert.deepEqual(view.get('hv'), hvRows)
    assert.deepEqual(view.get('bf'), bfRows)
    assert.deepEqual(view.get('b'), [true, false, true])
    assert.deepEqual(view.get('i8'), [-128, 0, 127])
    assert.deepEqual(view.get('i16'), [-32768, 5, 32767])
    assert.deepEqual(view.get('i32'), [-2147483648, 6, 2147483647])
    assert.deepEqual(view.get('i64'), ['9223372036854775807', '0', '-42'])
    assert.deepEqual(view.get('f'), [1.5, -2.25, 0])
    assert.deepEqual(view.get('d'), [1e300, -0.1, 3])
    assert.deepEqual(view.get('s'), ['ab', 'héllo', ''])
    assert.deepEqual(view.get('j'), [{ a: 1, b: [true, null] }, [1, 2], 'str'])
    assert.deepEqual(view.get('ai'), [[1, 2, 3], [], [-7]])
    assert.deepEqual(view.get('al'), [['9007199254740993'], ['-1', '2'], []])
    assert.deepEqual(view.get('as'), [['a', 'bcd'], [''], []])
    assert.deepEqual(view.get('ab'), [[true], [false, true], []])
    assert.deepEqual(view.get('ad'), [[0.1], [], [1e-300, 2]])
    assert.deepEqual(view.get('a8'), [[-128, 127], [], [0]])
    assert.deepEqual(view.get('$meta'), [{ x: 1 }, {}, { y: 'z', w: [1] }])
    // Non-nullable fields carry no valid_data; field ids and dims are set.
    for (const fd of out) assert.deepEqual(fd['valid_data'], [])
    const fv = wire(out[1]!)
    assert.equal(fv['field_id'], '101')
    assert.equal((fv['vectors'] as Obj)['dim'], '4')
  })

  it('round-trips Int8 and sparse vectors and a VarChar primary key', () => {
    const iv = [
      [-128, 0, 127],
      [1, 2, 3],
    ]
    const sparse = [{ 3: 0.5, 10: -1.25 }, {}]
    const input = [
      scalarFD('pk', 'VarChar', 'string_data', ['a', 'b']),
      vectorFD('iv', 'Int8Vector', 3, 'int8_vector', sdk.int8VectorRowsToBytes(iv)),
      vectorFD('sv', 'SparseFloatVector', 0, 'sparse_float_vector', { dim: 11, contents: sdk.sparseRowsToBytes(sparse as never) }),
    ]
    const b = decodeInsertData(others, input, 2, { mode: 'insert' })
    assert.deepEqual(b.primaryKeys, ['a', 'b'])
    const sv = b.columns.get('sv') as ColumnOf<'SparseFloatVector'>
    assert.deepEqual(sv.data[0], { indices: Uint32Array.from([3, 10]), values: Float32Array.from([0.5, -1.25]) })
    assert.equal(sv.data[1]!.indices.length, 0)
    const out = others.fields.map((f) => encodeFieldData(f, b.columns.get(f.name)!))
    const view = sdkView(out)
    assert.deepEqual(view.get('pk'), ['a', 'b'])
    // The SDK itself reads int8 vectors back as unsigned bytes (Array.from over a Buffer slice).
    assert.deepEqual(view.get('iv'), iv.map((r) => r.map((x) => x & 0xff)))
    assert.deepEqual(view.get('sv'), [{ 3: 0.5, 10: -1.25 }, {}])
    assert.equal((wire(out[2]!)['vectors'] as Obj)['dim'], '11')
  })

  it('sorts sparse indices and rejects repeated ones', () => {
    const rows = [sdk.sparseToBytes([{ index: 9, value: 1 }, { index: 2, value: 2 }])]
    const fd = () => vectorFD('sv', 'SparseFloatVector', 0, 'sparse_float_vector', { dim: 10, contents: rows })
    const b = decodeInsertData(others, [scalarFD('pk', 'VarChar', 'string_data', ['a']), vectorFD('iv', 'Int8Vector', 3, 'int8_vector', Buffer.from([1, 2, 3])), fd()], 1, { mode: 'insert' })
    assert.deepEqual((b.columns.get('sv') as ColumnOf<'SparseFloatVector'>).data[0], { indices: Uint32Array.from([2, 9]), values: Float32Array.from([2, 1]) })
    rows[0] = sdk.sparseToBytes([{ index: 4, value: 1 }, { index: 4, value: 2 }])
    expectError(
      () => decodeInsertData(others, [scalarFD('pk', 'VarChar', 'string_data', ['a']), vectorFD('iv', 'Int8Vector', 3, 'int8_vector', Buffer.from([1, 2, 3])), fd()], 1, { mode: 'insert' }),
      /same indices in sparse float vector/,
    )
  })
})

describe('nullable and default values', () => {
  const vRows = (n: number) => vectorFD('v', 'FloatVector', 2, 'float_vector', { data: Array.from({ length: 2 * n }, (_, i) => i) })
  const alloc = (n: number) => Array.from({ length: n }, (_, i) => BigInt(1000 + i))
  const run = (fds: Obj[], n = 3): DecodedBatch => decodeInsertData(nullables, [vRows(n), ...fds], n, { mode: 'insert', allocateIds: alloc })

  it('expands compact data with valid_data and encodes it back full length', () => {
    const b = run([
      scalarFD('n64', 'Int64', 'long_data', ['1', '3'], [true, false, true]),
      scalarFD('ns', 'VarChar', 'string_data', ['x'], [false, true, false]),
      jsonFD('nj', [{ k: 1 }], [false, false, true]),
      arrayFD('na', 'Int32', 'int_data', [[1], [2, 3]], [true, true, false]),
      scalarFD('nb', 'Bool', 'bool_data', [], [false, false, false]),
    ])
    assert.deepEqual(b.primaryKeys, BigInt64Array.from([1000n, 1001n, 1002n]))
    const n64 = b.columns.get('n64')!
    assert.deepEqual(n64, { type: 'Int64', data: BigInt64Array.from([1n, 0n, 3n]), valid: Uint8Array.from([1, 0, 1]) })
    assert.deepEqual(b.columns.get('ns'), { type: 'VarChar', data: ['', 'x', ''], valid: Uint8Array.from([0, 1, 0]) })
    assert.deepEqual(b.columns.get('nj'), { type: 'JSON', data: [null, null, { k: 1 }], valid: Uint8Array.from([0, 0, 1]) })
    assert.deepEqual(b.columns.get('na'), { type: 'Array', elementType: 'Int32', data: [[1], [2, 3], []], valid: Uint8Array.from([1, 1, 0]) })
    assert.deepEqual(b.columns.get('nb'), { type: 'Bool', data: new Uint8Array(3), valid: new Uint8Array(3) })

    const names = ['n64', 'ns', 'nj', 'na', 'nb']
    const out = names.map((n) => encodeFieldData(fieldOf(nullables, n), b.columns.get(n)!))
    assert.deepEqual(wire(out[0]!)['valid_data'], [true, false, true])
    assert.deepEqual(((wire(out[0]!)['scalars'] as Obj)['long_data'] as Obj)['data'], ['1', '0', '3'])
    const view = sdkView(out)
    assert.deepEqual(view.get('n64'), ['1', null, '3'])
    assert.deepEqual(view.get('ns'), [null, 'x', null])
    assert.deepEqual(view.get('nj'), [null, null, { k: 1 }])
    assert.deepEqual(view.get('na'), [[1], [2, 3], null])
    assert.deepEqual(view.get('nb'), [null, null, null])
  })

  it('treats empty valid_data on a nullable field as all valid, and missing columns as all NULL', () => {
    const b = run([scalarFD('n64', 'Int64', 'long_data', ['4', '5', '6'])])
    assert.deepEqual(b.columns.get('n64'), { type: 'Int64', data: BigInt64Array.from([4n, 5n, 6n]), valid: Uint8Array.from([1, 1, 1]) })
    assert.deepEqual(b.columns.get('ns'), { type: 'VarChar', data: ['dflt', 'dflt', 'dflt'].map(() => ''), valid: new Uint8Array(3) })
    assert.deepEqual(b.columns.get('na')!.valid, new Uint8Array(3))
    assert.deepEqual(b.columns.get('nj')!.data, [null, null, null])
  })

  it('fills defaults for NULL rows and for a missing column', () => {
    const b = run([
      scalarFD('def', 'Int16', 'int_data', [1, 3], [true, false, true]),
      scalarFD('ndef', 'VarChar', 'string_data', ['a'], [false, true, false]),
    ])
    // Non-nullable default field: no valid array at all.
    assert.deepEqual(b.columns.get('def'), { type: 'Int16', data: Int16Array.from([1, 7, 3]) })
    // Nullable + default: NULL inputs take the default and become valid.
    assert.deepEqual(b.columns.get('ndef'), { type: 'VarChar', data: ['dflt', 'a', 'dflt'], valid: Uint8Array.from([1, 1, 1]) })
    const missing = run([])
    assert.deepEqual(missing.columns.get('def'), { type: 'Int16', data: Int16Array.from([7, 7, 7]) })
    assert.deepEqual(missing.columns.get('ndef')!.data, ['dflt', 'dflt', 'dflt'])
    // Default field sent in full without valid_data.
    assert.deepEqual(run([scalarFD('def', 'Int16', 'int_data', [4, 5, 6])]).columns.get('def')!.data, Int16Array.from([4, 5, 6]))
  })

  it('treats empty JSON bytes as NULL (the SDK sends them for falsy values)', () => {
    const b = run([jsonFD('nj', [Buffer.alloc(0), { a: 1 }, Buffer.alloc(0)], [true, true, true])])
    assert.deepEqual(b.columns.get('nj'), { type: 'JSON', data: [null, { a: 1 }, null], valid: Uint8Array.from([0, 1, 0]) })
  })

  it('property: any valid_data pattern survives decode, encode and the SDK', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: -1000, max: 1000 }), { nil: null }), { minLength: 1, maxLength: 40 }), (vals) => {
        const valid = vals.map((v) => v !== null)
        const compact = vals.filter((v): v is number => v !== null).map(String)
        const b = run([scalarFD('n64', 'Int64', 'long_data', compact, valid)], vals.length)
        const view = sdkView([encodeFieldData(fieldOf(nullables, 'n64'), b.columns.get('n64')!)])
        assert.deepEqual(view.get('n64'), vals.map((v) => (v === null ? null : String(v))))
      }),
      { numRuns: 60 },
    )
  })

  it('rejects bad valid_data', () => {
    expectError(() => run([scalarFD('n64', 'Int64', 'long_data', ['1'], [true, false])]), /the length of valid_data of field\(n64\) is wrong/)
    expectError(() => run([scalarFD('n64', 'Int64', 'long_data', ['1', '2'], [true, false, false])]), /length of field \(n64\) is wrong: valid_data has 1 valid rows but 2 values/)
    expectError(() => run([scalarFD('def', 'Int16', 'int_data', [1, 2, 3], [true, false, true])]), /length of field \(def\) is wrong/)
    expectError(
      () => decodeScalars(scalarsBatchInput().map((f) => (f['field_name'] === 'i32' ? scalarFD('i32', 'Int32', 'int_data', [1, 2], [true, false, true]) : f))),
      /field i32 is not nullable but valid_data marks row 1 as null/,
    )
    expectError(
      () => run([]).columns && decodeInsertData(nullables, [wire({ type: 'FloatVector', field_name: 'v', vectors: { dim: 2, float_vector: { data: [1, 2, 3, 4, 5, 6] } }, valid_data: [true, false, true] })], 3, { mode: 'insert', allocateIds: alloc }),
      /vector type not support null, field name = v/,
    )
  })
})

describe('decodeInsertData validation', () => {
  const replace = (name: string, fd: Obj | undefined): Obj[] => {
    const list = scalarsBatchInput().filter((f) => f['field_name'] !== name && !(name === '$meta' && f['is_dynamic']))
    return fd ? [...list, fd] : list
  }

  it('requires num_rows > 0 and matching column lengths', () => {
    expectError(() => decodeInsertData(scalars, scalarsBatchInput(), 0, { mode: 'insert' }), /num_rows should be greater than 0/)
    expectError(() => decodeScalars(replace('i8', scalarFD('i8', 'Int8', 'int_data', [1, 2]))), /the num_rows \(2\) of field \(i8\) is not equal to passed num_rows \(3\)/)
    expectError(() => decodeScalars(replace('fv', vectorFD('fv', 'FloatVector', 4, 'float_vector', { data: [1, 2, 3, 4] }))), /the num_rows \(1\) of field \(fv\) is not equal to passed num_rows \(3\)/)
    expectError(() => decodeScalars(replace('s', scalarFD('s', 'VarChar', 'string_data', []))), /the num_rows \(0\) of field \(s\)/)
  })

  it('requires every non-nullable field without a default', () => {
    expectError(() => decodeScalars(replace('d', undefined)), /fieldSchema\(d\) has no corresponding fieldData pass in/)
    expectError(() => decodeScalars(replace('id', undefined)), /fieldSchema\(id\) has no corresponding fieldData pass in/)
  })

  it('fills {} for a missing $meta and rejects extra or duplicated columns', () => {
    assert.deepEqual(decodeScalars(replace('$meta', undefined)).columns.get('$meta')!.data, [{}, {}, {}])
    expectError(() => decodeScalars(replace('zz', scalarFD('zz', 'Bool', 'bool_data', [true, true, true]))), /field zz does not exist/, 'FieldNotFound')
    expectError(() => decodeScalars([...scalarsBatchInput(), scalarFD('b', 'Bool', 'bool_data', [true, true, true])]), /duplicated field b found/)
    const noDyn = makeSchema([
      { name: 'id', data_type: 'Int64', is_primary_key: true },
      { name: 'v', data_type: 'FloatVector', type_params: kv({ dim: 2 }) },
    ])
    expectError(
      () => decodeInsertData(noDyn, [scalarFD('id', 'Int64', 'long_data', ['1']), vectorFD('v', 'FloatVector', 2, 'float_vector', { data: [1, 2] }), jsonFD('$meta', [{}], [], true)], 1, { mode: 'insert' }),
      /without dynamic schema enabled, the field name cannot be set to \$meta/,
    )
  })

  it('validates $meta rows', () => {
    expectError(() => decodeScalars(replace('$meta', jsonFD('$meta', [{}, [1], {}], [], true))), /only json map is supported: row 1/)
    expectError(() => decodeScalars(replace('$meta', jsonFD('$meta', [{}, {}, Buffer.from('{bad')], [], true))), /only json map is supported: row 2/)
    expectError(() => decodeScalars(replace('$meta', jsonFD('$meta', [{}, { i8: 1 }, {}], [], true))), /dynamic field name cannot include the static field name: i8/)
    expectError(() => decodeScalars(replace('$meta', jsonFD('$meta', [{ $meta: 1 }, {}, {}], [], true))), /cannot set json key to: \$meta/)
    expectError(() => decodeScalars(replace('$meta', jsonFD('$meta', [{ x: 'y'.repeat(70000) }, {}, {}], [], true))), /length \(\d+\) of dynamic field exceeds max length \(65536\)/)
  })

  it('handles autoID and upsert primary keys', () => {
    const v = vectorFD('v', 'FloatVector', 2, 'float_vector', { data: [1, 2] })
    const idCol = scalarFD('id', 'Int64', 'long_data', ['5'])
    expectError(() => decodeInsertData(nullables, [v, idCol], 1, { mode: 'insert', allocateIds: () => [1n] }), /can not assign primary field data when auto id enabled id/)
    expectError(() => decodeInsertData(nullables, [v], 1, { mode: 'upsert' }), /must assign pk when upsert, primary field: id/)
    const up = decodeInsertData(nullables, [v, idCol], 1, { mode: 'upsert' })
    assert.deepEqual(up.primaryKeys, BigInt64Array.from([5n]))
    expectError(() => decodeInsertData(nullables, [v], 1, { mode: 'insert' }), /no id allocator/, 'ServiceInternal')
    const dup = scalarsBatchInput().map((f) => (f['field_name'] === 'id' ? scalarFD('id', 'Int64', 'long_data', ['1', '2', '1']) : f))
    assert.equal(decodeScalars(dup).numRows, 3) // insert allows repeated keys, as Milvus does
    expectError(() => decodeScalars(dup, 'upsert'), /duplicate primary keys are not allowed in the same batch/)
    // An autoID VarChar key is generated as the decimal id.
    const vs = makeSchema([
      { name: 'k', data_type: 'VarChar', is_primary_key: true, autoID: true, type_params: kv({ max_length: 2 }) },
      { name: 'v', data_type: 'FloatVector', type_params: kv({ dim: 2 }) },
    ])
    assert.deepEqual(decodeInsertData(vs, [v], 1, { mode: 'insert', allocateIds: () => [449000000000000001n] }).primaryKeys, ['449000000000000001'])
  })

  it('checks that the payload matches the schema type', () => {
    expectError(() => decodeScalars(replace('i32', scalarFD('i32', 'Int32', 'long_data', ['1', '2', '3']))), /field i32 of type Int32 expects int_data but got long_data/)
    expectError(() => decodeScalars(replace('i32', scalarFD('i32', 'Int64', 'long_data', ['1', '2', '3']))), /data type \(Int64\) of field data \(i32\) does not match schema data type \(Int32\)/)
    expectError(() => decodeScalars(replace('fv', vectorFD('fv', 'FloatVector', 32, 'binary_vector', Buffer.alloc(12)))), /field fv of type FloatVector expects float_vector but got binary_vector/)
    expectError(() => decodeScalars(replace('b', vectorFD('b', 'Bool', 4, 'float_vector', { data: [1, 2, 3, 4] }))), /field b of type Bool expects scalar bool_data but got vector data/)
    expectError(() => decodeScalars(replace('b', wire({ type: 'Bool', field_name: 'b' }))), /field 'b' is illegal, array type mismatch/)
  })

  it('checks integer ranges, NaN and Inf', () => {
    expectError(() => decodeScalars(replace('i8', scalarFD('i8', 'Int8', 'int_data', [1, 128, 3]))), /the 1th element \(128\) of field i8 out of range: \[-128, 127\]/)
    expectError(() => decodeScalars(replace('i16', scalarFD('i16', 'Int16', 'int_data', [-32769, 1, 3]))), /\(-32769\) of field i16 out of range: \[-32768, 32767\]/)
    expectError(() => decodeScalars(replace('f', scalarFD('f', 'Float', 'float_data', [1, NaN, 3]))), /value 'NaN' of field f at row 1 is not a number or infinity/)
    expectError(() => decodeScalars(replace('d', scalarFD('d', 'Double', 'double_data', [1, 2, Infinity]))), /field d at row 2 is not a number or infinity/)
    expectError(() => decodeScalars(replace('fv', vectorFD('fv', 'FloatVector', 4, 'float_vector', { data: [...fvRows[0]!, ...fvRows[1]!, 1, 2, NaN, 4] }))), /float vector field fv row 2: value 'NaN'/)
    const nanHalf = Buffer.concat([sdk.f32ArrayToF16Bytes([1, 2, 3]), sdk.f32ArrayToF16Bytes([1, Infinity, 3]), sdk.f32ArrayToF16Bytes([1, 2, 3])])
    expectError(() => decodeScalars(replace('hv', vectorFD('hv', 'Float16Vector', 3, 'float16_vector', nanHalf))), /Float16Vector field hv row 1 has a NaN or Inf value/)
    const nanBf = Buffer.concat([sdk.f32ArrayToBf16Bytes([1, NaN]), sdk.f32ArrayToBf16Bytes([1, 2]), sdk.f32ArrayToBf16Bytes([1, 2])])
    expectError(() => decodeScalars(replace('bf', vectorFD('bf', 'BFloat16Vector', 2, 'bfloat16_vector', nanBf))), /BFloat16Vector field bf row 0 has a NaN or Inf value/)
  })

  it('checks vector dims and byte lengths', () => {
    expectError(() => decodeScalars(replace('fv', vectorFD('fv', 'FloatVector', 8, 'float_vector', { data: fvRows.flat() }))), /the dim \(8\) of field data\(fv\) is not equal to schema dim \(4\)/)
    expectError(() => decodeScalars(replace('fv', vectorFD('fv', 'FloatVector', 4, 'float_vector', { data: [1, 2, 3, 4, 5] }))), /not a multiple of the row size 4/)
    expectError(() => decodeScalars(replace('bv', vectorFD('bv', 'BinaryVector', 16, 'binary_vector', Buffer.alloc(5)))), /the length \(5\) of BinaryVector field bv is not a multiple of the row size 2/)
    expectError(() => decodeScalars(replace('bv', vectorFD('bv', 'BinaryVector', 16, 'binary_vector', Buffer.alloc(8)))), /the num_rows \(4\) of field \(bv\)/)
    expectError(() => decodeScalars(replace('hv', vectorFD('hv', 'Float16Vector', 3, 'float16_vector', Buffer.alloc(14)))), /the length \(14\) of Float16Vector field hv is not a multiple of the row size 6/)
    const two = [scalarFD('pk', 'VarChar', 'string_data', ['a'])]
    expectError(() => decodeInsertData(others, [...two, vectorFD('iv', 'Int8Vector', 4, 'int8_vector', Buffer.alloc(4)), vectorFD('sv', 'SparseFloatVector', 0, 'sparse_float_vector', { contents: [Buffer.alloc(0)] })], 1, { mode: 'insert' }), /the dim \(4\) of field data\(iv\) is not equal to schema dim \(3\)/)
    const iv = vectorFD('iv', 'Int8Vector', 3, 'int8_vector', Buffer.alloc(3))
    expectError(() => decodeInsertData(others, [...two, iv, vectorFD('sv', 'SparseFloatVector', 0, 'sparse_float_vector', { contents: [Buffer.alloc(7)] })], 1, { mode: 'insert' }), /invalid data length 7/)
    expectError(() => decodeInsertData(others, [...two, iv, vectorFD('sv', 'SparseFloatVector', 0, 'sparse_float_vector', { contents: [] })], 1, { mode: 'insert' }), /the num_rows \(0\) of field \(sv\)/)
    const maxIdx = Buffer.alloc(8)
    maxIdx.writeUInt32LE(0xffffffff, 0)
    expectError(() => decodeInsertData(others, [...two, iv, vectorFD('sv', 'SparseFloatVector', 0, 'sparse_float_vector', { contents: [maxIdx] })], 1, { mode: 'insert' }), /must be less than 2\^32-1/)
    const nan = Buffer.alloc(8)
    nan.writeFloatLE(NaN, 4)
    expectError(() => decodeInsertData(others, [...two, iv, vectorFD('sv', 'SparseFloatVector', 0, 'sparse_float_vector', { contents: [nan] })], 1, { mode: 'insert' }), /is not a number or infinity/)
  })

  it('checks VarChar byte length and the VarChar primary key', () => {
    expectError(() => decodeScalars(replace('s', scalarFD('s', 'VarChar', 'string_data', ['a', 'b', 'ééé'.repeat(2)]))), /length of varchar field s exceeds max length, row number: 2, length: 12, max length: 6/)
    expectError(
      () => decodeInsertData(others, [scalarFD('pk', 'VarChar', 'string_data', ['abcde']), vectorFD('iv', 'Int8Vector', 3, 'int8_vector', Buffer.alloc(3)), vectorFD('sv', 'SparseFloatVector', 0, 'sparse_float_vector', { contents: [Buffer.alloc(0)] })], 1, { mode: 'insert' }),
      /length of varchar field pk exceeds max length, row number: 0, length: 5, max length: 4/,
    )
  })

  it('checks JSON cells', () => {
    expectError(() => decodeScalars(replace('j', jsonFD('j', [{}, Buffer.from('{"a":'), {}]))), /invalid JSON in field j at row 1/)
    expectError(() => decodeScalars(replace('j', jsonFD('j', [{}, 'x'.repeat(65540), {}]))), /the length \(65542\) of json field \(j\) exceeds max length \(65536\)/)
  })

  it('checks Array cells', () => {
    expectError(() => decodeScalars(replace('ai', arrayFD('ai', 'Int32', 'int_data', [[1, 2, 3, 4], [], []]))), /the length \(4\) of 0th array of field ai exceeds max capacity \(3\)/)
    expectError(() => decodeScalars(replace('ai', arrayFD('ai', 'Int32', 'long_data', [['1'], [], []]))), /element type \(Int64\)|need Int32 array/)
    expectError(() => decodeScalars(replace('ai', arrayFD('ai', 'None', 'long_data', [['1'], [], []]))), /array field ai row 0: need Int32 array \(int_data\), got long_data/)
    expectError(() => decodeScalars(replace('as', arrayFD('as', 'VarChar', 'string_data', [['a'], ['abcd'], []]))), /length of VarChar array field "as" exceeds max length, row number: 1, array index: 0, length: 4, max length: 3/)
    expectError(() => decodeScalars(replace('a8', arrayFD('a8', 'Int8', 'int_data', [[], [200], []]))), /the 0th element \(200\) of array field a8 row 1 out of range/)
    expectError(() => decodeScalars(replace('ai', scalarFD('ai', 'Array', 'array_data', { element_type: 'Int32', data: [{ int_data: { data: [] } }, {}, { int_data: { data: [] } }] }))), /array field ai row 1: need Int32 array, got nil/)
  })
})

describe('encodeIds and encodeDynamicField', () => {
  it('encodes primary keys as schema.IDs', () => {
    const IDS = 'milvus.proto.schema.IDs'
    assert.deepEqual(P.decode(IDS, P.encode(IDS, encodeIds(BigInt64Array.from([1n, -9223372036854775808n]), 'Int64'))), {
      int_id: { data: ['1', '-9223372036854775808'] },
      id_field: 'int_id',
    })
    assert.deepEqual(P.decode(IDS, P.encode(IDS, encodeIds([5n], 'Int64'))), { int_id: { data: ['5'] }, id_field: 'int_id' })
    assert.deepEqual(P.decode(IDS, P.encode(IDS, encodeIds(['a', 'b'], 'VarChar'))), { str_id: { data: ['a', 'b'] }, id_field: 'str_id' })
  })

  it('restricts $meta to the requested keys', () => {
    const meta = fieldOf(scalars, '$meta')
    const col: ColumnOf<'JSON'> = { type: 'JSON', data: [{ a: 1, b: 2 }, { b: 3 }, {}] }
    assert.deepEqual(sdkView([encodeDynamicField(meta, col, ['a'])]).get('$meta'), [{ a: 1 }, {}, {}])
    assert.deepEqual(sdkView([encodeDynamicField(meta, col, 'all')]).get('$meta'), [{ a: 1, b: 2 }, { b: 3 }, {}])
    assert.equal(wire(encodeDynamicField(meta, col, ['b']))['is_dynamic'], true)
  })
})

describe('takeRows, concatColumns, emptyColumn', () => {
  const b1 = decodeScalars()
  const b2 = decodeScalars(
    scalarsBatchInput().map((f) => (f['field_name'] === 'i64' ? scalarFD('i64', 'Int64', 'long_data', ['7', '8', '9']) : f)),
  )

  it('concatenates chunks of every type', () => {
    for (const f of scalars.fields) {
      const c = concatColumns(f, [b1.columns.get(f.name)!, b2.columns.get(f.name)!])
      const view = sdkView([encodeFieldData(f, c)]).get(f.name)!
      const a = sdkView([encodeFieldData(f, b1.columns.get(f.name)!)]).get(f.name)!
      const b = sdkView([encodeFieldData(f, b2.columns.get(f.name)!)]).get(f.name)!
      assert.deepEqual(view, [...a, ...b], f.name)
    }
  })

  it('gathers picked rows of every type', () => {
    const picks = { chunk: Int32Array.from([1, 0, 1, 0]), row: Int32Array.from([2, 0, 0, 2]) }
    for (const f of scalars.fields) {
      const parts = [b1.columns.get(f.name)!, b2.columns.get(f.name)!]
      const got = sdkView([encodeFieldData(f, takeRows(f, parts, picks))]).get(f.name)!
      const src = parts.map((p) => sdkView([encodeFieldData(f, p)]).get(f.name)!)
      assert.deepEqual(got, [src[1]![2], src[0]![0], src[1]![0], src[0]![2]], f.name)
    }
    const sv = fieldOf(others, 'sv')
    const sparse: Column = { type: 'SparseFloatVector', data: [{ indices: Uint32Array.from([1]), values: Float32Array.from([2]) }, { indices: new Uint32Array(0), values: new Float32Array(0) }] }
    assert.deepEqual(takeRows(sv, [sparse], { chunk: Int32Array.from([0, 0]), row: Int32Array.from([1, 0]) }), { type: 'SparseFloatVector', data: [sparse.data[1], sparse.data[0]] })
  })

  it('keeps validity for nullable fields', () => {
    const f = fieldOf(nullables, 'n64')
    const a: Column = { type: 'Int64', data: BigInt64Array.from([1n, 0n]), valid: Uint8Array.from([1, 0]) }
    const b: Column = { type: 'Int64', data: BigInt64Array.from([3n]) }
    assert.deepEqual(concatColumns(f, [a, b]), { type: 'Int64', data: BigInt64Array.from([1n, 0n, 3n]), valid: Uint8Array.from([1, 0, 1]) })
    assert.deepEqual(takeRows(f, [a, b], { chunk: Int32Array.from([0, 1]), row: Int32Array.from([1, 0]) }), { type: 'Int64', data: BigInt64Array.from([0n, 3n]), valid: Uint8Array.from([0, 1]) })
  })

  it('builds empty columns', () => {
    assert.deepEqual(emptyColumn(fieldOf(scalars, 'fv')), { type: 'FloatVector', dim: 4, data: new Float32Array(0) })
    assert.deepEqual(emptyColumn(fieldOf(scalars, 'al')), { type: 'Array', elementType: 'Int64', data: [] })
    assert.deepEqual(emptyColumn(fieldOf(nullables, 'ns')), { type: 'VarChar', data: [], valid: new Uint8Array(0) })
    assert.deepEqual(emptyColumn(fieldOf(others, 'sv')), { type: 'SparseFloatVector', data: [] })
    const e = emptyColumn(fieldOf(scalars, 'i16'))
    assert.deepEqual(concatColumns(fieldOf(scalars, 'i16'), [e, b1.columns.get('i16')!, e]), b1.columns.get('i16'))
  })
})

describe('decodePlaceholderVectors', () => {
  const f32 = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer)

  it('decodes every vector type', () => {
    assert.deepEqual(decodePlaceholderVectors(fieldOf(scalars, 'fv'), 'FloatVector', [f32([1, 2, 3, 4]), f32([5, 6, 7, 8])]), {
      type: 'FloatVector',
      dim: 4,
      data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
    })
    assert.deepEqual(decodePlaceholderVectors(fieldOf(scalars, 'bv'), 'BinaryVector', [Uint8Array.from([1, 2])]), { type: 'BinaryVector', dim: 16, data: Uint8Array.from([1, 2]) })
    const hv = decodePlaceholderVectors(fieldOf(scalars, 'hv'), 'Float16Vector', [sdk.f32ArrayToF16Bytes([1, 2, 3])])
    assert.deepEqual(sdk.f16BytesToF32Array(Buffer.from((hv as ColumnOf<'Float16Vector'>).data.buffer)), [1, 2, 3])
    const bf = decodePlaceholderVectors(fieldOf(scalars, 'bf'), 'BFloat16Vector', [sdk.f32ArrayToBf16Bytes([1, -2])])
    assert.deepEqual(sdk.bf16BytesToF32Array(Buffer.from((bf as ColumnOf<'BFloat16Vector'>).data.buffer)), [1, -2])
    assert.deepEqual(decodePlaceholderVectors(fieldOf(others, 'iv'), 'Int8Vector', [Uint8Array.from([255, 1, 2])]), { type: 'Int8Vector', dim: 3, data: Int8Array.from([-1, 1, 2]) })
    const sv = decodePlaceholderVectors(fieldOf(others, 'sv'), 'SparseFloatVector', [sdk.sparseToBytes({ 7: 0.5, 2: 1 })])
    assert.deepEqual(sv, { type: 'SparseFloatVector', data: [{ indices: Uint32Array.from([2, 7]), values: Float32Array.from([1, 0.5]) }] })
  })

  it('decodes the bytes of a real PlaceholderGroup', () => {
    const PG = 'milvus.proto.common.PlaceholderGroup'
    const group = P.decode(PG, P.encode(PG, { placeholders: [{ tag: '$0', type: 'FloatVector', values: [f32([1, 0, 0, 1])] }] }))
    const ph = (group['placeholders'] as Obj[])[0]!
    const col = decodePlaceholderVectors(fieldOf(scalars, 'fv'), ph['type'] as string, ph['values'] as Uint8Array[])
    assert.deepEqual(col, { type: 'FloatVector', dim: 4, data: Float32Array.from([1, 0, 0, 1]) })
  })

  it('rejects a dim or type mismatch', () => {
    expectError(() => decodePlaceholderVectors(fieldOf(scalars, 'fv'), 'FloatVector', [f32([1, 2, 3])]), /the dim \(3\) of search vector 0 is not equal to schema dim \(4\) of field fv/)
    expectError(() => decodePlaceholderVectors(fieldOf(scalars, 'bv'), 'BinaryVector', [Uint8Array.from([1, 2, 3])]), /the dim \(24\) of search vector 0 is not equal to schema dim \(16\)/)
    expectError(() => decodePlaceholderVectors(fieldOf(scalars, 'hv'), 'Float16Vector', [Buffer.alloc(4)]), /the dim \(2\) of search vector 0/)
    expectError(() => decodePlaceholderVectors(fieldOf(scalars, 'fv'), 'BinaryVector', [Uint8Array.from([1, 2])]), /search vector type BinaryVector does not match the type FloatVector of field fv/)
    expectError(() => decodePlaceholderVectors(fieldOf(scalars, 'i32'), 'FloatVector', [f32([1])]), /field i32 is not a vector field/)
    expectError(() => decodePlaceholderVectors(fieldOf(scalars, 'fv'), 'FloatVector', [f32([1, 2, NaN, 4])]), /search vector of field fv row 0 has value NaN/)
  })
})
