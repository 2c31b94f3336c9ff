/**
 * Columnar FieldData codec: Insert/Upsert `fields_data` into validated columns, and columns back
 * into the FieldData the SDK formats into rows (Search/Query results). Validation follows Milvus
 * 2.6's proxy (`validateUtil`, `checkFieldsDataBySchema`, `checkPrimaryFieldData`,
 * `verifyDynamicFieldData`, `FillWithNullValue`/`FillWithDefaultValue`), with the same limits and,
 * where practical, the same wording.
 *
 * Nullable data arrives compact: `valid_data` has one bool per row and the value array holds only
 * the valid rows. Columns are always full length: null rows keep a placeholder and `valid[row] = 0`.
 * Results go out full length as well, with `valid_data`, which is what the SDK expects.
 *
 * Host byte order is assumed little-endian (as on every platform Node ships for), so vector bytes
 * are reinterpreted in place of per-element DataView reads.
 */
import { DbError, invalid } from '../common/errors.js'
import type { ArrayCell, Column, ColumnOf, JsonValue, SparseRow, VectorColumn } from './columns.js'
import { oneofKey, toInt64 } from './schema-codec.js'
import { DYNAMIC_FIELD_NAME, isVectorType, type CollectionSchema, type FieldSchema, type ScalarValue } from './types.js'

/** Milvus `common.JSONMaxLength`: the largest JSON cell (and `$meta` row) accepted, in bytes. */
export const JSON_MAX_LENGTH = 65536

export interface DecodedBatch {
  readonly numRows: number
  /** Keyed by field name; one column for every field of the schema, `$meta` included when dynamic. */
  readonly columns: Map<string, Column>
  readonly primaryKeys: BigInt64Array | string[]
}

export interface DecodeInsertOptions {
  readonly mode: 'insert' | 'upsert'
  /** Allocates autoID primary keys (insert into an autoID collection only). */
  readonly allocateIds?: (n: number) => bigint[]
}

type Wire = Record<string, unknown>

const SCALAR_KEYS = [
  'bool_data',
  'int_data',
  'long_data',
  'float_data',
  'double_data',
  'string_data',
  'bytes_data',
  'array_data',
  'json_data',
  'geometry_data',
  'timestamptz_data',
  'geometry_wkt_data',
] as const
const VECTOR_KEYS = [
  'float_vector',
  'binary_vector',
  'float16_vector',
  'bfloat16_vector',
  'sparse_float_vector',
  'int8_vector',
  'vector_array',
] as const

/** The oneof member of ScalarField/VectorField each stored type travels in. */
const DATA_KEY: Record<string, string> = {
  Bool: 'bool_data',
  Int8: 'int_data',
  Int16: 'int_data',
  Int32: 'int_data',
  Int64: 'long_data',
  Float: 'float_data',
  Double: 'double_data',
  VarChar: 'string_data',
  JSON: 'json_data',
  Array: 'array_data',
  FloatVector: 'float_vector',
  BinaryVector: 'binary_vector',
  Float16Vector: 'float16_vector',
  BFloat16Vector: 'bfloat16_vector',
  Int8Vector: 'int8_vector',
  SparseFloatVector: 'sparse_float_vector',
}

const INT_RANGES: Record<string, readonly [number, number]> = {
  Int8: [-128, 127],
  Int16: [-32768, 32767],
  Int32: [-2147483648, 2147483647],
}

const SPARSE_MAX_INDEX = 0xffffffff // 2^32-1 is reserved by knowhere

// =============================================================================================
// Insert / Upsert decoding

/**
 * Insert/Upsert decoding: wire fields_data (one FieldData per field) + num_rows => validated
 * columns for EVERY stored field of the schema.
 * - insert into an autoID collection: the PK must not be sent; ids come from `allocateIds`;
 * - upsert: the PK must be sent (autoID or not) and must be unique within the batch;
 * - missing nullable fields read NULL, missing default-valued fields take the default, and NULL
 *   rows of default-valued fields take the default too (Milvus `FillWithDefaultValue`);
 * - a dynamic collection without a `$meta` column gets `{}` for every row.
 * @throws DbError ParameterInvalid (FieldNotFound for a column that is not in the schema).
 */
