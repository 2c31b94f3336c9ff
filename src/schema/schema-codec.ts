/**
 * CreateCollection / DescribeCollection / AddCollectionField schema codec. It turns the client's
 * serialized `schema.CollectionSchema` into the domain `CollectionSchema` after running the checks
 * Milvus 2.6's proxy (`createCollectionTask.PreExecute`, `ValidateField`) and rootcoord
 * (`checkDefaultValue`, `assignFieldID`, `appendDynamicField`) run, with their limits:
 * 64 fields, 4 vector fields, names of at most 255 characters, dim 2..32768, VarChar max_length
 * 1..65535, Array max_capacity 1..4096.
 *
 * The core works on plain wire objects (`collectionSchemaFromWire`, `fieldSchemaFromWire`); the
 * byte-level entry points only add protobuf decoding so access/ can move that step if it prefers.
 */
import { loadMilvusProto } from './milvus-proto.js'
import { DbError, invalid } from '../common/errors.js'
import {
  DYNAMIC_FIELD_NAME,
  dataTypeName,
  isVectorType,
  type ArrayElementTypeName,
  type CollectionSchema,
  type FieldSchema,
  type FunctionSchema,
  type ScalarValue,
  type StoredTypeName,
} from './types.js'

const COLLECTION_SCHEMA = 'milvus.proto.schema.CollectionSchema'
const FIELD_SCHEMA = 'milvus.proto.schema.FieldSchema'

/** Milvus `proxy.maxFieldNum`, `proxy.maxVectorFieldNum`, `proxy.maxNameLength`, `proxy.maxDimension`. */
export const MAX_FIELD_NUM = 64
export const MAX_VECTOR_FIELD_NUM = 4
export const MAX_NAME_LENGTH = 255
export const MAX_DIMENSION = 32768
/** Milvus `proxy.maxVarCharLength` and the proxy's `defaultMaxArrayCapacity`. */
export const MAX_VARCHAR_LENGTH = 65535
export const MAX_ARRAY_CAPACITY = 4096
/** User field IDs start here (0 and 1 are RowID and Timestamp). */
export const START_OF_USER_FIELD_ID = 100

