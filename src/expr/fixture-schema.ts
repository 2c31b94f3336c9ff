/**
 * A schema with one field of every filterable type, and a row -> ColumnChunk builder. Shared by
 * the expr tests and the benchmark; not part of the public API.
 */
import type { ArrayCell, Column, ColumnChunk, JsonValue } from '../schema/columns.js'
import {
  type ArrayElementTypeName,
  type CollectionSchema,
  DYNAMIC_FIELD_NAME,
  type FieldSchema,
  type StoredTypeName,
} from '../schema/types.js'

function field(
  name: string,
  dataType: StoredTypeName,
  extra: Partial<Omit<FieldSchema, 'name' | 'dataType'>> & { fieldId: number },
): FieldSchema {
  return {
    name,
    description: '',
    dataType,
    isPrimaryKey: false,
    autoId: false,
    typeParams: {},
    nullable: false,
    isDynamic: false,
    isPartitionKey: false,
    isClusteringKey: false,
    ...extra,
  }
}

function arrayField(name: string, fieldId: number, elementType: ArrayElementTypeName, nullable = false): FieldSchema {
  return field(name, 'Array', { fieldId, elementType, maxCapacity: 16, nullable })
}

/** Every scalar type, nullable twins, arrays of each element kind, JSON, a vector, `$meta`. */
export function fixtureSchema(opts: { dynamic?: boolean; pk?: 'Int64' | 'VarChar' } = {}): CollectionSchema {
  const dynamic = opts.dynamic ?? true
  const fields: FieldSchema[] = [
    field('id', opts.pk ?? 'Int64', { isPrimaryKey: true, fieldId: 100 }),
    field('i8', 'Int8', { fieldId: 101 }),
    field('i16', 'Int16', { fieldId: 102 }),
    field('i32', 'Int32', { fieldId: 103 }),
    field('i64', 'Int64', { fieldId: 104 }),
    field('f32', 'Float', { fieldId: 105 }),
    field('f64', 'Double', { fieldId: 106 }),
    field('b', 'Bool', { fieldId: 107 }),
    field('s', 'VarChar', { fieldId: 108, maxLength: 256 }),
    field('n_i64', 'Int64', { fieldId: 109, nullable: true }),
    field('n_f64', 'Double', { fieldId: 110, nullable: true }),
    field('n_s', 'VarChar', { fieldId: 111, nullable: true, maxLength: 64 }),
    field('n_b', 'Bool', { fieldId: 112, nullable: true }),
    field('n_i8', 'Int8', { fieldId: 113, nullable: true }),
    field('meta', 'JSON', { fieldId: 114 }),
    field('n_json', 'JSON', { fieldId: 115, nullable: true }),
    arrayField('arr_i64', 116, 'Int64'),
    arrayField('arr_s', 117, 'VarChar'),
    arrayField('arr_f', 118, 'Float'),
    arrayField('arr_i32', 119, 'Int32'),
    arrayField('arr_b', 120, 'Bool'),
    arrayField('n_arr', 121, 'Int64', true),
    field('vec', 'FloatVector', { fieldId: 122, dim: 4, typeParams: { dim: '4' } }),
    field('txt', 'VarChar', { fieldId: 123, maxLength: 256, typeParams: { enable_match: 'true', enable_analyzer: 'true' } }),
  ]
  if (dynamic) fields.push(field(DYNAMIC_FIELD_NAME, 'JSON', { fieldId: 124, isDynamic: true }))
  return { name: 'fixture', description: '', fields, enableDynamicField: dynamic, functions: [] }
}

export type Row = Record<string, unknown>

function defaultOf(f: FieldSchema): unknown {
  switch (f.dataType) {
    case 'Int64':
      return 0n
    case 'Bool':
      return false
    case 'VarChar':
      return ''
    case 'JSON':
      return null
    case 'Array':
      return []
    default:
      return 0
  }
}

/**
 * Builds a chunk from row objects. Missing or null values of nullable fields become nulls (with a
 * placeholder in `data`); keys not in the schema go into `$meta`.
 */
export function chunkFromRows(schema: CollectionSchema, rows: readonly Row[]): ColumnChunk {
  const n = rows.length
  const columns = new Map<string, Column>()
  const known = new Set(schema.fields.map((f) => f.name))
  for (const f of schema.fields) {
    if (f.isDynamic) {
      const data: JsonValue[] = rows.map((r) => {
        const o: Record<string, JsonValue> = {}
        for (const [k, v] of Object.entries(r)) if (!known.has(k)) o[k] = v as JsonValue
        return o
      })
      columns.set(f.name, { type: 'JSON', data })
      continue
    }
    const valid = f.nullable ? new Uint8Array(n) : undefined
    const vals = rows.map((r, i) => {
      const v = r[f.name]
      // JSON null is a value in a non-nullable JSON field; elsewhere null means SQL null.
      if (v === undefined || (v === null && (f.nullable || f.dataType !== 'JSON'))) return defaultOf(f)
      if (valid) valid[i] = 1
      return v
    })
    const base = valid ? { valid } : {}
    let col: Column
    switch (f.dataType) {
      case 'Bool':
        col = { ...base, type: 'Bool', data: Uint8Array.from(vals.map((v) => (v ? 1 : 0))) }
        break
      case 'Int8':
        col = { ...base, type: 'Int8', data: Int8Array.from(vals as number[]) }
        break
      case 'Int16':
        col = { ...base, type: 'Int16', data: Int16Array.from(vals as number[]) }
        break
      case 'Int32':
        col = { ...base, type: 'Int32', data: Int32Array.from(vals as number[]) }
        break
      case 'Int64':
        col = { ...base, type: 'Int64', data: BigInt64Array.from(vals as bigint[]) }
        break
      case 'Float':
        col = { ...base, type: 'Float', data: Float32Array.from(vals as number[]) }
        break
      case 'Double':
        col = { ...base, type: 'Double', data: Float64Array.from(vals as number[]) }
        break
      case 'VarChar':
        col = { ...base, type: 'VarChar', data: vals as string[] }
        break
      case 'JSON':
        col = { ...base, type: 'JSON', data: vals as JsonValue[] }
        break
      case 'Array':
        col = { ...base, type: 'Array', elementType: f.elementType ?? 'Int64', data: vals as ArrayCell[] }
        break
      case 'FloatVector':
        col = { type: 'FloatVector', dim: f.dim ?? 4, data: new Float32Array(n * (f.dim ?? 4)) }
        break
      default:
        continue
    }
    columns.set(f.name, col)
  }
  return { numRows: n, columns }
}
