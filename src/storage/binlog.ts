/**
 * Binlog framing and the object layout of flushed data. Every object is self-describing and
 * checksummed, so a bit flip or a truncated upload is caught at load time instead of being served.
 *
 * Frame: "HRBL" | u32 version | u32 kind | u32 crc32c(payload) | u64 payloadLength | payload
 * Keys:  insert_log/{collection}/{partition}/{segment}/{field}
 *        delta_log/{collection}/{shard}/{logId}
 */
import { crc32c } from '../common/crc32.js'
import { DbError } from '../common/errors.js'
import type { Column } from '../schema/columns.js'
import type { PrimaryKeys } from './dml-message.js'
import { decodeColumn, encodeColumn } from './column-codec.js'

const MAGIC = 0x4c425248 // "HRBL" little-endian
const VERSION = 1
const FRAME = 24

export const BINLOG_KIND = { insert: 1, delta: 2 } as const

export function frame(kind: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME + payload.length)
  const dv = new DataView(out.buffer)
  dv.setUint32(0, MAGIC, true)
  dv.setUint32(4, VERSION, true)
  dv.setUint32(8, kind, true)
  dv.setUint32(12, crc32c(payload), true)
  dv.setBigUint64(16, BigInt(payload.length), true)
  out.set(payload, FRAME)
  return out
}

export function unframe(key: string, kind: number, bytes: Uint8Array): Uint8Array {
  if (bytes.length < FRAME) throw new DbError('DataCorrupted', `${key}: truncated binlog header`)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (dv.getUint32(0, true) !== MAGIC) throw new DbError('DataCorrupted', `${key}: not a binlog`)
  if (dv.getUint32(8, true) !== kind) throw new DbError('DataCorrupted', `${key}: unexpected binlog kind`)
  const len = Number(dv.getBigUint64(16, true))
  if (FRAME + len !== bytes.length) throw new DbError('DataCorrupted', `${key}: binlog length ${bytes.length}, header says ${FRAME + len}`)
  const payload = bytes.subarray(FRAME)
  if (crc32c(payload) !== dv.getUint32(12, true)) throw new DbError('DataCorrupted', `${key}: binlog checksum mismatch`)
  return payload
}

export function insertLogKey(collectionId: bigint, partitionId: bigint, segmentId: bigint, field: string): string {
  // Field names are [A-Za-z0-9_] or `$meta`/`$ts`; keep `$` out of object keys for S3 friendliness.
  return `insert_log/${collectionId}/${partitionId}/${segmentId}/${field.replace('$', '_sys_')}`
}

export function deltaLogKey(collectionId: bigint, shard: number, logId: bigint): string {
  return `delta_log/${collectionId}/${shard}/${logId}`
}

export function encodeInsertLog(col: Column): Uint8Array {
  return frame(BINLOG_KIND.insert, encodeColumn(col))
}

export function decodeInsertLog(key: string, bytes: Uint8Array): Column {
  return decodeColumn(unframe(key, BINLOG_KIND.insert, bytes))
}

/** A deltalog: parallel primary keys and delete timestamps. */
export function encodeDeltaLog(pks: PrimaryKeys, ts: BigInt64Array): Uint8Array {
  const a = encodeColumn(pks instanceof BigInt64Array ? { type: 'Int64', data: pks } : { type: 'VarChar', data: pks })
  const b = encodeColumn({ type: 'Int64', data: ts })
  const payload = new Uint8Array(8 + a.length + b.length)
  new DataView(payload.buffer).setUint32(0, a.length, true)
  payload.set(a, 4)
  new DataView(payload.buffer).setUint32(4 + a.length, b.length, true)
  payload.set(b, 8 + a.length)
  return frame(BINLOG_KIND.delta, payload)
}

export function decodeDeltaLog(key: string, bytes: Uint8Array): { pks: PrimaryKeys; ts: BigInt64Array } {
  const p = unframe(key, BINLOG_KIND.delta, bytes)
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength)
  const la = dv.getUint32(0, true)
  const a = decodeColumn(p.subarray(4, 4 + la))
  const lb = dv.getUint32(4 + la, true)
  const b = decodeColumn(p.subarray(8 + la, 8 + la + lb))
  if ((a.type !== 'Int64' && a.type !== 'VarChar') || b.type !== 'Int64') throw new DbError('DataCorrupted', `${key}: bad deltalog columns`)
  return { pks: a.data, ts: b.data }
}