export function decodeInsertData(
  schema: CollectionSchema,
  fieldsData: readonly Record<string, unknown>[],
  numRows: number,
  opts: DecodeInsertOptions,
): DecodedBatch {
  if (!Number.isSafeInteger(numRows) || numRows <= 0) {
    throw invalid(`invalid num_rows ${numRows}: num_rows should be greater than 0`)
  }
  const byName = new Map<string, Wire>()
  for (const fd of fieldsData) {
    const name = wireFieldName(schema, fd)
    if (byName.has(name)) throw invalid(`duplicated field ${name} found`)
    byName.set(name, fd)
  }
  for (const name of byName.keys()) {
    const f = schema.fields.find((x) => x.name === name)
    if (f) continue
    if (name === DYNAMIC_FIELD_NAME) {
      throw invalid(`without dynamic schema enabled, the field name cannot be set to ${DYNAMIC_FIELD_NAME}`)
    }
    throw new DbError('FieldNotFound', `field ${name} does not exist in collection ${schema.name}`, { input: true })
  }

  const columns = new Map<string, Column>()
  let primaryKeys: BigInt64Array | string[] | undefined
  for (const f of schema.fields) {
    const fd = byName.get(f.name)
    let col: Column
    if (f.isPrimaryKey && f.autoId && opts.mode === 'insert') {
      if (fd) throw invalid(`can not assign primary field data when auto id enabled ${f.name}`)
      col = allocatedPkColumn(f, numRows, opts.allocateIds)
    } else if (fd) {
      col = decodeColumn(f, fd, numRows)
    } else if (f.isPrimaryKey && opts.mode === 'upsert') {
      throw invalid(`must assign pk when upsert, primary field: ${f.name}`)
    } else if (f.isDynamic) {
      col = { type: 'JSON', data: Array.from({ length: numRows }, () => ({})) }
    } else if (f.nullable || f.defaultValue !== undefined) {
      col = filledColumn(f, numRows)
    } else {
      throw invalid(`fieldSchema(${f.name}) has no corresponding fieldData pass in`)
    }
    if (f.isDynamic) checkDynamicKeys(schema, col as ColumnOf<'JSON'>)
    if (f.isPrimaryKey) primaryKeys = col.data as BigInt64Array | string[]
    columns.set(f.name, col)
  }
  if (!primaryKeys) throw new DbError('CollectionIllegalSchema', `collection ${schema.name} has no primary key`)
  if (opts.mode === 'upsert' && hasDuplicates(primaryKeys)) {
    throw invalid('duplicate primary keys are not allowed in the same batch')
  }
  return { numRows, columns, primaryKeys }
}

/** The schema field a FieldData belongs to: `is_dynamic` columns are `$meta`, as Milvus renames them. */
function wireFieldName(schema: CollectionSchema, fd: Wire): string {
  if (fd['is_dynamic'] === true) return DYNAMIC_FIELD_NAME
  const name = typeof fd['field_name'] === 'string' ? fd['field_name'] : ''
  if (name !== '') return name
  const id = toInt64(fd['field_id'])
  const byId = id !== undefined && id !== 0n ? schema.fields.find((f) => BigInt(f.fieldId) === id) : undefined
  if (byId) return byId.name
  throw invalid('field data without field_name')
}

function allocatedPkColumn(f: FieldSchema, numRows: number, allocate: DecodeInsertOptions['allocateIds']): Column {
  if (!allocate) throw new DbError('ServiceInternal', `no id allocator for autoID field ${f.name}`)
  const ids = allocate(numRows)
  if (ids.length !== numRows) {
    throw new DbError('ServiceInternal', `id allocator returned ${ids.length} ids for ${numRows} rows`)
  }
  // Milvus formats autoID VarChar keys as the decimal id (autoGenPrimaryFieldData).
  if (f.dataType === 'VarChar') return { type: 'VarChar', data: ids.map(String) }
  return { type: 'Int64', data: BigInt64Array.from(ids) }
}

/** `$meta` rows: JSON objects whose keys are neither `$meta` nor a static field's name. */
function checkDynamicKeys(schema: CollectionSchema, col: ColumnOf<'JSON'>): void {
  const statics = new Set(schema.fields.filter((f) => !f.isDynamic).map((f) => f.name))
  for (const obj of col.data) {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) continue
    for (const k of Object.keys(obj)) {
      if (k === DYNAMIC_FIELD_NAME) throw invalid(`cannot set json key to: ${DYNAMIC_FIELD_NAME}`)
      if (statics.has(k)) throw invalid(`dynamic field name cannot include the static field name: ${k}`)
    }
  }
}

function hasDuplicates(pks: BigInt64Array | string[]): boolean {
  const seen = new Set<bigint | string>()
  for (const k of pks) {
    if (seen.has(k)) return true
    seen.add(k)
  }
  return false
}

/** A whole column of NULLs, or of the default value where the field has one. */
function filledColumn(f: FieldSchema, numRows: number): Column {
  const layout = rowLayout(f, numRows, new Array<boolean>(numRows).fill(false))
  return buildScalar(f, [], layout)
}

// ---------------------------------------------------------------------------------------------
// Row layout: where the compact values go, and which rows are NULL

interface RowLayout {
  readonly numRows: number
  /** Row of each compact value. */
  readonly rows: Int32Array
  /** 1 = present; undefined when every row is present. */
  readonly valid: Uint8Array | undefined
}

