import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import sdk from '@zilliz/milvus2-sdk-node'
import { loadMilvusProto } from './milvus-proto.js'
import { DbError } from '../common/errors.js'
import { decodeAddedField, decodeCollectionSchema, encodeCollectionSchema } from './schema-codec.js'
import type { CollectionSchema } from './types.js'

const P = loadMilvusProto()
const COLL = 'milvus.proto.schema.CollectionSchema'
const FIELD = 'milvus.proto.schema.FieldSchema'

type Obj = Record<string, unknown>

function kv(params: Record<string, string | number>): { key: string; value: string }[] {
  return Object.entries(params).map(([key, value]) => ({ key, value: String(value) }))
}
const pk = (extra: Obj = {}): Obj => ({ name: 'id', data_type: 'Int64', is_primary_key: true, ...extra })
const vec = (dim: number | string = 4, extra: Obj = {}): Obj => ({ name: 'vec', data_type: 'FloatVector', type_params: kv({ dim }), ...extra })
const schemaBytes = (fields: Obj[], extra: Obj = {}): Uint8Array => P.encode(COLL, { name: 'c1', fields, ...extra })
const decode = (fields: Obj[], extra: Obj = {}): CollectionSchema => decodeCollectionSchema(schemaBytes(fields, extra), 'c1')

function rejects(fields: Obj[], pattern: RegExp, extra: Obj = {}, kind: string = 'ParameterInvalid'): void {
  assert.throws(
    () => decode(fields, extra),
    (e: unknown) => {
      assert.ok(e instanceof DbError, `expected DbError, got ${String(e)}`)
      assert.equal(e.kind, kind, e.message)
      assert.match(e.message, pattern)
      return true
    },
  )
}

