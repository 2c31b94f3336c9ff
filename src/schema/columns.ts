/**
 * Columnar row data: one typed array per field, the layout of growing-segment chunks, sealed
 * segments and decoded insert batches alike. No per-row objects for numbers or vectors.
 *
 * Invariants:
 * - every column of a chunk has exactly `numRows` rows;
 * - `valid` (1 = value present, 0 = null) exists only for nullable fields; a null row's slot in
 *   `data` holds a zero/empty placeholder so offsets stay aligned;
 * - Int64 values are bigint (exact), JSON cells are parsed values (null = SQL null).
 */
import type { ArrayElementTypeName, StoredTypeName } from './types.js'

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue }
export type ArrayCell = boolean[] | number[] | bigint[] | string[]

export interface SparseRow {
  /** Ascending, unique dimension indices. */
  readonly indices: Uint32Array
  readonly values: Float32Array
}

interface Base {
  readonly valid?: Uint8Array
}

export type Column =
  | (Base & { readonly type: 'Bool'; readonly data: Uint8Array })
  | (Base & { readonly type: 'Int8'; readonly data: Int8Array })
  | (Base & { readonly type: 'Int16'; readonly data: Int16Array })
  | (Base & { readonly type: 'Int32'; readonly data: Int32Array })
  | (Base & { readonly type: 'Int64'; readonly data: BigInt64Array })
  | (Base & { readonly type: 'Float'; readonly data: Float32Array })
  | (Base & { readonly type: 'Double'; readonly data: Float64Array })
  | (Base & { readonly type: 'VarChar'; readonly data: string[] })
  | (Base & { readonly type: 'JSON'; readonly data: JsonValue[] })
  | (Base & { readonly type: 'Array'; readonly elementType: ArrayElementTypeName; readonly data: ArrayCell[] })
  | (Base & { readonly type: 'FloatVector'; readonly dim: number; readonly data: Float32Array })
  /** dim in bits; dim/8 bytes per row. */
  | (Base & { readonly type: 'BinaryVector'; readonly dim: number; readonly data: Uint8Array })
  /** IEEE half floats, raw bits. */
  | (Base & { readonly type: 'Float16Vector'; readonly dim: number; readonly data: Uint16Array })
  /** bfloat16, raw bits (upper half of a float32). */
  | (Base & { readonly type: 'BFloat16Vector'; readonly dim: number; readonly data: Uint16Array })
  | (Base & { readonly type: 'Int8Vector'; readonly dim: number; readonly data: Int8Array })
  | (Base & { readonly type: 'SparseFloatVector'; readonly data: SparseRow[] })

export type ColumnOf<T extends StoredTypeName> = Extract<Column, { type: T }>
export type VectorColumn = ColumnOf<
  'FloatVector' | 'BinaryVector' | 'Float16Vector' | 'BFloat16Vector' | 'Int8Vector' | 'SparseFloatVector'
>

/** A run of rows with all of a collection's columns, keyed by field name ($meta for dynamic keys). */
export interface ColumnChunk {
  readonly numRows: number
  readonly columns: ReadonlyMap<string, Column>
}

export function isNull(col: Column, row: number): boolean {
  return col.valid !== undefined && col.valid[row] === 0
}

/** Number of rows a column holds (vectors count rows, not elements). */
export function columnRows(col: Column): number {
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
