/**
 * The framing shared by the WAL segments and the meta-store journal:
 *
 *   [u32 LE length][u32 LE crc32c of the body][body: `length` bytes]
 *
 * A length of 0 is never written, so a zero-filled tail (what some file systems leave after a
 * crash that extended a file) reads as torn, not as a run of empty records.
 *
 * Recovery rule (`recoverLog`): the first frame that fails its length or checksum ends the log. If
 * nothing valid follows it, it is a torn tail from a crash mid-write and is cut off; if a valid
 * frame follows, the damage is in the middle and data would be lost silently, so it is
 * DbError('DataCorrupted').
 */
import type { FileHandle } from 'node:fs/promises'
import { DbError } from '../common/errors.js'
import { crc32c } from '../common/crc32.js'

export const FRAME_HEADER_BYTES = 8
/** Frames larger than this are refused on write and treated as damage on read. */
export const MAX_FRAME_BODY_BYTES = 0x7fff_ffff

/** Writes the header of the frame whose body already sits at `target[pos + 8, pos + 8 + len)`. */
export function sealFrame(target: Buffer, pos: number, len: number): void {
  target.writeUInt32LE(len, pos)
  target.writeUInt32LE(
    crc32c(target.subarray(pos + FRAME_HEADER_BYTES, pos + FRAME_HEADER_BYTES + len)),
    pos + 4,
  )
}

export function encodeFrame(body: Uint8Array): Buffer {
  if (body.length === 0 || body.length > MAX_FRAME_BODY_BYTES) {
    throw new DbError('ParameterInvalid', `frame body of ${body.length} bytes`)
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length)
  out.set(body, FRAME_HEADER_BYTES)
  sealFrame(out, 0, body.length)
  return out
}

export type FrameRead =
  | { readonly ok: true; readonly pos: number; readonly body: Buffer }
  /** The frame at `pos` is short, has length 0 or fails its checksum. */
  | { readonly ok: false; readonly pos: number; readonly reason: string }

/**
 * Reads frames sequentially from `[start, end)` of a file in large chunks. Bodies are copies with
 * their own ArrayBuffer, so callers may keep them. `end` defaults to the end of the file.
 */
export class FrameReader {
  readonly #fh: FileHandle
  readonly #end: number
  #buf: Buffer
  /** File position of #buf[0]. */
  #bufPos: number
  #bufLen = 0
  #pos: number
  #eof = false

  constructor(fh: FileHandle, start = 0, end = Number.POSITIVE_INFINITY, chunkBytes = 1 << 20) {
    this.#fh = fh
    this.#end = end
    this.#buf = Buffer.allocUnsafe(chunkBytes)
    this.#bufPos = start
    this.#pos = start
  }

  /** Position just after the last frame returned: where a torn tail would be cut. */
  get pos(): number {
    return this.#pos
  }

  /** The next frame, a damaged one (after which the reader must not be used), or undefined at the end. */
  async next(): Promise<FrameRead | undefined> {
    const pos = this.#pos
    if (!(await this.#fill(FRAME_HEADER_BYTES))) {
      return this.#available() === 0 ? undefined : { ok: false, pos, reason: 'short header' }
    }
    const off = pos - this.#bufPos
    const len = this.#buf.readUInt32LE(off)
    const crc = this.#buf.readUInt32LE(off + 4)
    if (len === 0 || len > MAX_FRAME_BODY_BYTES)
      return { ok: false, pos, reason: `bad length ${len}` }
    if (!(await this.#fill(FRAME_HEADER_BYTES + len)))
      return { ok: false, pos, reason: 'short body' }
    const start = pos - this.#bufPos + FRAME_HEADER_BYTES
    const body = this.#buf.subarray(start, start + len)
    if (crc32c(body) !== crc) return { ok: false, pos, reason: 'checksum mismatch' }
    this.#pos = pos + FRAME_HEADER_BYTES + len
    // A copy with an ArrayBuffer of its own (Buffer.from would share the 8 KiB pool for small ones).
    const copy = Buffer.alloc(len)
    body.copy(copy)
    return { ok: true, pos, body: copy }
  }

  #available(): number {
    return this.#bufPos + this.#bufLen - this.#pos
  }

  /** Ensures `n` bytes from #pos are buffered; false when the range or file ends first. */
  async #fill(n: number): Promise<boolean> {
    if (this.#pos + n > this.#end) {
      // Still buffer what exists, so `next` can tell a clean end from a short header.
      n = Math.max(0, this.#end - this.#pos)
      if (n === 0) return false
      await this.#fill(n)
      return false
    }
    while (this.#available() < n) {
      if (this.#eof) return false
      // Bodies handed out are copies, so the buffer can be reused: slide the unread bytes to the front.
      const keep = this.#available()
      const from = this.#pos - this.#bufPos
      if (n > this.#buf.length) {
        const bigger = Buffer.allocUnsafe(n)
        this.#buf.copy(bigger, 0, from, from + keep)
        this.#buf = bigger
      } else if (keep > 0) {
        this.#buf.copyWithin(0, from, from + keep)
      }
      this.#bufPos = this.#pos
      this.#bufLen = keep
      const want = Math.min(this.#buf.length - keep, this.#end - (this.#bufPos + keep))
      const { bytesRead } = await this.#fh.read(this.#buf, keep, want, this.#bufPos + keep)
      if (bytesRead === 0) this.#eof = true
      this.#bufLen += bytesRead
    }
    return true
  }
}

/** Whether any intact frame starts anywhere in `buf` (a byte-by-byte search; recovery only). */
export function containsValidFrame(buf: Uint8Array): boolean {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  for (let q = 0; q + FRAME_HEADER_BYTES < b.length; q++) {
    const len = b.readUInt32LE(q)
    if (len === 0 || q + FRAME_HEADER_BYTES + len > b.length) continue
    const body = b.subarray(q + FRAME_HEADER_BYTES, q + FRAME_HEADER_BYTES + len)
    if (crc32c(body) === b.readUInt32LE(q + 4)) return true
  }
  return false
}

export interface RecoveredLog {
  /** End of the last intact frame: the file's new length. */
  readonly end: number
  /** Bytes after `end` that were not an intact frame (0 when the log ended cleanly). */
  readonly tornBytes: number
}

/**
 * Reads every frame of a log file from `start`, handing each body to `onFrame` (which may throw,
 * e.g. DataCorrupted for a checksum-valid record that makes no sense). Stops at the first damaged
 * frame and decides torn tail versus corruption as described at the top of this file. Does not
 * modify the file: the caller truncates to `end` and logs.
 * @throws DbError('DataCorrupted') when intact frames follow a damaged one.
 */
export async function recoverLog(
  fh: FileHandle,
  what: string,
  onFrame: (body: Buffer, pos: number) => void,
  start = 0,
): Promise<RecoveredLog> {
  const reader = new FrameReader(fh, start)
  for (;;) {
    const f = await reader.next()
    if (f === undefined) return { end: reader.pos, tornBytes: 0 }
    if (f.ok) {
      onFrame(f.body, f.pos)
      continue
    }
    const size = (await fh.stat()).size
    const rest = Buffer.allocUnsafe(Math.max(0, size - f.pos - 1))
    if (rest.length > 0) await fh.read(rest, 0, rest.length, f.pos + 1)
    if (containsValidFrame(rest)) {
      throw new DbError(
        'DataCorrupted',
        `${what}: damaged record at byte ${f.pos} (${f.reason}) is followed by intact records`,
      )
    }
    return { end: f.pos, tornBytes: size - f.pos }
  }
}
