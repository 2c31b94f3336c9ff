/**
 * Group commit: one flush (write + fsync) at a time; everything submitted while a flush runs is
 * queued and goes out together in the next one, so N concurrent writers share one fsync instead of
 * paying N. The first flush starts a microtask after the first submit, so a synchronous burst of
 * submits already lands in one batch.
 *
 * Batches complete in submission order. After a failed flush the file's state is unknown (a
 * failed fsync may have dropped dirty pages), so the committer is poisoned: that batch, everything
 * queued and every later submit reject with the same DbError('IoFailed'). Reopening recovers.
 */
import { DbError, isDbError } from '../common/errors.js'

interface Pending<T> {
  readonly item: T
  readonly resolve: () => void
  readonly reject: (e: unknown) => void
}

export class GroupCommit<T> {
  readonly #flush: (items: readonly T[]) => Promise<void>
  readonly #what: string
  #queue: Pending<T>[] = []
  #running: Promise<void> | undefined
  #failed: DbError | undefined

  /** @param what names the log in errors, e.g. 'WAL channel dml_0'. */
  constructor(what: string, flush: (items: readonly T[]) => Promise<void>) {
    this.#what = what
    this.#flush = flush
  }

  /** The error that poisoned this committer, if any. */
  get failed(): DbError | undefined {
    return this.#failed
  }

  /** Resolves once `item` has been flushed by a successful flush. */
  submit(item: T): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed)
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject })
      this.#running ??= this.#run()
    })
  }

  /** Resolves when nothing is queued or in flight (whether the flushes succeeded or not). */
  async drain(): Promise<void> {
    while (this.#running) await this.#running
  }

  async #run(): Promise<void> {
    await Promise.resolve()
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue
        this.#queue = []
        try {
          await this.#flush(batch.map((p) => p.item))
        } catch (e) {
          this.#failed = isDbError(e)
            ? e
            : new DbError('IoFailed', `${this.#what}: write failed`, { cause: e })
          const all = batch.concat(this.#queue)
          this.#queue = []
          for (const p of all) p.reject(this.#failed)
          return
        }
        for (const p of batch) p.resolve()
      }
    } finally {
      this.#running = undefined
    }
  }
}