function rowLayout(f: FieldSchema, numRows: number, validData: readonly unknown[]): RowLayout {
  if (validData.length === 0) {
    const rows = new Int32Array(numRows)
    for (let i = 0; i < numRows; i++) rows[i] = i
    return { numRows, rows, valid: undefined }
  }
  if (validData.length !== numRows) {
    throw invalid(`the length of valid_data of field(${f.name}) is wrong: expected ${numRows}, got ${validData.length}`)
  }
  const valid = new Uint8Array(numRows)
  let n = 0
  for (let i = 0; i < numRows; i++) if (validData[i] === true) n++
  const rows = new Int32Array(n)
  n = 0
  for (let i = 0; i < numRows; i++) {
    if (validData[i] !== true) continue
    valid[i] = 1
    rows[n++] = i
  }
  if (n < numRows && !f.nullable && f.defaultValue === undefined) {
    const row = validData.findIndex((v) => v !== true)
    throw invalid(`field ${f.name} is not nullable but valid_data marks row ${row} as null`)
  }
  return { numRows, rows, valid: n === numRows ? undefined : valid }
}

function checkCount(f: FieldSchema, layout: RowLayout, got: number): void {
  if (got === layout.rows.length) return
  if (layout.valid === undefined) {
    throw invalid(`the num_rows (${got}) of field (${f.name}) is not equal to passed num_rows (${layout.numRows})`)
  }
  throw invalid(
    `the length of field (${f.name}) is wrong: valid_data has ${layout.rows.length} valid rows but ${got} values were sent`,
  )
}

// ---------------------------------------------------------------------------------------------
// One column

function decodeColumn(f: FieldSchema, fd: Wire, numRows: number): Column {
  const wireType = fd['type']
  if (typeof wireType === 'string' && wireType !== 'None' && wireType !== f.dataType) {
    throw invalid(`the data type (${wireType}) of field data (${f.name}) does not match schema data type (${f.dataType})`)
  }
  const validData = Array.isArray(fd['valid_data']) ? (fd['valid_data'] as unknown[]) : []
  if (isVectorType(f.dataType)) {
    if (validData.some((v) => v !== true)) throw invalid(`vector type not support null, field name = ${f.name}`)
    return decodeVectorColumn(f, fd, numRows)
  }
  const layout = rowLayout(f, numRows, validData)
  const expected = DATA_KEY[f.dataType]!
  const scalars = fd['scalars']
  if (fd['vectors'] && !scalars) {
    throw invalid(`field ${f.name} of type ${f.dataType} expects scalar ${expected} but got vector data`)
  }
  let values: unknown[] = []
  if (scalars && typeof scalars === 'object') {
    const key = oneofKey(scalars as Wire, SCALAR_KEYS)
    if (key !== undefined && key !== expected) {
      throw invalid(`field ${f.name} of type ${f.dataType} expects ${expected} but got ${key}`)
    }
    if (key !== undefined) {
      const payload = (scalars as Wire)[key] as Wire | null
      const d = payload?.['data']
      values = Array.isArray(d) ? d : []
    } else if (layout.rows.length > 0) {
      throw invalid(`field '${f.name}' is illegal, array type mismatch: need ${expected}, got nil`)
    }
  } else if (layout.rows.length > 0) {
    throw invalid(`field '${f.name}' is illegal, array type mismatch: need ${expected}, got nil`)
  }
  checkCount(f, layout, values.length)
  if (f.dataType === 'Array') checkArrayElementType(f, scalars as Wire)
  return buildScalar(f, values, layout)
}

function checkArrayElementType(f: FieldSchema, scalars: Wire | undefined): void {
  const arr = scalars?.['array_data'] as Wire | undefined
  const et = arr?.['element_type']
  if (typeof et === 'string' && et !== 'None' && et !== f.elementType) {
    throw invalid(`the element type (${et}) of array field data (${f.name}) does not match schema element type (${f.elementType})`)
  }
}

/**
 * Expands compact scalar values into a full column: values land at `layout.rows`, NULL rows take
 * the default (and become valid) or a placeholder with `valid = 0`. Non-nullable fields never keep
 * a `valid` array; nullable ones always have one.
 */
