/**
 * The embedded ObjectStore: one file per object under a root directory, key 'a/b/c' at
 * `<root>/a/b/c`.
 *
 * put writes `<name>.harrier-tmp-<pid>.<boot>-<rand>` beside the target, fsyncs it, renames it over
 * the target and fsyncs the directory (and any directory it had to create), so a reader or a crash
 * sees the old object or the new one, never a torn one. Temp files are invisible to list/stat/get;
 * open removes those whose writer is gone (a dead pid, or our own pid from an earlier boot, as
 * containers reuse pid 1). Deleting the last object of a directory removes the empty directory.
 *
 * Several stores (or processes) may share a root, as several clients share a bucket.
 */
import { randomBytes } from 'node:crypto'
import {
  mkdir,
  open,
  readdir,
  rename,
  rmdir,
  stat,
  unlink,
  type FileHandle,
} from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { DbError, isDbError } from '../../common/errors.js'
import { silentLogger, type Logger } from '../../common/log.js'
import { errnoCode, fsyncDir, pidAlive } from '../fs-durable.js'
import {
  TEMP_MARKER,
  checkObjectKey,
  checkObjectPrefix,
  notFound,
  resolveRange,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
} from './object-store.js'

export interface LocalObjectStoreOptions {
  readonly root: string
  readonly log?: Logger
  /** fsync files and directories on put/delete. Default true; false only for tests. */
  readonly fsync?: boolean
}

/** Identifies this process incarnation in temp-file names: pid plus start time. */
const WRITER = `${process.pid}.${Math.floor(Date.now() - process.uptime() * 1000).toString(36)}`

export class LocalObjectStore implements ObjectStore {
  readonly root: string
  readonly #log: Logger
  readonly #fsync: boolean
  #closed = false

  private constructor(opts: LocalObjectStoreOptions) {
    this.root = resolve(opts.root)
    this.#log = opts.log ?? silentLogger()
    this.#fsync = opts.fsync ?? true
  }

