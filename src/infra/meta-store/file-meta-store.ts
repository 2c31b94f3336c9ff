/**
 * The embedded MetaStore: the shared engine persisted to a directory.
 *
 *   <dir>/LOCK      owner pid (one process per directory, see dir-lock.ts)
 *   <dir>/snapshot  one frame: JSON { revision, kvs } as of `revision`; replaced atomically
 *   <dir>/journal   one frame per committed mutation: JSON { rev, ops } (the branch that ran)
 *
 * Every mutation is appended and fdatasync'd before its caller hears back; concurrent mutations
 * share one write + fsync (group commit). When the journal outgrows `compactAfterBytes` the state is
 * written to a new snapshot (temp + fsync + rename + dir fsync) and the journal is emptied; a crash
 * between the two leaves journal records the snapshot already covers, which replay skips.
 *
 * Open = lock, load snapshot, replay journal. A torn last record (crash mid-append) is cut off with
 * a warning; a damaged record followed by intact ones is DbError('DataCorrupted'). Leases are
 * process-local, so keys still attached to one are deleted (one revision) right after replay.
 */
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { DbError } from '../../common/errors.js'
import { silentLogger, type Logger } from '../../common/log.js'
import { acquireDirLock, type DirLock } from '../dir-lock.js'
import { errnoCode, writeChunks, writeFileDurable } from '../fs-durable.js'
import { GroupCommit } from '../group-commit.js'
import { FRAME_HEADER_BYTES, encodeFrame, recoverLog } from '../record-frame.js'
import { crc32c } from '../../common/crc32.js'
import { KvMetaStore, type Mutation } from './kv-meta-store.js'
import type { KeyValue } from './meta-store.js'

export interface FileMetaStoreOptions {
  readonly dir: string
  readonly log?: Logger
  /** Journal size after which it is folded into the snapshot. Default 8 MiB. */
  readonly compactAfterBytes?: number
  /** fsync journal, snapshot and directory. Default true; false only for tests. */
  readonly fsync?: boolean
  /** Revisions kept for watch({ fromRevision }). Default 10,000. */
  readonly watchHistory?: number
}

export interface FileMetaStoreStats {
  /** fdatasync calls on the journal (group commit makes this far smaller than the writes). */
  readonly fsyncs: number
  readonly compactions: number
  readonly journalBytes: number
}

const SNAPSHOT_FILE = 'snapshot'
const JOURNAL_FILE = 'journal'

export class FileMetaStore extends KvMetaStore {
  readonly dir: string
  readonly #lock: DirLock
  readonly #journal: FileHandle
  readonly #fsync: boolean
  readonly #compactAfterBytes: number
  readonly #writer: GroupCommit<Buffer>
  #journalBytes = 0
  #fsyncs = 0
  #compactions = 0

  private constructor(opts: FileMetaStoreOptions, log: Logger, lock: DirLock, journal: FileHandle) {
    super({ log, watchHistory: opts.watchHistory })
    this.dir = opts.dir
    this.#lock = lock
    this.#journal = journal
    this.#fsync = opts.fsync ?? true
    this.#compactAfterBytes = opts.compactAfterBytes ?? 8 << 20
    this.#writer = new GroupCommit(`meta journal ${opts.dir}`, (frames) => this.#flush(frames))
  }

