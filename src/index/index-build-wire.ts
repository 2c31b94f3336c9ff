/**
 * Messages between IndexBuildPool and its workers. Columns travel as transferable ArrayBuffers
 * (typed arrays cannot be transferred by view); the sparse column is flattened to three arrays.
 */
import { DbError, ERRORS, type ErrorKind } from '../common/errors.js'
import type { SparseRow, VectorColumn } from '../schema/columns.js'
import type { MetricType } from './metric.js'

export type WireColumn =
  | {
      readonly type: Exclude<VectorColumn['type'], 'SparseFloatVector'>
      readonly dim: number
      readonly data: ArrayBuffer
      readonly valid?: ArrayBuffer
    }
  | {
      readonly type: 'SparseFloatVector'
      /** rows + 1 Uint32 offsets into indices/values. */
      readonly offsets: ArrayBuffer
      readonly indices: ArrayBuffer
      readonly values: ArrayBuffer
      readonly valid?: ArrayBuffer
    }

export interface BuildRequestMessage {
  readonly id: number
  readonly indexType: string
  readonly metric: MetricType
  readonly params: Record<string, string>
  readonly column: WireColumn
  /** usearch add threads for this build. */
  readonly threads: number
  /** Int32Array over a SharedArrayBuffer; non-zero asks the build to stop. */
  readonly stop: Int32Array
}

export type WorkerReply =
  | { readonly id: number; readonly kind: 'progress'; readonly fraction: number }
  | { readonly id: number; readonly kind: 'done'; readonly files: [string, ArrayBuffer][] }
  | { readonly id: number; readonly kind: 'error'; readonly errorKind: ErrorKind; readonly message: string }

/** A copy of the column in fresh ArrayBuffers, plus the list to transfer them with. */
export function toWire(col: VectorColumn): { column: WireColumn; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = []
  const own = (a: ArrayBufferView): ArrayBuffer => {
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice().buffer
    transfer.push(b)
    return b
  }
  const valid = col.valid === undefined ? {} : { valid: own(col.valid) }
  if (col.type !== 'SparseFloatVector') {
    return { column: { type: col.type, dim: col.dim, data: own(col.data), ...valid }, transfer }
  }
  const rows = col.data.length
  const offsets = new Uint32Array(rows + 1)
  for (let r = 0; r < rows; r++) offsets[r + 1] = offsets[r]! + col.data[r]!.indices.length
  const nnz = offsets[rows]!
  const indices = new Uint32Array(nnz)
  const values = new Float32Array(nnz)
  for (let r = 0; r < rows; r++) {
    indices.set(col.data[r]!.indices, offsets[r]!)
    values.set(col.data[r]!.values, offsets[r]!)
  }
  transfer.push(offsets.buffer, indices.buffer, values.buffer)
  return {
    column: { type: 'SparseFloatVector', offsets: offsets.buffer, indices: indices.buffer, values: values.buffer, ...valid },
    transfer,
  }
}

export function fromWire(w: WireColumn): VectorColumn {
  const valid = w.valid === undefined ? {} : { valid: new Uint8Array(w.valid) }
  switch (w.type) {
    case 'FloatVector':
      return { type: w.type, dim: w.dim, data: new Float32Array(w.data), ...valid }
    case 'Float16Vector':
    case 'BFloat16Vector':
      return { type: w.type, dim: w.dim, data: new Uint16Array(w.data), ...valid }
    case 'Int8Vector':
      return { type: w.type, dim: w.dim, data: new Int8Array(w.data), ...valid }
    case 'BinaryVector':
      return { type: w.type, dim: w.dim, data: new Uint8Array(w.data), ...valid }
    case 'SparseFloatVector': {
      const offsets = new Uint32Array(w.offsets)
      const indices = new Uint32Array(w.indices)
      const values = new Float32Array(w.values)
      const rows = offsets.length - 1
      const data: SparseRow[] = new Array(rows)
      for (let r = 0; r < rows; r++) {
        data[r] = { indices: indices.subarray(offsets[r]!, offsets[r + 1]!), values: values.subarray(offsets[r]!, offsets[r + 1]!) }
      }
      return { type: 'SparseFloatVector', data, ...valid }
    }
  }
}

/**
 * Files as (name, buffer) pairs: a file that is exactly its own buffer is transferred as is, any
 * other view (or a second view of an already listed buffer) is copied.
 */
export function filesToWire(files: ReadonlyMap<string, Uint8Array>): { files: [string, ArrayBuffer][]; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = []
  const out: [string, ArrayBuffer][] = []
  for (const [name, bytes] of files) {
    const whole =
      bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    const b = whole && !transfer.includes(bytes.buffer as ArrayBuffer) ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer
    transfer.push(b)
    out.push([name, b])
  }
  return { files: out, transfer }
}

export function filesFromWire(files: readonly [string, ArrayBuffer][]): Map<string, Uint8Array> {
  return new Map(files.map(([name, b]) => [name, new Uint8Array(b)]))
}

/** The DbError a worker reported, with its kind and message as thrown there. */
export function reviveError(kind: ErrorKind, message: string): DbError {
  const k: ErrorKind = Object.hasOwn(ERRORS, kind) ? kind : 'ServiceInternal'
  const suffix = `: ${ERRORS[k].msg}`
  const detail = message === ERRORS[k].msg ? undefined : message.endsWith(suffix) ? message.slice(0, -suffix.length) : message
  return new DbError(k, detail)
}
