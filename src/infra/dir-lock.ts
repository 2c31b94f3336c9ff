/**
 * One process per data directory. Embedded adapters keep their state in memory and assume they are
 * the only writer, so opening the same directory twice (two processes, or twice in one process)
 * would interleave journals. The lock is a file holding the owner's pid, created with O_EXCL.
 *
 * A lock whose pid is dead is stale (the owner crashed) and is taken over. A lock holding our own
 * pid that this process does not hold is stale too: in containers every restart is pid 1, so the
 * pid alone cannot tell "me, now" from "me, before the crash". Hence the process-wide set below,
 * which is the one piece of module state here on purpose: a lock is a process-wide fact.
 *
 * Node has no flock(); two processes racing to take over the same stale lock can both win. Starting
 * two servers on one directory at the same instant after a crash is not a case we defend.
 */
import { open, readFile, unlink } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { DbError } from '../common/errors.js'
import { errnoCode, pidAlive } from './fs-durable.js'

const held = new Set<string>()

export const LOCK_FILE = 'LOCK'

export interface DirLock {
  readonly path: string
  /** Removes the lock file; idempotent. */
  release(): Promise<void>
}

/**
 * Takes the lock of `dir` (which must exist) for this process.
 * @param what names the store in the error, e.g. 'meta store'.
 * @throws DbError('ServiceInternal', '<what> <dir> is locked by pid N') when it is held.
 */
export async function acquireDirLock(dir: string, what: string): Promise<DirLock> {
  const path = join(resolve(dir), LOCK_FILE)
  if (held.has(path)) {
    throw new DbError('ServiceInternal', `${what} ${dir} is locked by pid ${process.pid}`)
  }
  held.add(path)
  try {
    await createLockFile(path, dir, what)
  } catch (e) {
    held.delete(path)
    throw e
  }
  let released = false
  return {
    path,
    async release() {
      if (released) return
      released = true
      try {
        const owner = await readOwner(path)
        if (owner === process.pid) await unlink(path)
      } finally {
        held.delete(path)
      }
    },
  }
}

async function createLockFile(path: string, dir: string, what: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx')
      try {
        await fh.writeFile(`${process.pid}\n`)
        await fh.sync()
      } finally {
        await fh.close()
      }
      return
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST' || attempt >= 3) throw e
    }
    const owner = await readOwner(path)
    // Our own pid here means a crashed earlier incarnation (we checked `held` above).
    if (owner !== undefined && owner !== process.pid && pidAlive(owner)) {
      throw new DbError('ServiceInternal', `${what} ${dir} is locked by pid ${owner}`)
    }
    await unlink(path).catch((e: unknown) => {
      if (errnoCode(e) !== 'ENOENT') throw e
    })
  }
}

/** The pid in a lock file; undefined when the file is gone or does not hold one. */
async function readOwner(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(path, 'utf8'), 10)
    return Number.isSafeInteger(pid) ? pid : undefined
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined
    throw e
  }
}