describe('decodeCollectionSchema', () => {
  it('decodes a full schema, assigns ids from 100 and appends $meta', () => {
    const s = decode(
      [
        pk({ autoID: true, description: 'the pk' }),
        vec(8),
        { name: 'bin', data_type: 'BinaryVector', type_params: kv({ dim: 16 }) },
        { name: 'sp', data_type: 'SparseFloatVector' },
        { name: 'title', data_type: 'VarChar', type_params: kv({ max_length: 64, 'mmap.enabled': 'true' }), is_partition_key: true },
        { name: 'tags', data_type: 'Array', element_type: 'VarChar', type_params: kv({ max_capacity: 8, max_length: 16 }), nullable: true },
        { name: 'age', data_type: 'Int16', default_value: { int_data: 7 } },
        { name: 'big', data_type: 'Int64', default_value: { long_data: '9007199254740993' }, nullable: true },
        { name: 'score', data_type: 'Double', is_clustering_key: true },
        { name: 'meta', data_type: 'JSON', nullable: true },
      ],
      { enable_dynamic_field: true, description: 'd' },
    )
    assert.equal(s.name, 'c1')
    assert.equal(s.description, 'd')
    assert.equal(s.enableDynamicField, true)
    assert.deepEqual(
      s.fields.map((f) => [f.fieldId, f.name, f.dataType]),
      [
        [100, 'id', 'Int64'],
        [101, 'vec', 'FloatVector'],
        [102, 'bin', 'BinaryVector'],
        [103, 'sp', 'SparseFloatVector'],
        [104, 'title', 'VarChar'],
        [105, 'tags', 'Array'],
        [106, 'age', 'Int16'],
        [107, 'big', 'Int64'],
        [108, 'score', 'Double'],
        [109, 'meta', 'JSON'],
        [110, '$meta', 'JSON'],
      ],
    )
    const by = (n: string) => s.fields.find((f) => f.name === n)!
    assert.equal(by('id').autoId, true)
    assert.equal(by('id').description, 'the pk')
    assert.equal(by('vec').dim, 8)
    assert.equal(by('bin').dim, 16)
    assert.equal(by('sp').dim, undefined)
    assert.equal(by('title').maxLength, 64)
    assert.equal(by('title').isPartitionKey, true)
    assert.deepEqual(by('title').typeParams, { max_length: '64', 'mmap.enabled': 'true' })
    assert.equal(by('tags').elementType, 'VarChar')
    assert.equal(by('tags').maxCapacity, 8)
    assert.equal(by('tags').maxLength, 16)
    assert.equal(by('tags').nullable, true)
    assert.equal(by('age').defaultValue, 7)
    assert.equal(by('big').defaultValue, 9007199254740993n)
    assert.equal(by('score').isClusteringKey, true)
    const meta = by('$meta')
    assert.equal(meta.isDynamic, true)
    assert.equal(meta.nullable, false)
  })

  it('applies the deprecated schema-level autoID to the primary key', () => {
    const s = decode([pk(), vec()], { autoID: true })
    assert.equal(s.fields[0]!.autoId, true)
  })

  it('accepts a VarChar primary key with max_length, and an empty schema name', () => {
    const s = decodeCollectionSchema(
      P.encode(COLL, { fields: [pk({ data_type: 'VarChar', type_params: kv({ max_length: 32 }) }), vec(2)] }),
      'c1',
    )
    assert.equal(s.fields[0]!.dataType, 'VarChar')
    assert.equal(s.fields[0]!.maxLength, 32)
    assert.equal(s.fields[1]!.dim, 2)
    assert.equal(s.enableDynamicField, false)
    assert.equal(s.fields.length, 2)
  })

  it('accepts limits at their edges', () => {
    decode([pk(), vec(32768)])
    decode([pk(), { name: 'b', data_type: 'BinaryVector', type_params: kv({ dim: 8 * 32768 }) }])
    decode([pk(), vec(), { name: 's', data_type: 'VarChar', type_params: kv({ max_length: 65535 }) }])
    decode([pk(), vec(), { name: 'a', data_type: 'Array', element_type: 'Int8', type_params: kv({ max_capacity: 4096 }) }])
    decode([pk(), ...[1, 2, 3, 4].map((i) => vec(4, { name: `v${i}` }))])
    decode([pk(), vec(), { name: `f${'x'.repeat(254)}`, data_type: 'Bool' }])
    for (const t of ['Float16Vector', 'BFloat16Vector', 'Int8Vector']) decode([pk(), { name: 'v', data_type: t, type_params: kv({ dim: 2 }) }])
  })

  const invalidCases: [string, Obj[], RegExp, Obj?, string?][] = [
    ['no primary key', [vec()], /primary key is not specified/],
    ['two primary keys', [pk(), pk({ name: 'id2' }), vec()], /more than one primary key, field name = id, id2/],
    ['Float primary key', [pk({ data_type: 'Float' }), vec()], /primary key should be Int64 or VarChar/],
    ['VarChar pk without max_length', [pk({ data_type: 'VarChar' }), vec()], /max_length\) should be specified for varChar field\(id\)/],
    ['autoID on a non-pk field', [pk(), vec(), { name: 'x', data_type: 'Int64', autoID: true }], /only primary field can specify AutoID.*x/],
    ['no vector field', [pk()], /schema does not contain vector field/],
    ['five vector fields', [pk(), ...[1, 2, 3, 4, 5].map((i) => vec(4, { name: `v${i}` }))], /vector field's number should be limited to 4/],
    ['65 fields', [pk(), vec(), ...Array.from({ length: 63 }, (_, i) => ({ name: `b${i}`, data_type: 'Bool' }))], /field's number should be limited to 64/],
    ['duplicate field names', [pk(), vec(), { name: 'vec', data_type: 'Bool' }], /duplicated field name vec/],
    ['dim missing', [pk(), { name: 'vec', data_type: 'FloatVector' }], /dimension is not defined.*vec/],
    ['dim 1', [pk(), vec(1)], /invalid dimension: 1 of field vec/],
    ['dim 32769', [pk(), vec(32769)], /invalid dimension: 32769 of field vec/],
    ['dim not a number', [pk(), vec('abc')], /invalid dimension: abc of field vec/],
    ['binary dim not multiple of 8', [pk(), { name: 'b', data_type: 'BinaryVector', type_params: kv({ dim: 12 }) }], /multiple of 8/],
    ['binary dim too big', [pk(), { name: 'b', data_type: 'BinaryVector', type_params: kv({ dim: 8 * 32768 + 8 }) }], /range 2 ~ 262144/],
    ['sparse with dim', [pk(), { name: 's', data_type: 'SparseFloatVector', type_params: kv({ dim: 4 }) }], /dim should not be specified for sparse vector field s/],
    ['VarChar without max_length', [pk(), vec(), { name: 's', data_type: 'VarChar' }], /max_length\) should be specified for varChar field\(s\)/],
    ['VarChar max_length 0', [pk(), vec(), { name: 's', data_type: 'VarChar', type_params: kv({ max_length: 0 }) }], /VarChar field\(s\) should be in \(0, 65535\]/],
    ['VarChar max_length 65536', [pk(), vec(), { name: 's', data_type: 'VarChar', type_params: kv({ max_length: 65536 }) }], /should be in \(0, 65535\]/],
    ['Array without element type', [pk(), vec(), { name: 'a', data_type: 'Array', type_params: kv({ max_capacity: 4 }) }], /element data type None is not valid, field name = a/],
    ['Array of JSON', [pk(), vec(), { name: 'a', data_type: 'Array', element_type: 'JSON', type_params: kv({ max_capacity: 4 }) }], /element type JSON is not supported/],
    ['Array of Array', [pk(), vec(), { name: 'a', data_type: 'Array', element_type: 'Array', type_params: kv({ max_capacity: 4 }) }], /element type Array is not supported/],
    ['Array of vectors', [pk(), vec(), { name: 'a', data_type: 'Array', element_type: 'FloatVector', type_params: kv({ max_capacity: 4 }) }], /element type FloatVector is not supported/],
    ['Array without max_capacity', [pk(), vec(), { name: 'a', data_type: 'Array', element_type: 'Int32' }], /max_capacity\) should be specified for array field a/],
    ['Array capacity 4097', [pk(), vec(), { name: 'a', data_type: 'Array', element_type: 'Int32', type_params: kv({ max_capacity: 4097 }) }], /\(0, 4096\]/],
    ['Array of VarChar without max_length', [pk(), vec(), { name: 'a', data_type: 'Array', element_type: 'VarChar', type_params: kv({ max_capacity: 4 }) }], /max_length\) should be specified for varChar field\(a\)/],
    ['nullable pk', [pk({ nullable: true }), vec()], /primary field not support null/],
    ['nullable vector', [pk(), vec(4, { nullable: true })], /vector type not support null, field name = vec/],
    ['default on pk', [pk({ default_value: { long_data: '1' } }), vec()], /primary field not support default_value/],
    ['default on JSON', [pk(), vec(), { name: 'j', data_type: 'JSON', default_value: { bytes_data: Buffer.from('{}') } }], /type not support default_value.*j/],
    ['default on vector', [pk(), vec(4, { default_value: { float_data: 1 } })], /type not support default_value.*vec/],
    ['default of the wrong type', [pk(), vec(), { name: 'n', data_type: 'Int32', default_value: { long_data: '2' } }], /type \(Int32\) of field \(n\) is not equal to the type\(DataType_Int64\) of default_value/],
    ['VarChar default of int', [pk(), vec(), { name: 's', data_type: 'VarChar', type_params: kv({ max_length: 8 }), default_value: { int_data: 2 } }], /type \(VarChar\) of field \(s\).*DataType_Int\)/],
    ['Int8 default out of range', [pk(), vec(), { name: 'n', data_type: 'Int8', default_value: { int_data: 128 } }], /128 out of range -128 <= value <= 127/],
    ['VarChar default too long', [pk(), vec(), { name: 's', data_type: 'VarChar', type_params: kv({ max_length: 2 }), default_value: { string_data: 'abc' } }], /the length \(3\) of string exceeds max length \(2\)/],
    ['two partition keys', [pk(), vec(), { name: 'p1', data_type: 'Int64', is_partition_key: true }, { name: 'p2', data_type: 'Int64', is_partition_key: true }], /more than one partition key, field name = p1, p2/],
    ['partition key on pk', [pk({ is_partition_key: true }), vec()], /partition key field must not be primary field/],
    ['nullable partition key', [pk(), vec(), { name: 'p', data_type: 'Int64', is_partition_key: true, nullable: true }], /partition key field not support nullable/],
    ['Float partition key', [pk(), vec(), { name: 'p', data_type: 'Float', is_partition_key: true }], /partition key should be Int64 or VarChar/],
    ['two clustering keys', [pk(), vec(), { name: 'a', data_type: 'Int64', is_clustering_key: true }, { name: 'b', data_type: 'Int64', is_clustering_key: true }], /more than one clustering key/, {}, 'CollectionIllegalSchema'],
    ['explicit dynamic field', [pk(), vec(), { name: 'd', data_type: 'JSON', is_dynamic: true }], /cannot explicitly set a field as a dynamic field/],
    ['Geometry', [pk(), vec(), { name: 'g', data_type: 'Geometry' }], /data type Geometry is not supported yet, field name = g/],
    ['Text', [pk(), vec(), { name: 't', data_type: 'Text' }], /data type Text is not supported yet/],
    ['Timestamptz', [pk(), vec(), { name: 't', data_type: 'Timestamptz' }], /data type Timestamptz is not supported yet/],
    ['ArrayOfVector', [pk(), vec(), { name: 't', data_type: 'ArrayOfVector' }], /data type ArrayOfVector is not supported yet/],
    ['Struct', [pk(), vec(), { name: 't', data_type: 'Struct' }], /data type Struct is not supported yet/],
    ['String', [pk(), vec(), { name: 't', data_type: 'String' }], /please use VarChar/],
    ['None', [pk(), vec(), { name: 't' }], /data type None is not valid, field name = t/],
    ['struct array fields', [pk(), vec()], /struct array fields are not supported yet/, { struct_array_fields: [{ name: 's' }] }],
    ['BM25 function', [pk(), vec(), { name: 't', data_type: 'VarChar', type_params: kv({ max_length: 8 }) }], /function bm of type BM25 is not supported yet/, { functions: [{ name: 'bm', type: 'BM25', input_field_names: ['t'], output_field_names: ['vec'] }] }],
    ['schema name differs', [pk(), vec()], /collection name = c1, schema.Name=other/, { name: 'other' }],
    ['empty field name', [pk(), vec(), { name: '', data_type: 'Bool' }], /field name should not be empty/, {}, 'FieldInvalidName'],
    ['field name starting with a digit', [pk(), vec(), { name: '1a', data_type: 'Bool' }], /first character of a field name must be an underscore or letter/, {}, 'FieldInvalidName'],
    ['field name with a dash', [pk(), vec(), { name: 'a-b', data_type: 'Bool' }], /can only contain numbers, letters, and underscores/, {}, 'FieldInvalidName'],
    ['field name of 256 chars', [pk(), vec(), { name: 'a'.repeat(256), data_type: 'Bool' }], /length of a field name must be less than 255/, {}, 'FieldInvalidName'],
    ['field name $meta', [pk(), vec(), { name: '$meta', data_type: 'JSON' }], /Invalid field name: \$meta/, {}, 'FieldInvalidName'],
    ['keyword field name', [pk(), vec(), { name: 'like', data_type: 'Bool' }], /like is keyword in milvus/, {}, 'FieldInvalidName'],
  ]
  for (const [name, fields, pattern, extra, kind] of invalidCases) {
    it(`rejects: ${name}`, () => rejects(fields, pattern, extra, kind))
  }

  it('validates the collection name', () => {
    const bytes = P.encode(COLL, { fields: [pk(), vec()] })
    assert.throws(() => decodeCollectionSchema(bytes, ''), /collection name should not be empty/)
    assert.throws(() => decodeCollectionSchema(bytes, '9abc'), /first character of a collection name/)
    assert.throws(() => decodeCollectionSchema(bytes, 'a b'), /can only contain numbers, letters and underscores/)
    assert.throws(() => decodeCollectionSchema(bytes, 'a'.repeat(256)), /must be less than 255 characters/)
    assert.equal(decodeCollectionSchema(bytes, `_${'a'.repeat(254)}`).name.length, 255)
  })

  it('refuses bytes that are not a CollectionSchema', () => {
    assert.throws(() => decodeCollectionSchema(Uint8Array.from([0x0a, 0xff, 0xff]), 'c1'), (e: unknown) => e instanceof DbError && e.kind === 'ParameterInvalid')
  })
})