  /** Creates the root if needed and removes temp files left by crashed writers. */
  static async open(opts: LocalObjectStoreOptions): Promise<LocalObjectStore> {
    const store = new LocalObjectStore(opts)
    await mkdir(store.root, { recursive: true })
    const removed = await store.#removeStaleTemps(store.root)
    if (removed > 0)
      store.#log.info(
        { root: store.root, files: removed },
        'removed temp files of interrupted puts',
      )
    return store
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    this.#usable()
    checkObjectKey(key)
    const path = this.#path(key)
    const dir = dirname(path)
    const tmp = `${path}${TEMP_MARKER}${WRITER}-${randomBytes(4).toString('hex')}`
    let fh: FileHandle
    for (let attempt = 0; ; attempt++) {
      await this.#mkdirs(dir, key)
      try {
        fh = await open(tmp, 'wx')
        break
      } catch (e) {
        // A concurrent delete may have pruned the (then empty) directory between mkdir and open.
        if (errnoCode(e) !== 'ENOENT' || attempt >= 5) throw ioError(e, 'put', key)
      }
    }
    try {
      try {
        await fh.writeFile(body)
        if (this.#fsync) await fh.sync()
      } finally {
        await fh.close()
      }
      await rename(tmp, path)
    } catch (e) {
      await unlink(tmp).catch(() => undefined)
      throw ioError(e, 'put', key)
    }
    if (this.#fsync) await fsyncDir(dir)
  }

  async get(key: string, opts?: { readonly range?: ByteRange }): Promise<Uint8Array> {
    this.#usable()
    checkObjectKey(key)
    let fh: FileHandle
    try {
      fh = await open(this.#path(key), 'r')
    } catch (e) {
      if (isMissing(e)) throw notFound(key)
      throw ioError(e, 'get', key)
    }
    try {
      const st = await fh.stat()
      if (!st.isFile()) throw notFound(key)
      const { start, end } = resolveRange(key, st.size, opts?.range)
      const out = new Uint8Array(end - start)
      let n = 0
      while (n < out.length) {
        const { bytesRead } = await fh.read(out, n, out.length - n, start + n)
        if (bytesRead === 0)
          throw new DbError('IoUnexpectedEof', `object ${key} shrank while reading`)
        n += bytesRead
      }
      return out
    } catch (e) {
      throw ioError(e, 'get', key)
    } finally {
      await fh.close()
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    this.#usable()
    checkObjectKey(key)
    try {
      const st = await stat(this.#path(key))
      return st.isFile()
        ? { key, size: st.size, lastModifiedMs: Math.floor(st.mtimeMs) }
        : undefined
    } catch (e) {
      if (isMissing(e)) return undefined
      throw ioError(e, 'stat', key)
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.#usable()
    checkObjectPrefix(prefix)
    const slash = prefix.lastIndexOf('/')
    const base = slash < 0 ? '' : prefix.slice(0, slash + 1)
    yield* this.#walk(base === '' ? this.root : this.#path(base.slice(0, -1)), base, prefix)
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.#usable()
    for (const key of keys) checkObjectKey(key)
    const dirs = new Set<string>()
    for (const key of keys) {
      const path = this.#path(key)
      try {
        await unlink(path)
        dirs.add(dirname(path))
      } catch (e) {
        // Missing, or a "directory" key (a prefix of other objects): no such object either way.
        if (!isMissing(e) && errnoCode(e) !== 'EISDIR' && errnoCode(e) !== 'EPERM')
          throw ioError(e, 'delete', key)
      }
    }
    // Deepest first, so pruning a child can empty its parent.
    for (const dir of [...dirs].sort((a, b) => b.length - a.length)) {
      if (this.#fsync)
        await fsyncDir(dir).catch((e: unknown) => {
          if (!isMissing(e)) throw ioError(e, 'delete', dir)
        })
      await this.#pruneEmpty(dir)
    }
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  #usable(): void {
    if (this.#closed) throw new DbError('ServiceInternal', 'object store is closed')
  }

  #path(key: string): string {
    return join(this.root, ...key.split('/'))
  }

  /** mkdir -p, making every directory it creates durable in its parent. */
  async #mkdirs(dir: string, key: string): Promise<void> {
    let first: string | undefined
    try {
      first = await mkdir(dir, { recursive: true })
    } catch (e) {
      throw ioError(e, 'put', key)
    }
    if (first === undefined || !this.#fsync) return
    for (let d = dirname(dir); ; d = dirname(d)) {
      await fsyncDir(d)
      if (d === dirname(first) || d === this.root || d === dirname(d)) break
    }
  }

  /** Removes `dir` and its ancestors while they are empty, stopping at the root. */
  async #pruneEmpty(dir: string): Promise<void> {
    for (let d = dir; d !== this.root && d.startsWith(this.root); d = dirname(d)) {
      try {
        await rmdir(d)
      } catch (e) {
        const code = errnoCode(e)
        if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return
        throw ioError(e, 'delete', d)
      }
    }
  }

  /** Objects under `dirPath` (whose keys start with `keyBase`) matching `prefix`, in key order. */
  async *#walk(dirPath: string, keyBase: string, prefix: string): AsyncGenerator<ObjectInfo> {
    let entries
    try {
      entries = await readdir(dirPath, { withFileTypes: true })
    } catch (e) {
      if (isMissing(e)) return
      throw ioError(e, 'list', keyBase)
    }
    // Sort a directory as "name/" so its objects land where their keys sort ('a-b' < 'a/x' < 'a0').
    const items = entries
      .filter((e) => e.isDirectory() || (e.isFile() && !e.name.includes(TEMP_MARKER)))
      .map((e) => ({
        name: e.name,
        dir: e.isDirectory(),
        sortKey: e.isDirectory() ? `${e.name}/` : e.name,
      }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0))
    for (const item of items) {
      const key = keyBase + item.sortKey
      if (item.dir) {
        if (key.startsWith(prefix) || prefix.startsWith(key))
          yield* this.#walk(join(dirPath, item.name), key, prefix)
        continue
      }
      if (!key.startsWith(prefix)) continue
      try {
        const st = await stat(join(dirPath, item.name))
        if (st.isFile()) yield { key, size: st.size, lastModifiedMs: Math.floor(st.mtimeMs) }
      } catch (e) {
        if (!isMissing(e)) throw ioError(e, 'list', key)
      }
    }
  }

  async #removeStaleTemps(dirPath: string): Promise<number> {
    let removed = 0
    for (const e of await readdir(dirPath, { withFileTypes: true })) {
      const path = join(dirPath, e.name)
      if (e.isDirectory()) removed += await this.#removeStaleTemps(path)
      else if (e.isFile() && isStaleTemp(e.name)) {
        await unlink(path).catch((err: unknown) => {
          if (!isMissing(err)) throw err
        })
        removed++
      }
    }
    return removed
  }
}

/** A temp file whose writer no longer exists. Temp files of live writers are left alone. */
function isStaleTemp(name: string): boolean {
  const at = name.lastIndexOf(TEMP_MARKER)
  if (at < 0) return false
  const writer = name.slice(at + TEMP_MARKER.length).split('-')[0] ?? ''
  if (writer === WRITER) return false
  const pid = Number.parseInt(writer, 10)
  return pid === process.pid || !pidAlive(pid)
}

function isMissing(e: unknown): boolean {
  const code = errnoCode(e)
  return code === 'ENOENT' || code === 'ENOTDIR'
}

function ioError(e: unknown, op: string, key: string): DbError {
  if (isDbError(e)) return e
  const code = errnoCode(e)
  if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST') {
    return new DbError(
      'ParameterInvalid',
      `object key ${key} conflicts with an existing object (one key is a prefix of the other)`,
      { cause: e },
    )
  }
  return new DbError('IoFailed', `object store ${op} ${key}`, { cause: e })
}