  /**
   * Opens (creating if needed) the store in `opts.dir`.
   * @throws DbError('ServiceInternal') if another process, or this one, has the directory open.
   * @throws DbError('DataCorrupted') if the snapshot or the middle of the journal is damaged.
   */
  static async open(opts: FileMetaStoreOptions): Promise<FileMetaStore> {
    const log = opts.log ?? silentLogger()
    await mkdir(opts.dir, { recursive: true })
    const lock = await acquireDirLock(opts.dir, 'meta store')
    let journal: FileHandle | undefined
    try {
      const snapshot = await readSnapshot(join(opts.dir, SNAPSHOT_FILE))
      const journalPath = join(opts.dir, JOURNAL_FILE)
      journal = await open(journalPath, 'a+')
      const store = new FileMetaStore(opts, log, lock, journal)
      store.restore(snapshot.revision, snapshot.kvs)
      const recovered = await recoverLog(journal, `meta journal ${journalPath}`, (body, pos) => {
        const m = parseMutation(body, pos)
        if (m.rev > snapshot.revision) store.replay(m)
      })
      if (recovered.tornBytes > 0) {
        await journal.truncate(recovered.end)
        if (store.#fsync) await journal.datasync()
        log.warn(
          {
            dir: opts.dir,
            file: journalPath,
            offset: recovered.end,
            bytesDropped: recovered.tornBytes,
          },
          'dropped torn meta journal tail',
        )
      }
      store.#journalBytes = recovered.end
      const dropped = await store.dropOrphanLeaseKeys()
      if (dropped > 0)
        log.info({ dir: opts.dir, keys: dropped }, 'deleted keys of leases from before restart')
      return store
    } catch (e) {
      await journal?.close()
      await lock.release()
      throw e
    }
  }

  stats(): FileMetaStoreStats {
    return {
      fsyncs: this.#fsyncs,
      compactions: this.#compactions,
      journalBytes: this.#journalBytes,
    }
  }

  protected override persist(m: Mutation): Promise<void> {
    return this.#writer.submit(encodeFrame(Buffer.from(JSON.stringify(m))))
  }

  protected override async closeResources(): Promise<void> {
    await this.#writer.drain()
    await this.#journal.close()
    await this.#lock.release()
  }

  async #flush(frames: readonly Buffer[]): Promise<void> {
    const bytes = await writeChunks(this.#journal, frames)
    if (this.#fsync) {
      await this.#journal.datasync()
      this.#fsyncs++
    }
    this.#journalBytes += bytes
    if (this.#journalBytes >= this.#compactAfterBytes) await this.#compact()
  }

  /**
   * Folds the journal into a new snapshot. Runs inside a flush, so no journal write is in flight.
   * The snapshot may include mutations still queued for the journal; they are written afterwards
   * with revisions the snapshot covers, and replay skips them.
   */
  async #compact(): Promise<void> {
    const state = this.snapshotState()
    await writeFileDurable(
      join(this.dir, SNAPSHOT_FILE),
      encodeFrame(Buffer.from(JSON.stringify(state))),
      this.#fsync,
    )
    await this.#journal.truncate(0)
    if (this.#fsync) await this.#journal.datasync()
    this.#journalBytes = 0
    this.#compactions++
    this.log.debug(
      { dir: this.dir, revision: state.revision, keys: state.kvs.length },
      'meta journal compacted',
    )
  }
}

async function readSnapshot(path: string): Promise<{ revision: number; kvs: KeyValue[] }> {
  let buf: Buffer
  try {
    buf = await readFile(path)
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return { revision: 0, kvs: [] }
    throw e
  }
  const len = buf.length >= FRAME_HEADER_BYTES ? buf.readUInt32LE(0) : -1
  const body = buf.subarray(FRAME_HEADER_BYTES)
  if (len !== body.length || crc32c(body) !== buf.readUInt32LE(4)) {
    throw new DbError('DataCorrupted', `meta snapshot ${path} fails its length or checksum`)
  }
  const snap = parseJson(body, `meta snapshot ${path}`) as { revision?: unknown; kvs?: unknown }
  if (!Number.isSafeInteger(snap.revision) || !Array.isArray(snap.kvs)) {
    throw new DbError('DataCorrupted', `meta snapshot ${path} has no revision or kvs`)
  }
  return { revision: snap.revision as number, kvs: snap.kvs as KeyValue[] }
}

function parseMutation(body: Buffer, pos: number): Mutation {
  const m = parseJson(body, `meta journal record at byte ${pos}`) as {
    rev?: unknown
    ops?: unknown
  }
  if (!Number.isSafeInteger(m.rev) || !Array.isArray(m.ops)) {
    throw new DbError('DataCorrupted', `meta journal record at byte ${pos} is not a mutation`)
  }
  return m as Mutation
}

function parseJson(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch (e) {
    // The checksum matched, so these are the bytes we wrote: a bug or tampering, not a torn write.
    throw new DbError('DataCorrupted', `${what} is not valid JSON`, { cause: e })
  }
}