function buildScalar(f: FieldSchema, values: readonly unknown[], layout: RowLayout): Column {
  const { numRows, rows } = layout
  const valid = f.nullable ? (layout.valid ? layout.valid : new Uint8Array(numRows).fill(1)) : undefined
  const nullRows: number[] = []
  if (layout.valid) for (let r = 0; r < numRows; r++) if (layout.valid[r] === 0) nullRows.push(r)
  const dv = f.defaultValue
  // Rows that stay NULL after defaults are applied.
  const fillDefault = (set: (row: number, v: ScalarValue) => void): void => {
    if (dv === undefined) return
    for (const r of nullRows) {
      set(r, dv)
      if (valid) valid[r] = 1
    }
  }
  const withValid = <C extends Column>(c: C): C => (valid ? { ...c, valid } : c)

  switch (f.dataType) {
    case 'Bool': {
      const data = new Uint8Array(numRows)
      values.forEach((v, i) => {
        const row = rows[i]!
        if (typeof v !== 'boolean') throw badValue(f, row, 'a boolean', v)
        data[row] = v ? 1 : 0
      })
      fillDefault((r, v) => (data[r] = v ? 1 : 0))
      return withValid({ type: 'Bool', data })
    }
    case 'Int8':
    case 'Int16':
    case 'Int32': {
      const data = f.dataType === 'Int8' ? new Int8Array(numRows) : f.dataType === 'Int16' ? new Int16Array(numRows) : new Int32Array(numRows)
      const [lo, hi] = INT_RANGES[f.dataType]!
      values.forEach((v, i) => {
        const row = rows[i]!
        const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN
        if (!Number.isInteger(n)) throw badValue(f, row, 'an integer', v)
        if (n < lo || n > hi) {
          throw invalid(`the ${row}th element (${n}) of field ${f.name} out of range: [${lo}, ${hi}]`)
        }
        data[row] = n
      })
      fillDefault((r, v) => (data[r] = Number(v)))
      return withValid({ type: f.dataType, data } as Column)
    }
    case 'Int64': {
      const data = new BigInt64Array(numRows)
      values.forEach((v, i) => {
        const row = rows[i]!
        const n = toInt64(v)
        if (n === undefined) throw badValue(f, row, 'an int64', v)
        data[row] = n
      })
      fillDefault((r, v) => (data[r] = BigInt(v)))
      return withValid({ type: 'Int64', data })
    }
    case 'Float':
    case 'Double': {
      const data = f.dataType === 'Float' ? new Float32Array(numRows) : new Float64Array(numRows)
      values.forEach((v, i) => {
        const row = rows[i]!
        if (typeof v !== 'number') throw badValue(f, row, 'a number', v)
        const n = f.dataType === 'Float' ? Math.fround(v) : v
        if (!Number.isFinite(n)) throw invalid(`value '${v}' of field ${f.name} at row ${row} is not a number or infinity`)
        data[row] = n
      })
      fillDefault((r, v) => (data[r] = Number(v)))
      return withValid({ type: f.dataType, data } as Column)
    }
    case 'VarChar': {
      const data = new Array<string>(numRows).fill('')
      // Milvus skips max_length for autoID keys (issue 25580); they are generated, not sent.
      const max = f.autoId ? Infinity : (f.maxLength ?? Infinity)
      values.forEach((v, i) => {
        const row = rows[i]!
        if (typeof v !== 'string') throw badValue(f, row, 'a string', v)
        const len = Buffer.byteLength(v, 'utf8')
        if (len > max) {
          throw invalid(`length of varchar field ${f.name} exceeds max length, row number: ${row}, length: ${len}, max length: ${max}`)
        }
        data[row] = v
      })
      fillDefault((r, v) => (data[r] = String(v)))
      return withValid({ type: 'VarChar', data })
    }
    case 'JSON': {
      const data = new Array<JsonValue>(numRows).fill(null)
      values.forEach((v, i) => {
        const row = rows[i]!
        data[row] = decodeJsonCell(f, row, v)
      })
      // The SDK sends empty bytes for a falsy JSON value and the SDK reads empty bytes back as
      // null; on a nullable field such a cell is a NULL.
      if (valid && !f.isDynamic) for (const r of rows) if (data[r] === null) valid[r] = 0
      return withValid({ type: 'JSON', data })
    }
    case 'Array': {
      const data = new Array<ArrayCell>(numRows)
      for (let r = 0; r < numRows; r++) data[r] = []
      values.forEach((v, i) => {
        const row = rows[i]!
        data[row] = decodeArrayCell(f, row, v)
      })
      return withValid({ type: 'Array', elementType: f.elementType!, data })
    }
    default:
      throw new DbError('ServiceInternal', `field ${f.name}: ${f.dataType} is not a scalar type`)
  }
}

function decodeJsonCell(f: FieldSchema, row: number, v: unknown): JsonValue {
  const bytes = asBytes(v)
  if (!bytes) throw badValue(f, row, 'JSON bytes', v)
  if (bytes.length > JSON_MAX_LENGTH) {
    if (f.isDynamic) throw invalid(`the length (${bytes.length}) of dynamic field exceeds max length (${JSON_MAX_LENGTH})`)
    throw invalid(`the length (${bytes.length}) of json field (${f.name}) exceeds max length (${JSON_MAX_LENGTH})`)
  }
  if (bytes.length === 0 && !f.isDynamic) return null
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e)
    if (f.isDynamic) throw invalid(`invalid dynamic field data, only json map is supported: row ${row}: ${why}`)
    throw invalid(`invalid JSON in field ${f.name} at row ${row}: ${why}`)
  }
  if (f.isDynamic && (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))) {
    throw invalid(`invalid dynamic field data, only json map is supported: row ${row} is not a JSON object`)
  }
  return parsed as JsonValue
}

