/**
 * usearch graph searches, one call at a time or coalesced across concurrent requests.
 *
 * usearch's JS search is synchronous, but one call takes a matrix of queries and spreads them over
 * native threads (`search(vectors, wanted, threads)`). The batcher collects the graph searches that
 * concurrent requests ask for while the event loop is busy (everything queued before the loop's
 * check phase, via setImmediate) and runs each graph's batch as one call on up to `threads`
 * threads: while one request's graph search would use one core, a batch uses them all, and each
 * call's fixed cost (N-API crossing, result arrays) is paid once per batch. A lone request costs
 * one extra turn of the event loop and nothing else.
 */
import { availableParallelism } from 'node:os'
import type { BatchMatches, Matches, Index as UsearchIndex } from 'usearch'
import { DbError } from '../common/errors.js'

/**
 * `counts[i]` candidates for query i sit at keys[i * wanted ...], nearest first (usearch gives
 * BigInt keys, the column graph row numbers).
 */
export interface GraphMatches {
  readonly keys: BigUint64Array | Uint32Array
  readonly counts: ArrayLike<number>
}

/** usearch's matches: BigInt keys. */
export interface UsearchMatches extends GraphMatches {
  readonly keys: BigUint64Array
}

/** Queries per usearch call: bounds the result buffers (queries x wanted x 12 bytes). */
const MAX_BATCH = 256

/** One synchronous usearch search of `queries` (rows of the graph's dimension). */
export function searchGraph(graph: UsearchIndex, queries: Float32Array, wanted: number, threads: number): UsearchMatches {
  let m: Matches | BatchMatches
  try {
    // The typings promise Matches for any typed array; the wrapper returns BatchMatches when the
    // array holds more than one query.
    m = graph.search(queries, wanted, threads) as Matches | BatchMatches
  } catch (e) {
    throw new DbError('ServiceInternal', 'usearch search failed', { cause: e })
  }
  if ('counts' in m) {
    // BatchMatches: rows of `wanted` slots, counts[i] of them filled.
    const counts = new Int32Array(m.counts.length)
    for (let i = 0; i < counts.length; i++) counts[i] = Number(m.counts[i]!)
    return { keys: m.keys, counts }
  }
  return { keys: m.keys, counts: [m.keys.length] }
}

interface Waiting {
  readonly queries: Float32Array
  readonly nq: number
  resolve(m: UsearchMatches): void
  reject(e: unknown): void
}

export interface GraphSearchBatcherOptions {
  /** Native threads per batch; default the cores this process may use. */
  readonly threads?: number
}

/**
 * Coalesces concurrent graph searches (see the file comment). Owned by whoever serves searches;
 * holds no resources between batches.
 */
export class GraphSearchBatcher {
  readonly #threads: number
  /** Pending queries by graph, then by candidates wanted (one usearch call serves one `wanted`). */
  #pending = new Map<UsearchIndex, Map<number, Waiting[]>>()
  #maxThreads = new Map<UsearchIndex, number>()
  #scheduled = false

  constructor(opts: GraphSearchBatcherOptions = {}) {
    this.#threads = Math.max(1, Math.floor(opts.threads ?? availableParallelism()))
  }

  /**
   * Searches `nq` queries (rows of the graph's dimension) in the next batch of this graph.
   * `maxThreads`: the search contexts the graph has reserved (usearch fails a search that finds
   * none free, rather than waiting for one).
   */
  search(graph: UsearchIndex, queries: Float32Array, nq: number, wanted: number, maxThreads: number): Promise<UsearchMatches> {
    return new Promise<UsearchMatches>((resolve, reject) => {
      let byWanted = this.#pending.get(graph)
      if (byWanted === undefined) {
        this.#pending.set(graph, (byWanted = new Map()))
        this.#maxThreads.set(graph, maxThreads)
      }
      let list = byWanted.get(wanted)
      if (list === undefined) byWanted.set(wanted, (list = []))
      list.push({ queries, nq, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => this.#flush())
      }
    })
  }

  #flush(): void {
    const pending = this.#pending
    const maxThreads = this.#maxThreads
    this.#pending = new Map()
    this.#maxThreads = new Map()
    this.#scheduled = false
    for (const [graph, byWanted] of pending) {
      const threads = Math.min(this.#threads, maxThreads.get(graph) ?? 1)
      for (const [wanted, list] of byWanted) {
        for (let from = 0; from < list.length; ) {
          // Requests whole, up to MAX_BATCH queries per call (a bigger request goes alone).
          let to = from
          let nq = 0
          while (to < list.length && (to === from || nq + list[to]!.nq <= MAX_BATCH)) nq += list[to++]!.nq
          this.#run(graph, wanted, list.slice(from, to), nq, threads)
          from = to
        }
      }
    }
  }

  #run(graph: UsearchIndex, wanted: number, group: Waiting[], nq: number, threads: number): void {
    let m: UsearchMatches
    let all: Float32Array
    if (group.length === 1) {
      all = group[0]!.queries
    } else {
      all = new Float32Array(group.reduce((n, w) => n + w.queries.length, 0))
      let at = 0
      for (const w of group) {
        all.set(w.queries, at)
        at += w.queries.length
      }
    }
    try {
      m = searchGraph(graph, all, wanted, Math.max(1, Math.min(threads, nq)))
    } catch (e) {
      for (const w of group) w.reject(e)
      return
    }
    let q = 0
    for (const w of group) {
      const counts = Array.from({ length: w.nq }, (_, i) => m.counts[q + i]!)
      w.resolve({ keys: m.keys.subarray(q * wanted, (q + w.nq) * wanted), counts })
      q += w.nq
    }
  }
}
