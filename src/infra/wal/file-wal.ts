/**
 * The embedded WAL: a directory with one folder per channel.
 *
 *   <dir>/LOCK                                 owner pid (one process per directory)
 *   <dir>/<channel>/TERM                       highest term opened, replaced atomically
 *   <dir>/<channel>/<first offset, 20 digits>.wal   segment files
 *
 * A segment is a run of records [u32 len][u32 crc32c][u64 LE offset][payload] (see
 * record-frame.ts; len and crc cover offset + payload), offsets consecutive from the number in its
 * name. Appends go to the last segment; a new one starts once the last reaches `segmentBytes`, at
 * an appendBatch boundary. Truncate deletes whole segments below the offset, never the last one, so
 * the last segment's name plus its records always give the next offset, even when the channel is
 * empty.
 *
 * Group commit: appends are framed on the caller's tick and queued; one flush at a time writes the
 * whole queue with one write() and one fdatasync() (two if a segment rolls inside the batch), so
 * concurrent appenders share fsyncs. An append resolves only after its fsync.
 *
 * Recovery on open scans only the last segment (earlier ones were complete and fsync'd before the
 * roll): a torn or checksum-failing tail is cut off with a warning; damage followed by intact records
 * is DbError('DataCorrupted'). Damage found later by read() is DataCorrupted as well.
 */
