/** Shared pieces of the conformance suites and the adapter tests. */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDbError, type ErrorKind } from '../../src/common/errors.js'
import type { Logger } from '../../src/common/log.js'

/**
 * How a suite gets instances of the adapter under test. `reopen` exists only for adapters that
 * persist; the suite's persistence tests run only when it is given.
 */
export interface AdapterFactory<T> {
  /** A new, empty instance. */
  open(): Promise<T>
  /** Closes `instance` and opens the same data again. */
  reopen?(instance: T): Promise<T>
  /** Frees what open() made (temp directories); runs once after the suite. */
  cleanup?(): Promise<void>
}

/**
 * Returns a runner that opens a fresh instance, passes it to `fn` and closes whichever instance
 * the test ends with (`swap` tells it about one from `reopen`).
 */
export function instanceRunner<T extends { close(): Promise<void> }>(
  factory: AdapterFactory<T>,
): (fn: (instance: T, swap: (next: T) => void) => Promise<void>) => Promise<void> {
  return async (fn) => {
    let instance = await factory.open()
    try {
      await fn(instance, (next) => {
        instance = next
      })
    } finally {
      await instance.close()
    }
  }
}

/** Byte ranges [start, end) of the `[u32 len][u32 crc][body]` frames of a journal or WAL segment. */
export function frameBounds(buf: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let pos = 0; pos < buf.length; ) {
    const end = pos + 8 + buf.readUInt32LE(pos)
    out.push([pos, end])
    pos = end
  }
  return out
}

/** Asserts that `p` rejects with a DbError of `kind`, optionally with a message matching `msg`. */
export async function rejectsWith(
  p: Promise<unknown> | (() => Promise<unknown>),
  kind: ErrorKind,
  msg?: RegExp,
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isDbError(e, kind), `expected DbError ${kind}, got ${String(e)}`)
    if (msg) assert.match(e.message, msg)
    return true
  })
}

/** Asserts that `fn` throws synchronously or rejects with a DbError of `kind`. */
export async function failsWith(fn: () => unknown, kind: ErrorKind): Promise<void> {
  await rejectsWith(async () => fn(), kind)
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `cond` until it holds or `timeoutMs` passes. */
export async function eventually(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 2000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`condition not met within ${timeoutMs} ms`)
    await sleep(10)
  }
}

/** Temp directories for one test file; `cleanup` removes them all. */
export function tempDirs(prefix: string): { make(): Promise<string>; cleanup(): Promise<void> } {
  const made: string[] = []
  return {
    async make() {
      const dir = await mkdtemp(join(tmpdir(), `harrier-${prefix}-`))
      made.push(dir)
      return dir
    },
    async cleanup() {
      await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })))
    },
  }
}

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error'
  readonly obj: Record<string, unknown>
  readonly msg: string | undefined
}

/** A Logger that records what it is given, for asserting on warnings. */
export class CaptureLogger implements Logger {
  readonly lines: LogLine[]
  readonly #bindings: Record<string, unknown>

  constructor(lines: LogLine[] = [], bindings: Record<string, unknown> = {}) {
    this.lines = lines
    this.#bindings = bindings
  }

  debug(obj: object, msg?: string): void {
    this.#push('debug', obj, msg)
  }
  info(obj: object, msg?: string): void {
    this.#push('info', obj, msg)
  }
  warn(obj: object, msg?: string): void {
    this.#push('warn', obj, msg)
  }
  error(obj: object, msg?: string): void {
    this.#push('error', obj, msg)
  }
  child(bindings: Record<string, unknown>): Logger {
    return new CaptureLogger(this.lines, { ...this.#bindings, ...bindings })
  }

  find(msg: string): LogLine | undefined {
    return this.lines.find((l) => l.msg === msg)
  }

  #push(level: LogLine['level'], obj: object, msg: string | undefined): void {
    this.lines.push({ level, obj: { ...this.#bindings, ...obj }, msg })
  }
}