function decodeArrayCell(f: FieldSchema, row: number, v: unknown): ArrayCell {
  const et = f.elementType!
  const expected = DATA_KEY[et]!
  if (!v || typeof v !== 'object') throw invalid(`array field ${f.name} row ${row}: need ${et} array, got nil`)
  const key = oneofKey(v as Wire, SCALAR_KEYS)
  if (key === undefined) throw invalid(`array field ${f.name} row ${row}: need ${et} array, got nil`)
  if (key !== expected) throw invalid(`array field ${f.name} row ${row}: need ${et} array (${expected}), got ${key}`)
  const d = ((v as Wire)[key] as Wire | null)?.['data']
  const items = Array.isArray(d) ? d : []
  const cap = f.maxCapacity ?? Infinity
  if (items.length > cap) {
    throw invalid(`the length (${items.length}) of ${row}th array of field ${f.name} exceeds max capacity (${cap})`)
  }
  const bad = (i: number, what: string, x: unknown): DbError =>
    invalid(`array field ${f.name} row ${row} index ${i}: expected ${what}, got ${describe(x)}`)
  switch (et) {
    case 'Bool':
      return items.map((x, i) => {
        if (typeof x !== 'boolean') throw bad(i, 'a boolean', x)
        return x
      })
    case 'Int8':
    case 'Int16':
    case 'Int32': {
      const [lo, hi] = INT_RANGES[et]!
      return items.map((x, i) => {
        if (typeof x !== 'number' || !Number.isInteger(x)) throw bad(i, 'an integer', x)
        if (x < lo || x > hi) throw invalid(`the ${i}th element (${x}) of array field ${f.name} row ${row} out of range: [${lo}, ${hi}]`)
        return x
      })
    }
    case 'Int64':
      return items.map((x, i) => {
        const n = toInt64(x)
        if (n === undefined) throw bad(i, 'an int64', x)
        return n
      })
    case 'Float':
    case 'Double':
      return items.map((x, i) => {
        if (typeof x !== 'number') throw bad(i, 'a number', x)
        return et === 'Float' ? Math.fround(x) : x
      })
    case 'VarChar': {
      const max = f.maxLength ?? Infinity
      return items.map((x, i) => {
        if (typeof x !== 'string') throw bad(i, 'a string', x)
        const len = Buffer.byteLength(x, 'utf8')
        if (len > max) {
          throw invalid(
            `length of VarChar array field "${f.name}" exceeds max length, row number: ${row}, array index: ${i}, length: ${len}, max length: ${max}`,
          )
        }
        return x
      })
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Vectors

function decodeVectorColumn(f: FieldSchema, fd: Wire, numRows: number): VectorColumn {
  const expected = DATA_KEY[f.dataType]!
  const vectors = fd['vectors']
  if (!vectors || typeof vectors !== 'object') {
    throw invalid(`field ${f.name} of type ${f.dataType} expects vector ${expected} but got ${fd['scalars'] ? 'scalar data' : 'nil'}`)
  }
  const vw = vectors as Wire
  const key = oneofKey(vw, VECTOR_KEYS)
  if (key !== expected) throw invalid(`field ${f.name} of type ${f.dataType} expects ${expected} but got ${key ?? 'nil'}`)
  const payload = vw[key]
  if (f.dataType === 'SparseFloatVector') {
    const contents = (payload as Wire | null)?.['contents']
    const rowsIn = Array.isArray(contents) ? contents : []
    if (rowsIn.length !== numRows) {
      throw invalid(`the num_rows (${rowsIn.length}) of field (${f.name}) is not equal to passed num_rows (${numRows})`)
    }
    return { type: 'SparseFloatVector', data: rowsIn.map((b, r) => decodeSparseRow(f.name, r, b)) }
  }
  const dim = f.dim!
  // Milvus compares the FieldData's dim with the schema's; a missing (zero) dim is tolerated.
  const wireDim = toInt64(vw['dim'])
  if (wireDim !== undefined && wireDim !== 0n && wireDim !== BigInt(dim)) {
    throw invalid(`the dim (${wireDim}) of field data(${f.name}) is not equal to schema dim (${dim})`)
  }
  if (f.dataType === 'FloatVector') {
    const d = (payload as Wire | null)?.['data']
    const arr = Array.isArray(d) ? (d as unknown[]) : []
    checkVectorRows(f, arr.length, dim, numRows)
    const data = new Float32Array(arr.length)
    for (let i = 0; i < arr.length; i++) {
      const x = arr[i]
      const n = typeof x === 'number' ? Math.fround(x) : NaN
      if (!Number.isFinite(n)) {
        throw invalid(`float vector field ${f.name} row ${Math.floor(i / dim)}: value '${String(x)}' is not a number or infinity`)
      }
      data[i] = n
    }
    return { type: 'FloatVector', dim, data }
  }
  const bytes = asBytes(payload)
  if (!bytes) throw invalid(`field ${f.name}: ${expected} must be bytes`)
  const width = vectorRowBytes(f.dataType, dim)
  checkVectorRows(f, bytes.length, width, numRows)
  return bytesToVectorColumn(f, bytes, dim, 'field data')
}

function checkVectorRows(f: FieldSchema, len: number, perRow: number, numRows: number): void {
  if (len % perRow !== 0) {
    throw invalid(`the length (${len}) of ${f.dataType} field ${f.name} is not a multiple of the row size ${perRow} (dim ${f.dim})`)
  }
  const n = len / perRow
  if (n !== numRows) throw invalid(`the num_rows (${n}) of field (${f.name}) is not equal to passed num_rows (${numRows})`)
}

/** Bytes per row of a dense vector type (dim in bits for BinaryVector). */
function vectorRowBytes(t: string, dim: number): number {
  switch (t) {
    case 'FloatVector':
      return 4 * dim
    case 'BinaryVector':
      return dim / 8
    case 'Float16Vector':
    case 'BFloat16Vector':
      return 2 * dim
    default:
      return dim
  }
}

/** Reinterprets whole rows of vector bytes (already length-checked) as a typed column, copying. */
function bytesToVectorColumn(f: FieldSchema, bytes: Uint8Array, dim: number, what: string): VectorColumn {
  const copy = new Uint8Array(bytes) // aligned, detached from the request buffer
  switch (f.dataType) {
    case 'FloatVector': {
      const data = new Float32Array(copy.buffer)
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) {
          throw invalid(`${what} of field ${f.name} row ${Math.floor(i / dim)} has value ${data[i]} which is not a number or infinity`)
        }
      }
      return { type: 'FloatVector', dim, data }
    }
    case 'BinaryVector':
      return { type: 'BinaryVector', dim, data: copy }
    case 'Float16Vector':
    case 'BFloat16Vector': {
      const data = new Uint16Array(copy.buffer)
      // Exponent all ones = NaN or Inf: half 0x7c00, bfloat16 0x7f80.
      const mask = f.dataType === 'Float16Vector' ? 0x7c00 : 0x7f80
      for (let i = 0; i < data.length; i++) {
        if ((data[i]! & mask) === mask) {
          throw invalid(`${what} of ${f.dataType} field ${f.name} row ${Math.floor(i / dim)} has a NaN or Inf value`)
        }
      }
      return { type: f.dataType, dim, data }
    }
    case 'Int8Vector':
      return { type: 'Int8Vector', dim, data: new Int8Array(copy.buffer) }
    default:
      throw new DbError('ServiceInternal', `field ${f.name}: ${f.dataType} is not a dense vector type`)
  }
}

/** One sparse row: (u32 LE index, f32 LE value) pairs; indices unique, sorted ascending here. */
function decodeSparseRow(name: string, row: number, b: unknown): SparseRow {
  const bytes = asBytes(b)
  if (!bytes) throw invalid(`sparse float vector field ${name} row ${row}: expected bytes`)
  if (bytes.length % 8 !== 0) {
    throw invalid(`sparse float vector field ${name} row ${row}: invalid data length ${bytes.length}, must be a multiple of 8`)
  }
  const n = bytes.length / 8
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const indices = new Uint32Array(n)
  const values = new Float32Array(n)
  let sorted = true
  for (let i = 0; i < n; i++) {
    const idx = view.getUint32(i * 8, true)
    const val = view.getFloat32(i * 8 + 4, true)
    if (idx === SPARSE_MAX_INDEX) {
      throw invalid(`sparse float vector field ${name} row ${row}: index ${idx} must be less than 2^32-1`)
    }
    if (!Number.isFinite(val)) {
      throw invalid(`sparse float vector field ${name} row ${row}: value ${val} at index ${idx} is not a number or infinity`)
    }
    if (i > 0 && idx <= indices[i - 1]!) sorted = false
    indices[i] = idx
    values[i] = val
  }
  if (sorted) return { indices, values }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b2) => indices[a]! - indices[b2]!)
  const si = new Uint32Array(n)
  const sv = new Float32Array(n)
  order.forEach((o, i) => {
    si[i] = indices[o]!
    sv[i] = values[o]!
    if (i > 0 && si[i] === si[i - 1]) {
      throw invalid(`sparse float vector field ${name} row ${row}: unsorted or same indices in sparse float vector (index ${si[i]} repeats)`)
    }
  })
  return { indices: si, values: sv }
}