describe('encodeCollectionSchema', () => {
  const s = decode(
    [
      pk({ autoID: true }),
      vec(8),
      { name: 'title', data_type: 'VarChar', type_params: kv({ max_length: 64 }), default_value: { string_data: 'x' }, nullable: true },
      { name: 'tags', data_type: 'Array', element_type: 'Int32', type_params: kv({ max_capacity: 8 }), is_partition_key: false },
      { name: 'p', data_type: 'Int64', is_partition_key: true, default_value: { long_data: '-5' } },
      { name: 'f', data_type: 'Float', default_value: { float_data: 1.5 } },
      { name: 'ok', data_type: 'Bool', default_value: { bool_data: true } },
    ],
    { enable_dynamic_field: true },
  )

  it('round-trips through protobuf without $meta, keeping ids, params and defaults', () => {
    const wire = P.decode(COLL, P.encode(COLL, encodeCollectionSchema(s)))
    assert.equal(wire['name'], 'c1')
    assert.equal(wire['enable_dynamic_field'], true)
    const fields = wire['fields'] as Obj[]
    assert.deepEqual(
      fields.map((f) => f['name']),
      ['id', 'vec', 'title', 'tags', 'p', 'f', 'ok'],
    )
    const by = (n: string) => fields.find((f) => f['name'] === n)!
    assert.equal(by('id')['fieldID'], '100')
    assert.equal(by('id')['autoID'], true)
    assert.equal(by('id')['is_primary_key'], true)
    assert.equal(by('id')['data_type'], 'Int64')
    assert.deepEqual(by('vec')['type_params'], [{ key: 'dim', value: '8' }])
    assert.equal(by('vec')['fieldID'], '101')
    assert.deepEqual(by('title')['default_value'], { string_data: 'x', data: 'string_data' })
    assert.equal(by('title')['nullable'], true)
    assert.equal(by('tags')['element_type'], 'Int32')
    assert.deepEqual(by('tags')['type_params'], [{ key: 'max_capacity', value: '8' }])
    assert.equal(by('p')['is_partition_key'], true)
    assert.deepEqual(by('p')['default_value'], { long_data: '-5', data: 'long_data' })
    assert.deepEqual(by('f')['default_value'], { float_data: 1.5, data: 'float_data' })
    assert.deepEqual(by('ok')['default_value'], { bool_data: true, data: 'bool_data' })
    assert.equal(by('vec')['default_value'], null)
    assert.equal(by('vec')['element_type'], 'None')
  })

  it('is what the SDK formats into its describeCollection answer', () => {
    const wire = P.decode(COLL, P.encode(COLL, encodeCollectionSchema(s)))
    const d = sdk.formatDescribedCol({ schema: wire } as never) as unknown as { schema: { fields: Obj[] }; anns_fields: Obj }
    const by = (n: string) => d.schema.fields.find((f) => f['name'] === n)!
    assert.equal(by('vec')['dim'], '8')
    assert.equal(by('vec')['dataType'], 101)
    assert.equal(by('title')['max_length'], '64')
    assert.equal(by('title')['default_value'], 'x')
    assert.equal(by('p')['default_value'], '-5')
    assert.equal(by('tags')['max_capacity'], '8')
    assert.deepEqual(Object.keys(d.anns_fields), ['vec'])
  })

  it('decodes back into the same user fields', () => {
    const again = decodeCollectionSchema(P.encode(COLL, encodeCollectionSchema(s)), 'c1')
    assert.deepEqual(again, s)
  })
})