import { mkdir, open, readFile, readdir, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { DbError } from '../../common/errors.js'
import { silentLogger, type Logger } from '../../common/log.js'
import { acquireDirLock, type DirLock } from '../dir-lock.js'
import { errnoCode, fsyncDir, writeChunks, writeFileDurable } from '../fs-durable.js'
import { GroupCommit } from '../group-commit.js'
import {
  FRAME_HEADER_BYTES,
  FrameReader,
  MAX_FRAME_BODY_BYTES,
  recoverLog,
  sealFrame,
} from '../record-frame.js'
import { BaseWalProvider, type ChannelLog, type WalStats } from './channel-wal.js'
import type { WalEntry } from './wal.js'

export interface FileWalOptions {
  readonly dir: string
  readonly log?: Logger
  /** Size at which a new segment starts. Default 64 MiB. */
  readonly segmentBytes?: number
  /** fsync records and directories. Default true; false only for tests. */
  readonly fsync?: boolean
}

const TERM_FILE = 'TERM'
const SEGMENT_NAME = /^(\d{20})\.wal$/
/** Offset field of a record body. */
const OFFSET_BYTES = 8
const MAX_PAYLOAD_BYTES = MAX_FRAME_BODY_BYTES - OFFSET_BYTES

export class FileWalProvider extends BaseWalProvider {
  readonly dir: string
  readonly #opts: FileWalOptions
  readonly #log: Logger
  readonly #lock: DirLock

  private constructor(opts: FileWalOptions, lock: DirLock) {
    super()
    this.dir = opts.dir
    this.#opts = opts
    this.#log = opts.log ?? silentLogger()
    this.#lock = lock
  }

  /**
   * Opens (creating if needed) the WAL directory and takes its lock.
   * @throws DbError('ServiceInternal') if another process, or this one, has it open.
   */
  static async open(opts: FileWalOptions): Promise<FileWalProvider> {
    if (
      opts.segmentBytes !== undefined &&
      (!Number.isSafeInteger(opts.segmentBytes) || opts.segmentBytes <= 0)
    ) {
      throw new DbError(
        'ParameterInvalid',
        `WAL segmentBytes must be a positive integer, got ${opts.segmentBytes}`,
      )
    }
    await mkdir(opts.dir, { recursive: true })
    return new FileWalProvider(opts, await acquireDirLock(opts.dir, 'WAL'))
  }

  protected override async openLog(
    channel: string,
  ): Promise<{ log: ChannelLog; highestTerm: number }> {
    const dir = join(this.dir, channel)
    const created = await mkdir(dir, { recursive: true })
    if (created !== undefined && this.#opts.fsync !== false) await fsyncDir(this.dir)
    const highestTerm = await readTerm(join(dir, TERM_FILE))
    const log = await FileChannelLog.open(channel, dir, this.#opts, this.#log)
    return { log, highestTerm }
  }

  protected override saveTerm(channel: string, term: number): Promise<void> {
    return writeFileDurable(
      join(this.dir, channel, TERM_FILE),
      Buffer.from(`${term}\n`),
      this.#opts.fsync !== false,
    )
  }

  protected override closeResources(): Promise<void> {
    return this.#lock.release()
  }
}

interface Segment {
  readonly start: bigint
  readonly path: string
}

interface PendingAppend {
  /** The framed records of one appendBatch. */
  readonly frames: Buffer
  readonly first: bigint
  readonly count: number
}

class FileChannelLog implements ChannelLog {
  readonly #channel: string
  readonly #dir: string
  readonly #segmentBytes: number
  readonly #fsync: boolean
  readonly #writer: GroupCommit<PendingAppend>
  /** Sorted by start; replaced, never mutated, so readers can hold on to a snapshot. */
  #segments: readonly Segment[]
  #fh: FileHandle
  /** Durable bytes of the last segment. */
  #lastBytes: number
  /** Offset the next append gets. */
  #next: bigint
  /** Entries below this offset are durable and visible to read(). */
  #durableNext: bigint
  #appends = 0
  #entries = 0
  #flushes = 0
  #fsyncs = 0

  private constructor(
    channel: string,
    dir: string,
    opts: FileWalOptions,
    segments: Segment[],
    fh: FileHandle,
    lastBytes: number,
    next: bigint,
  ) {
    this.#channel = channel
    this.#dir = dir
    this.#segmentBytes = opts.segmentBytes ?? 64 << 20
    this.#fsync = opts.fsync ?? true
    this.#segments = segments
    this.#fh = fh
    this.#lastBytes = lastBytes
    this.#next = this.#durableNext = next
    this.#writer = new GroupCommit(`WAL channel ${channel}`, (items) => this.#flush(items))
  }

  static async open(
    channel: string,
    dir: string,
    opts: FileWalOptions,
    log: Logger,
  ): Promise<FileChannelLog> {
    const segments: Segment[] = []
    for (const name of await readdir(dir)) {
      const m = SEGMENT_NAME.exec(name)
      if (m) segments.push({ start: BigInt(m[1]!), path: join(dir, name) })
    }
    segments.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
    if (segments.length === 0) {
      segments.push({ start: 0n, path: segmentPath(dir, 0n) })
    }
    const last = segments[segments.length - 1]!
    const fh = await open(last.path, 'a+')
    try {
      let next = last.start
      const recovered = await recoverLog(
        fh,
        `WAL channel ${channel} segment ${last.path}`,
        (body, pos) => {
          const offset = recordOffset(body)
          if (offset !== next) {
            throw new DbError(
              'DataCorrupted',
              `WAL channel ${channel} segment ${last.path}: record at byte ${pos} has offset ${offset}, expected ${next}`,
            )
          }
          next++
        },
      )
      if (recovered.tornBytes > 0) {
        await fh.truncate(recovered.end)
        if (opts.fsync !== false) await fh.datasync()
        log.warn(
          { channel, offset: Number(next), bytesDropped: recovered.tornBytes, segment: last.path },
          'dropped torn WAL tail',
        )
      }
      // The segment file may just have been created: make its name durable.
      if (recovered.end === 0 && opts.fsync !== false) await fsyncDir(dir)
      return new FileChannelLog(channel, dir, opts, segments, fh, recovered.end, next)
    } catch (e) {
      await fh.close()
      throw e
    }
  }

  append(payloads: readonly Uint8Array[]): Promise<bigint[]> {
    if (this.#writer.failed) return Promise.reject(this.#writer.failed)
    if (payloads.length === 0) return Promise.resolve([])
    let size = 0
    for (const p of payloads) {
      if (p.length > MAX_PAYLOAD_BYTES) {
        return Promise.reject(
          new DbError(
            'ParameterTooLarge',
            `WAL payload of ${p.length} bytes (max ${MAX_PAYLOAD_BYTES})`,
          ),
        )
      }
      size += FRAME_HEADER_BYTES + OFFSET_BYTES + p.length
    }
    // Frame now, on the caller's tick: the copy also protects against the caller reusing its buffers.
    const frames = Buffer.allocUnsafe(size)
    const first = this.#next
    const offsets: bigint[] = []
    let pos = 0
    for (const p of payloads) {
      const offset = this.#next++
      offsets.push(offset)
      frames.writeBigUInt64LE(offset, pos + FRAME_HEADER_BYTES)
      frames.set(p, pos + FRAME_HEADER_BYTES + OFFSET_BYTES)
      sealFrame(frames, pos, OFFSET_BYTES + p.length)
      pos += FRAME_HEADER_BYTES + OFFSET_BYTES + p.length
    }
    this.#appends++
    this.#entries += payloads.length
    return this.#writer.submit({ frames, first, count: payloads.length }).then(() => offsets)
  }

  read(from: bigint): AsyncIterable<WalEntry> {
    // Fix the end now: "up to the end at the time of the call", durable entries only.
    const end = this.#durableNext
    const segments = this.#segments
    const lastBytes = this.#lastBytes
    return this.#read(segments, lastBytes, from, end)
  }

  async *#read(
    segments: readonly Segment[],
    lastBytes: number,
    from: bigint,
    end: bigint,
  ): AsyncGenerator<WalEntry> {
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!
      const nextStart = segments[i + 1]?.start
      if (seg.start >= end) return
      if (nextStart !== undefined && nextStart <= from) continue
      let fh: FileHandle
      try {
        fh = await open(seg.path, 'r')
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue // truncated meanwhile
        throw new DbError('IoFailed', `WAL channel ${this.#channel}: open ${seg.path}`, {
          cause: e,
        })
      }
      try {
        const reader = new FrameReader(
          fh,
          0,
          nextStart === undefined ? lastBytes : Number.POSITIVE_INFINITY,
        )
        let expect = seg.start
        while (expect < end) {
          const f = await reader.next()
          if (f === undefined) break
          if (!f.ok) throw this.#corrupt(seg, `damaged record at byte ${f.pos} (${f.reason})`)
          const offset = recordOffset(f.body)
          if (offset !== expect)
            throw this.#corrupt(
              seg,
              `record at byte ${f.pos} has offset ${offset}, expected ${expect}`,
            )
          expect++
          if (offset >= from) {
            yield {
              offset,
              payload: new Uint8Array(
                f.body.buffer,
                f.body.byteOffset + OFFSET_BYTES,
                f.body.length - OFFSET_BYTES,
              ),
            }
          }
        }
        if (nextStart !== undefined && expect < end && expect !== nextStart) {
          throw this.#corrupt(
            seg,
            `ends at offset ${expect} but the next segment starts at ${nextStart}`,
          )
        }
      } finally {
        await fh.close()
      }
    }
  }

  async truncate(before: bigint): Promise<void> {
    const segs = this.#segments
    let n = 0
    while (n < segs.length - 1 && segs[n + 1]!.start <= before) n++
    if (n === 0) return
    this.#segments = segs.slice(n)
    for (const seg of segs.slice(0, n)) {
      await unlink(seg.path).catch((e: unknown) => {
        if (errnoCode(e) !== 'ENOENT')
          throw new DbError('IoFailed', `WAL truncate ${seg.path}`, { cause: e })
      })
    }
    if (this.#fsync) await fsyncDir(this.#dir)
  }

  nextOffset(): bigint {
    return this.#next
  }

  drain(): Promise<void> {
    return this.#writer.drain()
  }

  stats(): WalStats {
    return {
      appends: this.#appends,
      entries: this.#entries,
      flushes: this.#flushes,
      fsyncs: this.#fsyncs,
    }
  }

  async close(): Promise<void> {
    await this.#writer.drain()
    await this.#fh.close()
  }

  /** Writes a group-commit batch, rolling to a new segment between appendBatch boundaries. */
  async #flush(items: readonly PendingAppend[]): Promise<void> {
    let chunk: Buffer[] = []
    let chunkBytes = 0
    let chunkEnd = this.#durableNext
    for (const item of items) {
      const used = this.#lastBytes + chunkBytes
      if (used > 0 && used + item.frames.length > this.#segmentBytes) {
        await this.#writeDurable(chunk, chunkBytes, chunkEnd)
        chunk = []
        chunkBytes = 0
        await this.#roll(item.first)
      }
      chunk.push(item.frames)
      chunkBytes += item.frames.length
      chunkEnd = item.first + BigInt(item.count)
    }
    await this.#writeDurable(chunk, chunkBytes, chunkEnd)
  }

  async #writeDurable(chunk: readonly Buffer[], bytes: number, end: bigint): Promise<void> {
    if (bytes === 0) return
    await writeChunks(this.#fh, chunk)
    if (this.#fsync) {
      await this.#fh.datasync()
      this.#fsyncs++
    }
    this.#flushes++
    this.#lastBytes += bytes
    this.#durableNext = end
  }

  async #roll(start: bigint): Promise<void> {
    const path = segmentPath(this.#dir, start)
    const fh = await open(path, 'ax')
    if (this.#fsync) await fsyncDir(this.#dir)
    const old = this.#fh
    this.#fh = fh
    this.#lastBytes = 0
    this.#segments = [...this.#segments, { start, path }]
    await old.close()
  }

  #corrupt(seg: Segment, what: string): DbError {
    return new DbError('DataCorrupted', `WAL channel ${this.#channel} segment ${seg.path}: ${what}`)
  }
}

function segmentPath(dir: string, start: bigint): string {
  return join(dir, `${start.toString().padStart(20, '0')}.wal`)
}

function recordOffset(body: Buffer): bigint {
  if (body.length < OFFSET_BYTES)
    throw new DbError('DataCorrupted', `WAL record of ${body.length} bytes has no offset`)
  return body.readBigUInt64LE(0)
}

async function readTerm(path: string): Promise<number> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return 0
    throw e
  }
  const term = Number(text.trim())
  if (!Number.isSafeInteger(term) || term < 0)
    throw new DbError('DataCorrupted', `WAL term file ${path}: ${JSON.stringify(text)}`)
  return term
}