// =============================================================================================
// Placeholders (search vectors)

/**
 * Decodes a vector placeholder value list (PlaceholderValue.values: one bytes per query) into a
 * vector column of nq rows, checking it against the field (type, dim). PlaceholderType names:
 * 'FloatVector','BinaryVector','Float16Vector','BFloat16Vector','Int8Vector','SparseFloatVector'.
 */
export function decodePlaceholderVectors(field: FieldSchema, placeholderType: string, values: readonly Uint8Array[]): VectorColumn {
  if (!isVectorType(field.dataType)) throw invalid(`field ${field.name} is not a vector field, its type is ${field.dataType}`)
  if (placeholderType !== field.dataType) {
    throw invalid(`the search vector type ${placeholderType} does not match the type ${field.dataType} of field ${field.name}`)
  }
  if (field.dataType === 'SparseFloatVector') {
    return { type: 'SparseFloatVector', data: values.map((b, r) => decodeSparseRow(field.name, r, b)) }
  }
  const dim = field.dim!
  const width = vectorRowBytes(field.dataType, dim)
  const all = new Uint8Array(width * values.length)
  values.forEach((b, q) => {
    if (b.length !== width) {
      const got = field.dataType === 'BinaryVector' ? b.length * 8 : b.length / (width / dim)
      throw invalid(`the dim (${got}) of search vector ${q} is not equal to schema dim (${dim}) of field ${field.name}`)
    }
    all.set(b, q * width)
  })
  return bytesToVectorColumn(field, all, dim, `search vector`)
}