describe('decodeAddedField', () => {
  const s = decode([pk(), vec()], { enable_dynamic_field: true })
  const add = (f: Obj) => decodeAddedField(P.encode(FIELD, f), s)

  it('adds a nullable field with the next id', () => {
    const f = add({ name: 'n', data_type: 'VarChar', type_params: kv({ max_length: 8 }), nullable: true, default_value: { string_data: 'd' } })
    assert.equal(f.fieldId, 103) // 100 id, 101 vec, 102 $meta
    assert.equal(f.nullable, true)
    assert.equal(f.defaultValue, 'd')
    assert.equal(f.maxLength, 8)
    const a = add({ name: 'arr', data_type: 'Array', element_type: 'VarChar', type_params: kv({ max_capacity: 4, max_length: 4 }), nullable: true })
    assert.equal(a.elementType, 'VarChar')
  })

  it('rejects what Milvus rejects', () => {
    assert.throws(() => add({ name: 'n', data_type: 'Int64' }), /added field must be nullable, please check it, field name = n/)
    assert.throws(() => add({ name: 'vec', data_type: 'Int64', nullable: true }), /duplicated field name vec/)
    assert.throws(() => add({ name: '$meta', data_type: 'JSON', nullable: true }), /duplicated field name \$meta/)
    assert.throws(() => add({ name: 'RowID', data_type: 'Int64', nullable: true }), /not support to add system field, field name = RowID/)
    assert.throws(() => add({ name: 'k', data_type: 'Int64', nullable: true, is_primary_key: true }), /not support to add pk field/)
    assert.throws(() => add({ name: 'k', data_type: 'Int64', nullable: true, is_partition_key: true }), /not support to add partition key field/)
    assert.throws(() => add({ name: 'k', data_type: 'Int64', nullable: true, autoID: true }), /only primary field can specify AutoID/)
    assert.throws(() => add({ name: 'v2', data_type: 'FloatVector', type_params: kv({ dim: 4 }), nullable: true }), /vector type not support null/)
    assert.throws(() => add({ name: 'g', data_type: 'Geometry', nullable: true }), /data type Geometry is not supported yet/)
    assert.throws(() => add({ name: 's', data_type: 'VarChar', nullable: true }), /max_length\) should be specified/)
    assert.throws(() => add({ name: '1x', data_type: 'Bool', nullable: true }), /first character of a field name/)
  })
})
