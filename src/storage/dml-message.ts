/**
 * DML messages as they are written to the WAL. One WAL record holds one client request (all of its
 * shards and partitions), so a request is either wholly durable or wholly absent after a crash:
 * a torn tail can never leave half of an acknowledged batch behind.
 *
 * Record layout: u32 headerLength, header JSON, then for each part its column blocks, each
 * u32 length + column-codec bytes, in the order the header lists them.
 */
import { DbError } from '../common/errors.js'
import type { Timestamp } from '../common/tso.js'
import type { Column } from '../schema/columns.js'
import { decodeColumn, encodeColumn } from './column-codec.js'

export type PrimaryKeys = BigInt64Array | string[]

export interface InsertPart {
  readonly kind: 'insert'
  readonly shard: number
  readonly partitionId: bigint
  readonly numRows: number
  /** Field name -> column, every stored field including `$meta`. */
  readonly columns: ReadonlyMap<string, Column>
}

export interface DeletePart {
  readonly kind: 'delete'
  readonly shard: number
  /** Deletes apply to rows of these PKs written strictly before the message timestamp. */
  readonly pks: PrimaryKeys
}

export type DmlPart = InsertPart | DeletePart

export interface DmlMessage {
  readonly collectionId: bigint
  readonly ts: Timestamp
  readonly parts: readonly DmlPart[]
}

interface HeaderPart {
  k: 'i' | 'd'
  s: number
  p?: string
  n?: number
  f?: string[]
}

const enc = new TextEncoder()
const dec = new TextDecoder()

function pkColumn(pks: PrimaryKeys): Column {
  return pks instanceof BigInt64Array ? { type: 'Int64', data: pks } : { type: 'VarChar', data: pks }
}

export function encodeDmlMessage(msg: DmlMessage): Uint8Array {
  const header: { c: string; ts: string; parts: HeaderPart[] } = { c: msg.collectionId.toString(), ts: msg.ts.toString(), parts: [] }
  const blocks: Uint8Array[] = []
  for (const part of msg.parts) {
    if (part.kind === 'insert') {
      const names = [...part.columns.keys()]
      header.parts.push({ k: 'i', s: part.shard, p: part.partitionId.toString(), n: part.numRows, f: names })
      for (const name of names) blocks.push(encodeColumn(part.columns.get(name)!))
    } else {
      header.parts.push({ k: 'd', s: part.shard })
      blocks.push(encodeColumn(pkColumn(part.pks)))
    }
  }
  const h = enc.encode(JSON.stringify(header))
  let total = 4 + h.length
  for (const b of blocks) total += 4 + b.length
  const out = new Uint8Array(total)
  const dv = new DataView(out.buffer)
  dv.setUint32(0, h.length, true)
  out.set(h, 4)
  let off = 4 + h.length
  for (const b of blocks) {
    dv.setUint32(off, b.length, true)
    out.set(b, off + 4)
    off += 4 + b.length
  }
  return out
}

export function decodeDmlMessage(bytes: Uint8Array): DmlMessage {
  try {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const hl = dv.getUint32(0, true)
    const header = JSON.parse(dec.decode(bytes.subarray(4, 4 + hl))) as { c: string; ts: string; parts: HeaderPart[] }
    let off = 4 + hl
    const next = (): Column => {
      const len = dv.getUint32(off, true)
      const col = decodeColumn(bytes.subarray(off + 4, off + 4 + len))
      off += 4 + len
      return col
    }
    const parts: DmlPart[] = header.parts.map((hp) => {
      if (hp.k === 'i') {
        const columns = new Map<string, Column>()
        for (const name of hp.f ?? []) columns.set(name, next())
        return { kind: 'insert', shard: hp.s, partitionId: BigInt(hp.p!), numRows: hp.n!, columns }
      }
      const col = next()
      if (col.type !== 'Int64' && col.type !== 'VarChar') throw new Error('delete part without primary keys')
      return { kind: 'delete', shard: hp.s, pks: col.data }
    })
    return { collectionId: BigInt(header.c), ts: BigInt(header.ts), parts }
  } catch (e) {
    if (e instanceof DbError) throw e
    throw new DbError('DataCorrupted', `undecodable DML message: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
  }
}
