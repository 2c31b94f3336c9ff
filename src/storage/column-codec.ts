/**
 * Binary encoding of one Column: the payload of binlogs and of insert messages in the WAL.
 *
 * Layout (little-endian):
 *   u8  version (1)   u8 typeCode   u8 elementTypeCode   u8 flags (bit0: has validity)
 *   u32 numRows       u32 dim
 *   [validity: numRows bytes]
 *   payload, by type:
 *     fixed-width numbers / vectors: the typed array's raw bytes (padded to 8-byte alignment first)
 *     VarChar, JSON, Array: u32 offsets[numRows+1] + UTF-8 bytes (JSON text per cell; Int64 array
 *       elements as decimal strings so they stay exact)
 *     Sparse: u32 offsets[numRows+1] (pair counts) + u32 indices[] + f32 values[]
 * Checksums live one level up (binlog frame, WAL record), so this codec only frames.
 */
import { DbError } from '../common/errors.js'
import type { ArrayCell, Column, JsonValue, SparseRow } from '../schema/columns.js'
import { DataType, dataTypeName, type ArrayElementTypeName, type StoredTypeName } from '../schema/types.js'

const VERSION = 1
const HEADER = 12
const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

class Writer {
  private buf: Uint8Array
  private len = 0
  constructor(cap: number) {
    this.buf = new Uint8Array(Math.max(64, cap))
  }
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < this.len + n) cap *= 2
    const b = new Uint8Array(cap)
    b.set(this.buf.subarray(0, this.len))
    this.buf = b
  }
  align8(): void {
    const pad = (8 - (this.len & 7)) & 7
    this.ensure(pad)
    this.buf.fill(0, this.len, this.len + pad)
    this.len += pad
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
  }
  view(v: ArrayBufferView): void {
    this.bytes(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
  }
  u32(x: number): void {
    this.ensure(4)
    new DataView(this.buf.buffer, this.buf.byteOffset).setUint32(this.len, x, true)
    this.len += 4
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len)
  }
}

function fixedTyped(col: Column): ArrayBufferView | undefined {
  switch (col.type) {
    case 'Bool':
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'Int64':
    case 'Float':
    case 'Double':
    case 'FloatVector':
    case 'BinaryVector':
    case 'Float16Vector':
    case 'BFloat16Vector':
    case 'Int8Vector':
      return col.data
    default:
      return undefined
  }
}