// =============================================================================================
// Encoding (Search/Query results)

/**
 * Encodes rows for Search/Query results: one wire FieldData per requested field, FULL length with
 * valid_data for nullable fields (valid_data empty for non-nullable).
 */
export function encodeFieldData(field: FieldSchema, col: Column): Record<string, unknown> {
  const n = columnLength(col)
  const base = {
    type: field.dataType,
    field_name: field.name,
    field_id: String(field.fieldId),
    is_dynamic: field.isDynamic,
    valid_data: field.nullable ? Array.from({ length: n }, (_, i) => (col.valid ? col.valid[i] === 1 : true)) : [],
  }
  switch (col.type) {
    case 'Bool':
      return { ...base, scalars: { bool_data: { data: Array.from(col.data, (x) => x === 1) } } }
    case 'Int8':
    case 'Int16':
    case 'Int32':
      return { ...base, scalars: { int_data: { data: Array.from(col.data) } } }
    case 'Int64':
      return { ...base, scalars: { long_data: { data: Array.from(col.data, String) } } }
    case 'Float':
      return { ...base, scalars: { float_data: { data: Array.from(col.data) } } }
    case 'Double':
      return { ...base, scalars: { double_data: { data: Array.from(col.data) } } }
    case 'VarChar':
      return { ...base, scalars: { string_data: { data: [...col.data] } } }
    case 'JSON':
      return { ...base, scalars: { json_data: { data: col.data.map((v, i) => jsonCellBytes(v, col.valid, i)) } } }
    case 'Array': {
      const key = DATA_KEY[col.elementType]!
      const conv = col.elementType === 'Int64' ? (x: unknown) => String(x) : (x: unknown) => x
      const data = col.data.map((cell) => ({ [key]: { data: (cell as unknown[]).map(conv) } }))
      return { ...base, scalars: { array_data: { element_type: col.elementType, data } } }
    }
    case 'FloatVector':
      return { ...base, vectors: { dim: String(col.dim), float_vector: { data: Array.from(col.data) } } }
    case 'BinaryVector':
      return { ...base, vectors: { dim: String(col.dim), binary_vector: bufferOf(col.data) } }
    case 'Float16Vector':
      return { ...base, vectors: { dim: String(col.dim), float16_vector: bufferOf(col.data) } }
    case 'BFloat16Vector':
      return { ...base, vectors: { dim: String(col.dim), bfloat16_vector: bufferOf(col.data) } }
    case 'Int8Vector':
      return { ...base, vectors: { dim: String(col.dim), int8_vector: bufferOf(col.data) } }
    case 'SparseFloatVector': {
      let dim = 0
      const contents = col.data.map((r) => {
        if (r.indices.length > 0) dim = Math.max(dim, r.indices[r.indices.length - 1]! + 1)
        return sparseRowBytes(r)
      })
      return { ...base, vectors: { dim: String(dim), sparse_float_vector: { dim: String(dim), contents } } }
    }
  }
}

/**
 * `$meta` output restricted to some dynamic keys (Milvus returns only the requested dynamic keys
 * when output_fields names them; all of `$meta` for '*').
 */
export function encodeDynamicField(field: FieldSchema, col: ColumnOf<'JSON'>, keys: readonly string[] | 'all'): Record<string, unknown> {
  if (keys === 'all') return encodeFieldData(field, col)
  const data = col.data.map((obj) => {
    const out: Record<string, JsonValue> = {}
    if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
      for (const k of keys) if (Object.prototype.hasOwnProperty.call(obj, k)) out[k] = obj[k]!
    }
    return out as JsonValue
  })
  return encodeFieldData(field, { type: 'JSON', data, ...(col.valid ? { valid: col.valid } : {}) })
}

/** Wire schema.IDs for primary keys ({int_id:{data:[...]}} or {str_id:{data:[...]}}). */
export function encodeIds(pks: BigInt64Array | readonly bigint[] | readonly string[], pkType: 'Int64' | 'VarChar'): Record<string, unknown> {
  const data = Array.from(pks as ArrayLike<bigint | string>, String)
  return pkType === 'Int64' ? { int_id: { data } } : { str_id: { data } }
}

function jsonCellBytes(v: JsonValue, valid: Uint8Array | undefined, i: number): Buffer {
  // The SDK decodes empty bytes as null, which is how Milvus returns NULL JSON cells.
  if ((valid && valid[i] === 0) || v === null || v === undefined) return Buffer.alloc(0)
  return Buffer.from(JSON.stringify(v), 'utf8')
}

function bufferOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength)
}

function sparseRowBytes(r: SparseRow): Buffer {
  const b = Buffer.alloc(r.indices.length * 8)
  for (let i = 0; i < r.indices.length; i++) {
    b.writeUInt32LE(r.indices[i]!, i * 8)
    b.writeFloatLE(r.values[i]!, i * 8 + 4)
  }
  return b
}

// =============================================================================================
// Column assembly

