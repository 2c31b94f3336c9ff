/**
 * Builds vector indexes in worker_threads so the event loop keeps serving while a segment is
 * indexed (an HNSW build is seconds to minutes of synchronous native work). The caller gets the
 * serialized files and opens them with loadVectorIndex.
 *
 * Each worker builds one index at a time; jobs queue beyond the pool size. Idle workers are
 * unref'd, so an open pool never keeps the process alive by itself.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { DbError, invalid } from '../common/errors.js'
import type { VectorColumn } from '../schema/columns.js'
import {
  type BuildRequestMessage,
  filesFromWire,
  reviveError,
  toWire,
  type WorkerReply,
} from './index-build-wire.js'
import type { MetricType } from './metric.js'

export interface IndexBuildRequest {
  readonly indexType: string
  readonly metric: MetricType
  readonly params: Readonly<Record<string, string>>
  readonly data: VectorColumn
}

export interface IndexBuildOptions {
  /** Aborting rejects the build at once; a running worker stops at its next chunk boundary. */
  readonly signal?: AbortSignal
  /** Fraction of rows added so far, 0..1, as the worker reports it (about every 1 %). */
  readonly onProgress?: (fraction: number) => void
}

export interface IndexBuildPoolOptions {
  /** Worker count; default max(1, availableParallelism() - 1), leaving a core to the event loop. */
  readonly size?: number
  /** usearch threads per build; default max(1, floor(cores / size)), so a full pool fills the cores. */
  readonly threadsPerBuild?: number
}

interface Job {
  readonly id: number
  readonly req: IndexBuildRequest
  readonly opts: IndexBuildOptions
  readonly stop: Int32Array
  readonly resolve: (files: Map<string, Uint8Array>) => void
  readonly reject: (e: unknown) => void
  settled: boolean
  onAbort?: () => void
}

interface Slot {
  readonly worker: Worker
  job: Job | undefined
  /** Set by close(): called once the running job has replied, so the worker can be ended safely. */
  whenIdle?: () => void
}

const WORKER_URL = new URL('./index-build-worker.js', import.meta.url)

export class IndexBuildPool {
  readonly size: number
  readonly threadsPerBuild: number
  readonly #slots: Slot[] = []
  readonly #queue: Job[] = []
  #nextId = 1
  #closed = false

  constructor(opts: IndexBuildPoolOptions = {}) {
    const cores = availableParallelism()
    const size = opts.size ?? Math.max(1, cores - 1)
    if (!Number.isInteger(size) || size < 1) throw invalid(`index build pool size must be a positive integer, got ${size}`)
    const threads = opts.threadsPerBuild ?? Math.max(1, Math.floor(cores / size))
    if (!Number.isInteger(threads) || threads < 1) throw invalid(`threadsPerBuild must be a positive integer, got ${threads}`)
    this.size = size
    this.threadsPerBuild = threads
  }

