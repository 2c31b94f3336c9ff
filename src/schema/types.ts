/**
 * The collection model in Milvus's vocabulary, decoupled from protobuf: access/ converts wire
 * schemas into these and everything below it works with them only.
 */
export const DataType = {
  None: 0,
  Bool: 1,
  Int8: 2,
  Int16: 3,
  Int32: 4,
  Int64: 5,
  Float: 10,
  Double: 11,
  String: 20,
  VarChar: 21,
  Array: 22,
  JSON: 23,
  Geometry: 24,
  Text: 25,
  Timestamptz: 26,
  BinaryVector: 100,
  FloatVector: 101,
  Float16Vector: 102,
  BFloat16Vector: 103,
  SparseFloatVector: 104,
  Int8Vector: 105,
  ArrayOfVector: 106,
  ArrayOfStruct: 200,
  Struct: 201,
} as const

export type DataTypeName = keyof typeof DataType

/** The types Harrier stores today; the others are refused at CreateCollection with a clear error. */
export type ScalarTypeName = 'Bool' | 'Int8' | 'Int16' | 'Int32' | 'Int64' | 'Float' | 'Double' | 'VarChar' | 'JSON' | 'Array'
export type VectorTypeName =
  | 'FloatVector'
  | 'BinaryVector'
  | 'Float16Vector'
  | 'BFloat16Vector'
  | 'Int8Vector'
  | 'SparseFloatVector'
export type StoredTypeName = ScalarTypeName | VectorTypeName
/** Element types allowed inside an Array field (Milvus: no JSON, Array or vectors). */
export type ArrayElementTypeName = 'Bool' | 'Int8' | 'Int16' | 'Int32' | 'Int64' | 'Float' | 'Double' | 'VarChar'

export const VECTOR_TYPES: ReadonlySet<string> = new Set<VectorTypeName>([
  'FloatVector',
  'BinaryVector',
  'Float16Vector',
  'BFloat16Vector',
  'Int8Vector',
  'SparseFloatVector',
])

export function isVectorType(t: string): t is VectorTypeName {
  return VECTOR_TYPES.has(t)
}

export function dataTypeName(code: number): DataTypeName | undefined {
  for (const [k, v] of Object.entries(DataType)) if (v === code) return k as DataTypeName
  return undefined
}

/** A scalar default value, already typed to the field (Int64 as bigint). */
export type ScalarValue = boolean | number | bigint | string

export interface FieldSchema {
  /** User fields start at 100; 0 and 1 are Milvus's RowID and Timestamp system fields. */
  readonly fieldId: number
  readonly name: string
  readonly description: string
  readonly dataType: StoredTypeName
  readonly isPrimaryKey: boolean
  readonly autoId: boolean
  /** Raw type_params as the client sent them (dim, max_length, max_capacity, mmap.enabled, ...). */
  readonly typeParams: Readonly<Record<string, string>>
  readonly elementType?: ArrayElementTypeName
  /** Vector dimension; for BinaryVector in bits. */
  readonly dim?: number
  readonly maxLength?: number
  readonly maxCapacity?: number
  readonly nullable: boolean
  readonly defaultValue?: ScalarValue
  /** The hidden `$meta` JSON column holding dynamic keys. */
  readonly isDynamic: boolean
  readonly isPartitionKey: boolean
  readonly isClusteringKey: boolean
}

export interface FunctionSchema {
  readonly name: string
  readonly type: string
  readonly inputFieldNames: readonly string[]
  readonly outputFieldNames: readonly string[]
  readonly params: Readonly<Record<string, string>>
}

export interface CollectionSchema {
  readonly name: string
  readonly description: string
  readonly fields: readonly FieldSchema[]
  readonly enableDynamicField: boolean
  readonly functions: readonly FunctionSchema[]
}

export const DYNAMIC_FIELD_NAME = '$meta'

export function primaryField(schema: CollectionSchema): FieldSchema {
  const pk = schema.fields.find((f) => f.isPrimaryKey)
  // Validated at CreateCollection; a schema without a PK never reaches the catalog.
  if (!pk) throw new Error(`collection ${schema.name} has no primary key`)
  return pk
}

export function fieldByName(schema: CollectionSchema, name: string): FieldSchema | undefined {
  return schema.fields.find((f) => f.name === name)
}

export function dynamicField(schema: CollectionSchema): FieldSchema | undefined {
  return schema.fields.find((f) => f.isDynamic)
}