function rowsOf(col: Column): number {
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

function cellText(col: Column, i: number): string {
  if (col.type === 'VarChar') return col.data[i]!
  if (col.type === 'JSON') return JSON.stringify(col.data[i] ?? null)
  if (col.type === 'Array') {
    const cell = col.data[i]!
    return JSON.stringify(col.elementType === 'Int64' ? (cell as bigint[]).map((x) => x.toString()) : cell)
  }
  throw new DbError('ServiceInternal', `column type ${col.type} has no text cells`)
}

export function encodeColumn(col: Column): Uint8Array {
  const n = rowsOf(col)
  const fixed = fixedTyped(col)
  const w = new Writer(HEADER + n + (fixed ? fixed.byteLength + 8 : n * 16))
  const dim = 'dim' in col ? col.dim : 0
  const elem = col.type === 'Array' ? DataType[col.elementType] : 0
  w.bytes(Uint8Array.of(VERSION, DataType[col.type], elem, col.valid ? 1 : 0))
  w.u32(n)
  w.u32(dim)
  if (col.valid) w.bytes(col.valid)
  if (fixed) {
    w.align8()
    w.view(fixed)
  } else if (col.type === 'SparseFloatVector') {
    const offsets = new Uint32Array(n + 1)
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + col.data[i]!.indices.length
    const total = offsets[n]!
    const idx = new Uint32Array(total)
    const val = new Float32Array(total)
    for (let i = 0; i < n; i++) {
      idx.set(col.data[i]!.indices, offsets[i])
      val.set(col.data[i]!.values, offsets[i])
    }
    w.align8()
    w.view(offsets)
    w.view(idx)
    w.view(val)
  } else {
    const parts: Uint8Array[] = new Array(n)
    const offsets = new Uint32Array(n + 1)
    for (let i = 0; i < n; i++) {
      const b = enc.encode(cellText(col, i))
      parts[i] = b
      offsets[i + 1] = offsets[i]! + b.length
    }
    w.align8()
    w.view(offsets)
    for (const p of parts) w.bytes(p)
  }
  return w.finish()
}

function corrupt(detail: string): DbError {
  return new DbError('DataCorrupted', `column block: ${detail}`)
}

/** Copies into a fresh aligned buffer, so decoded columns never alias WAL or file buffers. */
function take<T>(bytes: Uint8Array, off: number, len: number, make: (b: ArrayBuffer) => T): T {
  if (off + len > bytes.length) throw corrupt('truncated payload')
  // Uint8Array's slice copies; a Node Buffer's own slice would be a view into a shared pool.
  return make(Uint8Array.prototype.slice.call(bytes, off, off + len).buffer)
}

export function decodeColumn(bytes: Uint8Array): Column {
  if (bytes.length < HEADER) throw corrupt('truncated header')
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes[0] !== VERSION) throw corrupt(`unknown version ${bytes[0]}`)
  const type = dataTypeName(bytes[1]!) as StoredTypeName | undefined
  if (!type) throw corrupt(`unknown type code ${bytes[1]}`)
  const elementType = bytes[2] ? (dataTypeName(bytes[2]) as ArrayElementTypeName) : undefined
  const hasValid = (bytes[3]! & 1) === 1
  const n = dv.getUint32(4, true)
  const dim = dv.getUint32(8, true)
  let off = HEADER
  const valid = hasValid ? take(bytes, off, n, (b) => new Uint8Array(b)) : undefined
  if (hasValid) off += n
  off += (8 - (off & 7)) & 7
  const base = valid ? { valid } : {}
  const fixed = <T>(bytesPer: number, make: (b: ArrayBuffer) => T): T => take(bytes, off, n * bytesPer, make)
  switch (type) {
    case 'Bool':
      return { ...base, type, data: fixed(1, (b) => new Uint8Array(b)) }
    case 'Int8':
      return { ...base, type, data: fixed(1, (b) => new Int8Array(b)) }
    case 'Int16':
      return { ...base, type, data: fixed(2, (b) => new Int16Array(b)) }
    case 'Int32':
      return { ...base, type, data: fixed(4, (b) => new Int32Array(b)) }
    case 'Int64':
      return { ...base, type, data: fixed(8, (b) => new BigInt64Array(b)) }
    case 'Float':
      return { ...base, type, data: fixed(4, (b) => new Float32Array(b)) }
    case 'Double':
      return { ...base, type, data: fixed(8, (b) => new Float64Array(b)) }
    case 'FloatVector':
      return { ...base, type, dim, data: fixed(4 * dim, (b) => new Float32Array(b)) }
    case 'BinaryVector':
      return { ...base, type, dim, data: fixed(dim / 8, (b) => new Uint8Array(b)) }
    case 'Float16Vector':
    case 'BFloat16Vector':
      return { ...base, type, dim, data: fixed(2 * dim, (b) => new Uint16Array(b)) }
    case 'Int8Vector':
      return { ...base, type, dim, data: fixed(dim, (b) => new Int8Array(b)) }
    case 'SparseFloatVector': {
      const offsets = take(bytes, off, 4 * (n + 1), (b) => new Uint32Array(b))
      off += 4 * (n + 1)
      const total = offsets[n]!
      const idx = take(bytes, off, 4 * total, (b) => new Uint32Array(b))
      const val = take(bytes, off + 4 * total, 4 * total, (b) => new Float32Array(b))
      const data: SparseRow[] = new Array(n)
      for (let i = 0; i < n; i++) {
        data[i] = { indices: idx.subarray(offsets[i]!, offsets[i + 1]!), values: val.subarray(offsets[i]!, offsets[i + 1]!) }
      }
      return { ...base, type, data }
    }
    case 'VarChar':
    case 'JSON':
    case 'Array': {
      const offsets = take(bytes, off, 4 * (n + 1), (b) => new Uint32Array(b))
      off += 4 * (n + 1)
      if (off + offsets[n]! > bytes.length) throw corrupt('truncated text payload')
      const texts: string[] = new Array(n)
      for (let i = 0; i < n; i++) texts[i] = dec.decode(bytes.subarray(off + offsets[i]!, off + offsets[i + 1]!))
      if (type === 'VarChar') return { ...base, type, data: texts }
      if (type === 'JSON') return { ...base, type, data: texts.map((t) => JSON.parse(t) as JsonValue) }
      if (!elementType) throw corrupt('array column without element type')
      const cells = texts.map((t) => {
        const v = JSON.parse(t) as unknown[]
        return (elementType === 'Int64' ? v.map((x) => BigInt(x as string)) : v) as ArrayCell
      })
      return { ...base, type, elementType, data: cells }
    }
  }
}