  /**
   * Builds an index off the event loop; resolves with its serialized files.
   *
   * @throws (rejects) DbError from the build (ParameterInvalid, IndexNotSupported, ...);
   * ServiceUnavailable when aborted or the pool is closed; ServiceInternal if a worker dies.
   */
  build(req: IndexBuildRequest, opts: IndexBuildOptions = {}): Promise<Map<string, Uint8Array>> {
    if (this.#closed) return Promise.reject(new DbError('ServiceUnavailable', 'index build pool is closed'))
    if (opts.signal?.aborted === true) return Promise.reject(aborted(opts.signal))
    return new Promise((resolve, reject) => {
      const job: Job = {
        id: this.#nextId++,
        req,
        opts,
        stop: new Int32Array(new SharedArrayBuffer(4)),
        resolve,
        reject,
        settled: false,
      }
      const signal = opts.signal
      if (signal !== undefined) {
        job.onAbort = () => {
          const q = this.#queue.indexOf(job)
          if (q >= 0) this.#queue.splice(q, 1)
          // A running build notices at its next chunk; its slot frees when the worker replies.
          Atomics.store(job.stop, 0, 1)
          this.#settle(job, () => reject(aborted(signal)))
        }
        signal.addEventListener('abort', job.onAbort, { once: true })
      }
      this.#queue.push(job)
      this.#dispatch()
    })
  }

  /**
   * Rejects queued and running builds and ends the workers. A running build is asked to stop and
   * its worker is ended only once it has replied: terminating a worker while it is inside the native
   * kernel makes the addon throw during teardown, which aborts the whole process.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const gone = new DbError('ServiceUnavailable', 'index build pool is closed')
    for (const job of this.#queue.splice(0)) this.#settle(job, () => job.reject(gone))
    const slots = this.#slots.splice(0)
    const idle: Promise<void>[] = []
    for (const s of slots) {
      if (s.job !== undefined) {
        Atomics.store(s.job.stop, 0, 1)
        const job = s.job
        this.#settle(job, () => job.reject(gone))
        idle.push(
          new Promise<void>((resolve) => {
            // The stop flag is checked every few thousand rows; the timeout only covers a wedged worker.
            const t = setTimeout(resolve, 60_000)
            const done = () => {
              clearTimeout(t)
              resolve()
            }
            s.whenIdle = done
            s.worker.once('exit', done)
          }),
        )
      }
    }
    await Promise.all(idle)
    await Promise.all(slots.map((s) => s.worker.terminate()))
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => s.job === undefined)
      if (slot === undefined) {
        if (this.#slots.length >= this.size) return
        slot = this.#spawn()
      }
      const job = this.#queue.shift()!
      this.#start(slot, job)
    }
  }

  #start(slot: Slot, job: Job): void {
    slot.job = job
    slot.worker.ref()
    let msg: BuildRequestMessage
    let transfer: ArrayBuffer[]
    try {
      // Copied only now, so queued jobs do not hold a second copy of their column.
      const wire = toWire(job.req.data)
      transfer = wire.transfer
      msg = {
        id: job.id,
        indexType: job.req.indexType,
        metric: job.req.metric,
        params: { ...job.req.params },
        column: wire.column,
        threads: this.threadsPerBuild,
        stop: job.stop,
      }
    } catch (e) {
      slot.job = undefined
      slot.worker.unref()
      this.#settle(job, () => job.reject(new DbError('ServiceInternal', 'could not copy the column for the index build', { cause: e })))
      return
    }
    slot.worker.postMessage(msg, transfer)
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_URL)
    const slot: Slot = { worker, job: undefined }
    worker.unref()
    worker.on('message', (m: WorkerReply) => this.#onReply(slot, m))
    const died = (cause: unknown): void => {
      const i = this.#slots.indexOf(slot)
      if (i < 0) return
      this.#slots.splice(i, 1)
      const job = slot.job
      slot.job = undefined
      if (job !== undefined) {
        this.#settle(job, () => job.reject(new DbError('ServiceInternal', 'index build worker died', { cause })))
      }
      if (!this.#closed) this.#dispatch()
    }
    worker.on('error', died)
    worker.on('exit', (code) => died(new DbError('ServiceInternal', `index build worker exited with code ${code}`)))
    this.#slots.push(slot)
    return slot
  }

  #onReply(slot: Slot, m: WorkerReply): void {
    const job = slot.job
    if (job === undefined || job.id !== m.id) return
    if (m.kind === 'progress') {
      if (!job.settled) job.opts.onProgress?.(m.fraction)
      return
    }
    slot.job = undefined
    slot.worker.unref()
    slot.whenIdle?.()
    if (m.kind === 'done') {
      const files = filesFromWire(m.files)
      this.#settle(job, () => job.resolve(files))
    } else {
      this.#settle(job, () => job.reject(reviveError(m.errorKind, m.message)))
    }
    this.#dispatch()
  }

  #settle(job: Job, fn: () => void): void {
    if (job.settled) return
    job.settled = true
    if (job.onAbort !== undefined) job.opts.signal?.removeEventListener('abort', job.onAbort)
    fn()
  }
}

function aborted(signal: AbortSignal): DbError {
  return new DbError('ServiceUnavailable', 'index build aborted', { cause: signal.reason })
}
