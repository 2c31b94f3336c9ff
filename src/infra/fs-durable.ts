/**
 * Small file-system primitives the disk adapters share: durable directory entries, atomic file
 * replacement and process liveness. Everything here assumes POSIX semantics (Linux, macOS).
 */
import { randomBytes } from 'node:crypto'
import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** The `code` of a Node system error (`ENOENT`, ...), or undefined for anything else. */
export function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string'
    ? e.code
    : undefined
}

/**
 * Makes a directory's entries (files created, renamed or removed in it) durable. A file's own
 * fsync does not cover its name: without this, a crash can lose a freshly renamed file.
 */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/**
 * Replaces `path` with `data` so that a crash leaves either the old or the new content, never a
 * mix: write a temp file beside it, fsync it, rename it over, fsync the directory.
 */
export async function writeFileDurable(
  path: string,
  data: Uint8Array,
  fsync = true,
): Promise<void> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`)
  const fh = await open(tmp, 'wx')
  try {
    try {
      await fh.writeFile(data)
      if (fsync) await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (e) {
    await unlink(tmp).catch(() => undefined)
    throw e
  }
  if (fsync) await fsyncDir(dir)
}

/** Whether a process with this pid exists (EPERM means it exists but belongs to someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return errnoCode(e) === 'EPERM'
  }
}

/**
 * Writes `chunks` at the file position (the end, for a file opened to append) with one write call,
 * looping only if the kernel takes less. @returns the bytes written.
 */
export async function writeChunks(fh: FileHandle, chunks: readonly Buffer[]): Promise<number> {
  const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
  for (let off = 0; off < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off)
    off += bytesWritten
  }
  return buf.length
}