/** Number of rows of a column (vectors count rows, not elements). */
function columnLength(col: Column): number {
  switch (col.type) {
    case 'FloatVector':
    case 'Float16Vector':
    case 'BFloat16Vector':
    case 'Int8Vector':
      return col.dim === 0 ? 0 : col.data.length / col.dim
    case 'BinaryVector':
      return col.data.length / (col.dim / 8)
    default:
      return col.data.length
  }
}

/** Elements per row in `data` for the fixed-width types; 1 for the others. */
function rowWidth(field: FieldSchema): number {
  switch (field.dataType) {
    case 'FloatVector':
    case 'Float16Vector':
    case 'BFloat16Vector':
    case 'Int8Vector':
      return field.dim!
    case 'BinaryVector':
      return field.dim! / 8
    default:
      return 1
  }
}

type AnyArray = { length: number; [i: number]: unknown }

/** A fresh `data` container of `rows` rows for the field's type. */
function allocData(field: FieldSchema, rows: number): AnyArray {
  const n = rows * rowWidth(field)
  switch (field.dataType) {
    case 'Bool':
    case 'BinaryVector':
      return new Uint8Array(n)
    case 'Int8':
    case 'Int8Vector':
      return new Int8Array(n)
    case 'Int16':
      return new Int16Array(n)
    case 'Int32':
      return new Int32Array(n)
    case 'Int64':
      return new BigInt64Array(n)
    case 'Float':
    case 'FloatVector':
      return new Float32Array(n)
    case 'Double':
      return new Float64Array(n)
    case 'Float16Vector':
    case 'BFloat16Vector':
      return new Uint16Array(n)
    default:
      return new Array<unknown>(n)
  }
}

function wrap(field: FieldSchema, data: AnyArray, valid: Uint8Array | undefined): Column {
  const v = field.nullable ? { valid: valid ?? new Uint8Array(columnRowsOf(field, data)).fill(1) } : {}
  switch (field.dataType) {
    case 'FloatVector':
    case 'BinaryVector':
    case 'Float16Vector':
    case 'BFloat16Vector':
    case 'Int8Vector':
      return { type: field.dataType, dim: field.dim!, data, ...v } as Column
    case 'Array':
      return { type: 'Array', elementType: field.elementType!, data, ...v } as Column
    default:
      return { type: field.dataType, data, ...v } as Column
  }
}

function columnRowsOf(field: FieldSchema, data: AnyArray): number {
  return data.length / rowWidth(field)
}

export function emptyColumn(field: FieldSchema): Column {
  return wrap(field, allocData(field, 0), field.nullable ? new Uint8Array(0) : undefined)
}

/** Gathers rows (chunk index, row offset) from several columns of the same field into one new column. */
export function takeRows(field: FieldSchema, parts: readonly Column[], picks: { chunk: Int32Array; row: Int32Array }): Column {
  const n = picks.chunk.length
  if (picks.row.length !== n) throw new DbError('ServiceInternal', 'takeRows: chunk and row picks differ in length')
  const w = rowWidth(field)
  const out = allocData(field, n)
  const valid = field.nullable ? new Uint8Array(n) : undefined
  const typed = ArrayBuffer.isView(out)
  for (let i = 0; i < n; i++) {
    const part = parts[picks.chunk[i]!]
    const r = picks.row[i]!
    if (!part) throw new DbError('ServiceInternal', `takeRows: no chunk ${picks.chunk[i]} for field ${field.name}`)
    const src = part.data as AnyArray
    if (typed && w > 1) {
      ;(out as unknown as Uint8Array).set((src as unknown as Uint8Array).subarray(r * w, r * w + w), i * w)
    } else {
      out[i] = src[r]
    }
    if (valid) valid[i] = part.valid ? part.valid[r]! : 1
  }
  return wrap(field, out, valid)
}

export function concatColumns(field: FieldSchema, parts: readonly Column[]): Column {
  let rows = 0
  for (const p of parts) rows += columnLength(p)
  const out = allocData(field, rows)
  const valid = field.nullable ? new Uint8Array(rows) : undefined
  let at = 0
  for (const p of parts) {
    const len = columnLength(p)
    const src = p.data as AnyArray
    if (ArrayBuffer.isView(out)) {
      ;(out as unknown as Uint8Array).set(src as unknown as Uint8Array, at * rowWidth(field))
    } else {
      for (let i = 0; i < src.length; i++) out[at + i] = src[i]
    }
    if (valid) {
      if (p.valid) valid.set(p.valid, at)
      else valid.fill(1, at, at + len)
    }
    at += len
  }
  return wrap(field, out, valid)
}

// =============================================================================================
// Small helpers

function asBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v
  if (typeof v === 'string') return Buffer.from(v, 'base64')
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return Uint8Array.from(v as number[])
  return undefined
}

function badValue(f: FieldSchema, row: number, expected: string, got: unknown): DbError {
  return invalid(`field ${f.name} row ${row}: expected ${expected}, got ${describe(got)}`)
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x)
  if (typeof x === 'string') return `string "${x.length > 32 ? `${x.slice(0, 32)}...` : x}"`
  if (typeof x === 'object') return Array.isArray(x) ? 'array' : 'object'
  return `${typeof x} ${String(x)}`
}