const SCALAR_TYPES: ReadonlySet<string> = new Set([
  'Bool',
  'Int8',
  'Int16',
  'Int32',
  'Int64',
  'Float',
  'Double',
  'VarChar',
  'JSON',
  'Array',
])
const ELEMENT_TYPES: ReadonlySet<string> = new Set(['Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'Float', 'Double', 'VarChar'])

/** Milvus `common.FieldNameKeywords`: names the filter grammar reserves. */
const FIELD_NAME_KEYWORDS: ReadonlySet<string> = new Set([
  '$meta',
  'like',
  'exists',
  'EXISTS',
  'and',
  'or',
  'not',
  'in',
  'json_contains',
  'JSON_CONTAINS',
  'json_contains_all',
  'JSON_CONTAINS_ALL',
  'json_contains_any',
  'JSON_CONTAINS_ANY',
  'array_contains',
  'ARRAY_CONTAINS',
  'array_contains_all',
  'ARRAY_CONTAINS_ALL',
  'array_contains_any',
  'ARRAY_CONTAINS_ANY',
  'array_length',
  'ARRAY_LENGTH',
  'true',
  'True',
  'TRUE',
  'false',
  'False',
  'FALSE',
  'text_match',
  'TEXT_MATCH',
  'phrase_match',
  'PHRASE_MATCH',
  'random_sample',
  'RANDOM_SAMPLE',
])

/** Names a user field may never take: Milvus's system fields and the dynamic column. */
const SYSTEM_FIELD_NAMES: ReadonlySet<string> = new Set(['RowID', 'Timestamp', DYNAMIC_FIELD_NAME])

type Wire = Record<string, unknown>

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Decodes CreateCollection's `schema` bytes (a serialized schema.CollectionSchema), validates it as
 * Milvus 2.6 does, assigns field IDs from 100 in declaration order, and appends the hidden dynamic
 * field `$meta` (JSON, isDynamic) when enable_dynamic_field.
 * @throws DbError ParameterInvalid / FieldInvalidName naming the offending field.
 */
export function decodeCollectionSchema(bytes: Uint8Array, collectionName: string): CollectionSchema {
  return collectionSchemaFromWire(decodeWire(COLLECTION_SCHEMA, bytes), collectionName)
}

/**
 * The wire CollectionSchema object for DescribeCollection: without `$meta` and without system
 * fields, as Milvus's proxy returns it.
 */
export function encodeCollectionSchema(schema: CollectionSchema): Record<string, unknown> {
  const outputs = new Set(schema.functions.flatMap((f) => f.outputFieldNames))
  return {
    name: schema.name,
    description: schema.description,
    // Milvus forces the deprecated schema-level flag to false at creation; autoID lives on the PK.
    autoID: false,
    fields: schema.fields.filter((f) => !f.isDynamic).map((f) => encodeField(f, outputs.has(f.name))),
    enable_dynamic_field: schema.enableDynamicField,
    properties: [],
    functions: schema.functions.map((fn) => ({
      name: fn.name,
      type: fn.type,
      input_field_names: [...fn.inputFieldNames],
      output_field_names: [...fn.outputFieldNames],
      params: kvList(fn.params),
    })),
    struct_array_fields: [],
  }
}

/**
 * For AddCollectionField: decodes a serialized FieldSchema and validates it can be added. As in
 * Milvus, an added field must be nullable (old segments read NULL, or the default when it has one)
 * and cannot be a primary key, autoID or partition key field. The new field gets the next free ID.
 */
export function decodeAddedField(bytes: Uint8Array, schema: CollectionSchema): FieldSchema {
  return addedFieldFromWire(decodeWire(FIELD_SCHEMA, bytes), schema)
}

/** Plain-object form of `decodeCollectionSchema` (the wire object as `loadMilvusProto().decode` gives it). */
export function collectionSchemaFromWire(wire: Record<string, unknown>, collectionName: string): CollectionSchema {
  validateCollectionName(collectionName)
  const schemaName = str(wire, 'name')
  if (schemaName !== '' && schemaName !== collectionName) {
    throw invalid(`collection name = ${collectionName}, schema.Name=${schemaName}: collection name does not match schema name`)
  }
  const rawFields = list(wire, 'fields')
  if (list(wire, 'struct_array_fields').length > 0) throw invalid('struct array fields are not supported yet')
  if (rawFields.length > MAX_FIELD_NUM) {
    throw invalid(`maximum field's number should be limited to ${MAX_FIELD_NUM}`)
  }

  // Resolve every field's type first: the counting checks below need it and an unknown type is the
  // clearest error to report.
  const fields = rawFields.map((f) => f as Wire)
  const types = fields.map((f) => resolveDataType(f))
  const vectorCount = types.filter((t) => isVectorType(t)).length
  if (vectorCount > MAX_VECTOR_FIELD_NUM) {
    throw invalid(`maximum vector field's number should be limited to ${MAX_VECTOR_FIELD_NUM}`)
  }
  if (vectorCount === 0) throw invalid('schema does not contain vector field')

  // Primary key: exactly one, Int64 or VarChar.
  let pkIndex = -1
  fields.forEach((f, i) => {
    if (!bool(f, 'is_primary_key')) return
    if (pkIndex !== -1) {
      throw invalid(`there are more than one primary key, field name = ${str(fields[pkIndex]!, 'name')}, ${str(f, 'name')}`)
    }
    if (types[i] !== 'Int64' && types[i] !== 'VarChar') {
      throw invalid(`the data type of primary key should be Int64 or VarChar, field name = ${str(f, 'name')}`)
    }
    pkIndex = i
  })
  if (pkIndex === -1) throw invalid('primary key is not specified')

  for (const f of fields) {
    if (bool(f, 'is_dynamic')) throw invalid(`cannot explicitly set a field as a dynamic field, field name = ${str(f, 'name')}`)
  }

  // autoID: only on the PK. The deprecated schema-level flag is honoured by applying it to the PK,
  // which is what pymilvus does client-side.
  let autoIdField = -1
  fields.forEach((f, i) => {
    if (!bool(f, 'autoID')) return
    if (autoIdField !== -1) {
      throw invalid(`only one field can specify AutoID with true, field name = ${str(fields[autoIdField]!, 'name')}, ${str(f, 'name')}`)
    }
    if (i !== pkIndex) throw invalid(`only primary field can specify AutoID with true, field name = ${str(f, 'name')}`)
    autoIdField = i
  })
  const pkAutoId = autoIdField === pkIndex || bool(wire, 'autoID')

  // Partition key: at most one, Int64/VarChar, not the PK, not nullable.
  let partitionKey = -1
  fields.forEach((f, i) => {
    if (!bool(f, 'is_partition_key')) return
    const name = str(f, 'name')
    if (partitionKey !== -1) {
      throw invalid(`there are more than one partition key, field name = ${str(fields[partitionKey]!, 'name')}, ${name}`)
    }
    if (i === pkIndex) throw invalid(`the partition key field must not be primary field, field name = ${name}`)
    if (bool(f, 'nullable')) throw invalid(`partition key field not support nullable, field name = ${name}`)
    if (types[i] !== 'Int64' && types[i] !== 'VarChar') {
      throw invalid(`the data type of partition key should be Int64 or VarChar, field name = ${name}`)
    }
    partitionKey = i
  })

  let clusteringKey = -1
  fields.forEach((f, i) => {
    if (!bool(f, 'is_clustering_key')) return
    const name = str(f, 'name')
    if (clusteringKey !== -1) {
      throw new DbError(
        'CollectionIllegalSchema',
        `there are more than one clustering key, field name = ${str(fields[clusteringKey]!, 'name')}, ${name}`,
        { input: true },
      )
    }
    const t = types[i]!
    if (isVectorType(t) || t === 'JSON' || t === 'Array' || t === 'Bool') {
      throw new DbError('CollectionIllegalSchema', `clustering key field ${name} has unsupported data type ${t}`, { input: true })
    }
    clusteringKey = i
  })

  const out: FieldSchema[] = []
  const seen = new Set<string>()
  fields.forEach((f, i) => {
    const field = buildField(f, types[i]!, START_OF_USER_FIELD_ID + i, collectionName, i === pkIndex && pkAutoId)
    if (seen.has(field.name)) throw invalid(`duplicated field name ${field.name} found`)
    seen.add(field.name)
    out.push(field)
  })

  const functions = list(wire, 'functions').map((fn) => functionFromWire(fn as Wire, out))

  const enableDynamicField = bool(wire, 'enable_dynamic_field')
  if (enableDynamicField) {
    out.push({
      fieldId: START_OF_USER_FIELD_ID + out.length,
      name: DYNAMIC_FIELD_NAME,
      description: 'dynamic schema',
      dataType: 'JSON',
      isPrimaryKey: false,
      autoId: false,
      typeParams: {},
      nullable: false,
      isDynamic: true,
      isPartitionKey: false,
      isClusteringKey: false,
    })
  }

  return {
    name: collectionName,
    description: str(wire, 'description'),
    fields: out,
    enableDynamicField,
    functions,
  }
}

/** Plain-object form of `decodeAddedField`. */
export function addedFieldFromWire(wire: Record<string, unknown>, schema: CollectionSchema): FieldSchema {
  const name = str(wire, 'name')
  if (schema.fields.length >= MAX_FIELD_NUM) {
    throw invalid(`The number of fields has reached the maximum value ${MAX_FIELD_NUM}`)
  }
  if (schema.fields.some((f) => f.name === name)) throw invalid(`duplicated field name ${name}`)
  if (SYSTEM_FIELD_NAMES.has(name)) throw invalid(`not support to add system field, field name = ${name}`)
  if (bool(wire, 'is_primary_key')) throw invalid(`not support to add pk field, field name = ${name}`)
  if (bool(wire, 'autoID')) throw invalid(`only primary field can specify AutoID with true, field name = ${name}`)
  if (bool(wire, 'is_partition_key')) throw invalid(`not support to add partition key field, field name = ${name}`)
  if (bool(wire, 'is_dynamic')) throw invalid(`cannot explicitly set a field as a dynamic field, field name = ${name}`)
  const t = resolveDataType(wire)
  if (bool(wire, 'is_clustering_key')) {
    if (schema.fields.some((f) => f.isClusteringKey)) {
      throw invalid(`already has another clustering key field, field name: ${name}`)
    }
    if (isVectorType(t) || t === 'JSON' || t === 'Array' || t === 'Bool') {
      throw invalid(`clustering key field ${name} has unsupported data type ${t}`)
    }
  }
  if (isVectorType(t) && schema.fields.filter((f) => isVectorType(f.dataType)).length >= MAX_VECTOR_FIELD_NUM) {
    throw invalid(`maximum vector field's number should be limited to ${MAX_VECTOR_FIELD_NUM}`)
  }
  // Milvus: old segments have no data for the field, so it must be able to read as NULL.
  if (!bool(wire, 'nullable')) throw invalid(`added field must be nullable, please check it, field name = ${name}`)
  const nextId = schema.fields.reduce((m, f) => Math.max(m, f.fieldId + 1), START_OF_USER_FIELD_ID)
  return buildField(wire, t, nextId, schema.name, false)
}

/** Milvus `validateCollectionNameOrAlias` (also used for aliases by access/). */
export function validateCollectionName(name: string, what: 'name' | 'alias' = 'name'): void {
  if (name === '') throw invalid(`collection ${what} should not be empty`)
  const prefix = `Invalid collection ${what}: ${name}.`
  if (name.length > MAX_NAME_LENGTH) {
    throw invalid(`${prefix} the length of a collection ${what} must be less than ${MAX_NAME_LENGTH} characters`)
  }
  if (!/^[A-Za-z_]/.test(name)) {
    throw invalid(`${prefix} the first character of a collection ${what} must be an underscore or letter`)
  }
  if (!/^[A-Za-z0-9_]*$/.test(name)) {
    throw invalid(`${prefix} collection ${what} can only contain numbers, letters and underscores`)
  }
}

/** Milvus `validateFieldName`; Milvus answers these with FieldInvalidName (1701). */
export function validateFieldName(name: string): void {
  const bad = (msg: string): DbError => new DbError('FieldInvalidName', msg, { input: true })
  if (name === '') throw bad('field name should not be empty')
  const prefix = `Invalid field name: ${name}.`
  if (name.length > MAX_NAME_LENGTH) {
    throw bad(`${prefix} The length of a field name must be less than ${MAX_NAME_LENGTH} characters.`)
  }
  if (!/^[A-Za-z_]/.test(name)) throw bad(`${prefix} The first character of a field name must be an underscore or letter.`)
  if (!/^[A-Za-z0-9_]*$/.test(name)) throw bad(`${prefix} Field name can only contain numbers, letters, and underscores.`)
  if (FIELD_NAME_KEYWORDS.has(name) || name.toLowerCase() === 'null') {
    throw bad(`${prefix} ${name} is keyword in milvus.`)
  }
}

// ---------------------------------------------------------------------------------------------
// Fields

function buildField(f: Wire, dataType: StoredTypeName, fieldId: number, collectionName: string, autoId: boolean): FieldSchema {
  const name = str(f, 'name')
  validateFieldName(name)
  const typeParams = kvMap(f, 'type_params')
  const isPrimaryKey = bool(f, 'is_primary_key')
  const nullable = bool(f, 'nullable')

  let dim: number | undefined
  if (isVectorType(dataType)) dim = validateDimension(name, dataType, typeParams)

  let elementType: ArrayElementTypeName | undefined
  if (dataType === 'Array') elementType = resolveElementType(f, name)

  let maxLength: number | undefined
  if (dataType === 'VarChar' || elementType === 'VarChar') maxLength = validateMaxLength(name, collectionName, typeParams)

  let maxCapacity: number | undefined
  if (dataType === 'Array') maxCapacity = validateMaxCapacity(name, collectionName, typeParams)

  if (nullable && isPrimaryKey) throw invalid(`primary field not support null, field name = ${name}`)
  if (nullable && isVectorType(dataType)) throw invalid(`vector type not support null, field name = ${name}`)

  const defaultValue = decodeDefaultValue(f, name, dataType, isPrimaryKey, maxLength)

  const field: FieldSchema = {
    fieldId,
    name,
    description: str(f, 'description'),
    dataType,
    isPrimaryKey,
    autoId,
    typeParams,
    nullable,
    isDynamic: false,
    isPartitionKey: bool(f, 'is_partition_key'),
    isClusteringKey: bool(f, 'is_clustering_key'),
    ...(elementType !== undefined ? { elementType } : {}),
    ...(dim !== undefined ? { dim } : {}),
    ...(maxLength !== undefined ? { maxLength } : {}),
    ...(maxCapacity !== undefined ? { maxCapacity } : {}),
    ...(defaultValue !== undefined ? { defaultValue } : {}),
  }
  return field
}

/** Maps the wire `data_type` (enum name or number) to a type Harrier stores, or refuses it clearly. */
function resolveDataType(f: Wire): StoredTypeName {
  const name = str(f, 'name')
  const raw = f['data_type']
  const t = typeof raw === 'number' ? (dataTypeName(raw) ?? String(raw)) : String(raw ?? 'None')
  if (t === 'None') throw invalid(`data type None is not valid, field name = ${name}`)
  if (t === 'String') throw invalid(`string data type not supported yet, please use VarChar type instead, field name = ${name}`)
  if (SCALAR_TYPES.has(t) || isVectorType(t)) return t as StoredTypeName
  throw invalid(`data type ${t} is not supported yet, field name = ${name}`)
}

function resolveElementType(f: Wire, name: string): ArrayElementTypeName {
  const raw = f['element_type']
  const t = typeof raw === 'number' ? (dataTypeName(raw) ?? String(raw)) : String(raw ?? 'None')
  if (t === 'None') throw invalid(`element data type None is not valid, field name = ${name}`)
  if (t === 'String') throw invalid(`string data type not supported yet, please use VarChar type instead, field name = ${name}`)
  if (!ELEMENT_TYPES.has(t)) throw invalid(`element type ${t} is not supported, field name = ${name}`)
  return t as ArrayElementTypeName
}

/** Milvus `validateDimension`: dense dims 2..32768, binary dims a multiple of 8 up to 32768*8 bits. */
function validateDimension(name: string, dataType: StoredTypeName, params: Readonly<Record<string, string>>): number | undefined {
  const raw = params['dim']
  if (dataType === 'SparseFloatVector') {
    if (raw !== undefined) throw invalid(`dim should not be specified for sparse vector field ${name}`)
    return undefined
  }
  if (raw === undefined) {
    throw invalid(`dimension is not defined in field type params of field ${name}, check type param \`dim\` for vector field`)
  }
  const dim = parseIntParam(raw)
  if (dim === undefined) throw invalid(`invalid dimension: ${raw} of field ${name}. dim should be an integer`)
  if (dim <= 1) throw invalid(`invalid dimension: ${dim} of field ${name}. should be in range 2 ~ ${MAX_DIMENSION}`)
  if (dataType === 'BinaryVector') {
    if (dim % 8 !== 0) throw invalid(`invalid dimension: ${dim} of field ${name}. binary vector dimension should be multiple of 8.`)
    if (dim > MAX_DIMENSION * 8) {
      throw invalid(`invalid dimension: ${dim} of field ${name}. binary vector dimension should be in range 2 ~ ${MAX_DIMENSION * 8}`)
    }
  } else if (dim > MAX_DIMENSION) {
    throw invalid(`invalid dimension: ${dim} of field ${name}. float vector dimension should be in range 2 ~ ${MAX_DIMENSION}`)
  }
  return dim
}

function validateMaxLength(name: string, collectionName: string, params: Readonly<Record<string, string>>): number {
  const raw = params['max_length']
  if (raw === undefined) {
    throw invalid(`type param(max_length) should be specified for varChar field(${name}) of collection ${collectionName}`)
  }
  const n = parseIntParam(raw)
  if (n === undefined || n <= 0 || n > MAX_VARCHAR_LENGTH) {
    throw invalid(`the maximum length specified for a VarChar field(${name}) should be in (0, ${MAX_VARCHAR_LENGTH}], but got ${raw} instead`)
  }
  return n
}

function validateMaxCapacity(name: string, collectionName: string, params: Readonly<Record<string, string>>): number {
  const raw = params['max_capacity']
  if (raw === undefined) {
    throw invalid(`type param(max_capacity) should be specified for array field ${name} of collection ${collectionName}`)
  }
  const n = parseIntParam(raw)
  if (n === undefined) throw invalid(`the value for max_capacity of field ${name} must be an integer`)
  if (n <= 0 || n > MAX_ARRAY_CAPACITY) {
    throw invalid(`the maximum capacity specified for a Array should be in (0, ${MAX_ARRAY_CAPACITY}], but got ${n} for field ${name}`)
  }
  return n
}

/** `default_value` (a ValueField oneof) typed to the field; Milvus rootcoord's `checkDefaultValue`. */
function decodeDefaultValue(
  f: Wire,
  name: string,
  dataType: StoredTypeName,
  isPrimaryKey: boolean,
  maxLength: number | undefined,
): ScalarValue | undefined {
  const dv = f['default_value']
  if (dv === null || dv === undefined || typeof dv !== 'object') return undefined
  if (isPrimaryKey) throw invalid(`primary field not support default_value, field name = ${name}`)
  if (isVectorType(dataType) || dataType === 'JSON' || dataType === 'Array') {
    throw invalid(`type not support default_value, field name = ${name}, type = ${dataType}`)
  }
  const v = dv as Wire
  const key = oneofKey(v, ['bool_data', 'int_data', 'long_data', 'float_data', 'double_data', 'string_data', 'bytes_data', 'timestamptz_data'])
  if (key === undefined) throw invalid(`default value of field (${name}) is empty`)
  const mismatch = (valueType: string): DbError =>
    invalid(`type (${dataType}) of field (${name}) is not equal to the type(DataType_${valueType}) of default_value`)
  const raw = v[key]
  switch (key) {
    case 'bool_data':
      if (dataType !== 'Bool') throw mismatch('Bool')
      return Boolean(raw)
    case 'int_data': {
      if (dataType !== 'Int8' && dataType !== 'Int16' && dataType !== 'Int32') throw mismatch('Int')
      const n = Number(raw)
      const [lo, hi] = INT_RANGES[dataType]
      if (!Number.isInteger(n) || n < lo || n > hi) {
        throw invalid(`default value of field (${name}) out of range: [${String(raw)} out of range ${lo} <= value <= ${hi}]`)
      }
      return n
    }
    case 'long_data': {
      if (dataType !== 'Int64') throw mismatch('Int64')
      const n = toInt64(raw)
      if (n === undefined) throw invalid(`default value of field (${name}) is not a valid int64: ${String(raw)}`)
      return n
    }
    case 'float_data': {
      if (dataType !== 'Float') throw mismatch('Float')
      const n = Math.fround(Number(raw))
      if (!Number.isFinite(n)) throw invalid(`default value of field (${name}) is not a number or infinity`)
      return n
    }
    case 'double_data': {
      if (dataType !== 'Double') throw mismatch('Double')
      const n = Number(raw)
      if (!Number.isFinite(n)) throw invalid(`default value of field (${name}) is not a number or infinity`)
      return n
    }
    case 'string_data': {
      if (dataType !== 'VarChar') throw mismatch('VarChar')
      const s = String(raw)
      const len = Buffer.byteLength(s, 'utf8')
      if (maxLength !== undefined && len > maxLength) {
        throw invalid(`the length (${len}) of string exceeds max length (${maxLength}) for default value of field (${name})`)
      }
      return s
    }
    case 'bytes_data':
      throw mismatch('JSON')
    default:
      throw mismatch('Timestamptz')
  }
}

const INT_RANGES: Record<'Int8' | 'Int16' | 'Int32', readonly [number, number]> = {
  Int8: [-128, 127],
  Int16: [-32768, 32767],
  Int32: [-2147483648, 2147483647],
}

function encodeField(f: FieldSchema, isFunctionOutput: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    fieldID: String(f.fieldId),
    name: f.name,
    is_primary_key: f.isPrimaryKey,
    description: f.description,
    data_type: f.dataType,
    type_params: kvList(f.typeParams),
    index_params: [],
    autoID: f.autoId,
    state: 'FieldCreated',
    element_type: f.elementType ?? 'None',
    is_dynamic: f.isDynamic,
    is_partition_key: f.isPartitionKey,
    is_clustering_key: f.isClusteringKey,
    nullable: f.nullable,
    is_function_output: isFunctionOutput,
  }
  if (f.defaultValue !== undefined) out['default_value'] = encodeDefaultValue(f, f.defaultValue)
  return out
}

function encodeDefaultValue(f: FieldSchema, v: ScalarValue): Record<string, unknown> {
  switch (f.dataType) {
    case 'Bool':
      return { bool_data: Boolean(v) }
    case 'Int8':
    case 'Int16':
    case 'Int32':
      return { int_data: Number(v) }
    case 'Int64':
      return { long_data: String(v) }
    case 'Float':
      return { float_data: Number(v) }
    case 'Double':
      return { double_data: Number(v) }
    default:
      return { string_data: String(v) }
  }
}

// ---------------------------------------------------------------------------------------------
// Functions (BM25 and friends). Harrier cannot compute function outputs yet, so after Milvus's own
// structural checks every function is refused rather than accepted and left unfilled at insert.

function functionFromWire(fn: Wire, fields: readonly FieldSchema[]): FunctionSchema {
  const name = str(fn, 'name')
  const type = typeof fn['type'] === 'number' ? String(fn['type']) : String(fn['type'] ?? 'Unknown')
  const inputs = list(fn, 'input_field_names').map(String)
  const outputs = list(fn, 'output_field_names').map(String)
  if (name === '') throw invalid('function name cannot be empty')
  if (inputs.length === 0) throw invalid(`function input field names cannot be empty, function: ${name}`)
  if (outputs.length === 0) throw invalid(`function output field names cannot be empty, function: ${name}`)
  for (const n of [...inputs, ...outputs]) {
    if (!fields.some((f) => f.name === n)) throw invalid(`function field not found: ${n}, function: ${name}`)
  }
  throw invalid(`function ${name} of type ${type} is not supported yet`)
}

// ---------------------------------------------------------------------------------------------
// Wire helpers

function decodeWire(typeName: string, bytes: Uint8Array): Wire {
  try {
    return loadMilvusProto().decode(typeName, bytes)
  } catch (e) {
    throw new DbError('ParameterInvalid', `cannot decode ${typeName.split('.').pop() ?? typeName}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      input: true,
    })
  }
}

function str(o: Wire, k: string): string {
  const v = o[k]
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v)
}

function bool(o: Wire, k: string): boolean {
  return o[k] === true
}

function list(o: Wire, k: string): unknown[] {
  const v = o[k]
  return Array.isArray(v) ? v : []
}

function kvMap(o: Wire, k: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const kv of list(o, k)) {
    if (kv && typeof kv === 'object') {
      const key = (kv as Wire)['key']
      const value = (kv as Wire)['value']
      if (typeof key === 'string') out[key] = typeof value === 'string' ? value : String(value ?? '')
    }
  }
  return out
}

function kvList(m: Readonly<Record<string, string>>): { key: string; value: string }[] {
  return Object.entries(m).map(([key, value]) => ({ key, value }))
}

/** Which member of a oneof is set: the protobufjs discriminator when present, else the first set key. */
export function oneofKey(o: Record<string, unknown>, keys: readonly string[]): string | undefined {
  const d = o['data']
  if (typeof d === 'string' && keys.includes(d)) return d
  return keys.find((k) => o[k] !== undefined && o[k] !== null)
}

function parseIntParam(raw: string): number | undefined {
  if (!/^\s*[+-]?\d+\s*$/.test(raw)) return undefined
  const n = Number(raw)
  return Number.isSafeInteger(n) ? n : undefined
}

/**
 * An int64 from the wire: a decimal string (protobufjs `longs: String`), a safe integer number, a
 * bigint, or a protobufjs Long. Returns undefined when it is not an exact int64.
 */
export function toInt64(v: unknown): bigint | undefined {
  let b: bigint
  if (typeof v === 'bigint') b = v
  else if (typeof v === 'string') {
    if (!/^\s*[+-]?\d+\s*$/.test(v)) return undefined
    b = BigInt(v.trim())
  } else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) return undefined
    b = BigInt(v)
  } else if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number; unsigned?: boolean }
    const u = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0)
    b = l.unsigned ? u : BigInt.asIntN(64, u)
  } else return undefined
  return BigInt.asIntN(64, b) === b ? b : undefined
}
