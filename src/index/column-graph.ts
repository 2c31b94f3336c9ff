/**
 * Harrier's own HNSW addon (`native/column-graph.cc`, built by `npm ci`): usearch's graph
 * (index_gt, header-only) over the segment's float32, float16, bfloat16 or int8 column read in
 * place, searched on a native thread pool with an optional allow-list bitset.
 *
 * Why beside usearch's prebuilt addon: that one keeps its own copy of every vector (so an index
 * costs the rows twice over) and searches on the calling thread. This one holds only the
 * neighbour lists, so a float32 HNSW index adds about 8*M bytes a row to the column, and
 * `searchAsync` keeps graph walks off the event loop, several segments side by side.
 *
 * Loaded lazily: where the addon was not built (`npm ci --ignore-scripts`, a platform without a
 * compiler), float32 HNSW falls back to usearch's stored bf16 copy. HARRIER_NATIVE_GRAPH=0 forces
 * that fallback (A/B benchmarks).
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { Bitset } from '../common/bitset.js'
import { DbError } from '../common/errors.js'

/** Distance forms the addon knows: L2 (squared), IP under the MIPS-to-L2 reduction, 1 - cosine. */
export type ColumnGraphKind = 'l2' | 'mips' | 'cos'

/** Element types of the columns the graph reads in place (widened to float32 per distance). */
export type ColumnElement = 'f32' | 'f16' | 'bf16' | 'i8'

/** The typed array behind each element type. */
export type ColumnArray = Float32Array | Uint16Array | Int8Array

/** `counts[i]` candidates for query i sit at keys[i * wanted ...], nearest first. */
export interface NativeMatches {
  readonly keys: Uint32Array
  readonly counts: Int32Array
}

/** The addon's class, as column-graph.cc defines it. */
export interface ColumnGraph {
  /** Indexes rows[from, to) (all rows when constructed without a list) on `threads` threads. */
  add(from: number, to: number, threads: number): void
  save(): Uint8Array
  /** Replaces the graph with save()'s bytes; throws unless they index exactly the expected rows. */
  load(bytes: Uint8Array): void
  size(): number
  /** Graph, per-row aux values and row list, in bytes (the column itself is not counted). */
  memoryBytes(): number
  search(queries: Float32Array, nq: number, wanted: number, words: Uint32Array | null, size: number): NativeMatches
  searchAsync(queries: Float32Array, nq: number, wanted: number, words: Uint32Array | null, size: number): Promise<NativeMatches>
}

/**
 * The addon's constructor arguments: the column, its dim, the distance form, M, efConstruction,
 * the rows to index (null: all), threads for add, and the element type (default 'f32').
 */
type ColumnGraphArgs = [
  column: ColumnArray,
  dim: number,
  kind: ColumnGraphKind,
  M: number,
  efConstruction: number,
  rows: Uint32Array | null,
  threads: number,
  element?: ColumnElement,
]

interface Addon {
  readonly ColumnGraph: new (...args: ColumnGraphArgs) => ColumnGraph
  /**
   * Exact scan of the column's non-null, allowed rows on the native threads: per part of the rows
   * and query, up to `wanted` candidate rows nearest first by the addon's own float32 kernels
   * (parts*nq lists; see native-exact.ts, which re-scores them), among rows whose key (squared L2,
   * -dot, -cosine) lies in [lo, hi).
   */
  readonly exactSearchAsync: (
    column: Float32Array,
    dim: number,
    kind: 'l2' | 'ip' | 'cos',
    valid: Uint8Array | null,
    queries: Float32Array,
    nq: number,
    wanted: number,
    words: Uint32Array | null,
    size: number,
    lo?: number,
    hi?: number,
  ) => Promise<NativeMatches & { readonly parts: number }>
  /** malloc_trim(0): returns the allocator's free pages to the OS (glibc only). */
  readonly trimMemory: () => boolean
  /** Native search threads of this process (HARRIER_SEARCH_THREADS, default all cores). */
  readonly searchThreads: number
}

/** dist/src/index -> the repository root, where npm ci built native/. */
const ADDON_PATH = fileURLToPath(new URL('../../../native/build/Release/harrier_graph.node', import.meta.url))

let cached: Addon | null | undefined

/** The addon, or null where it is not built or disabled. Loaded once per thread. */
export function columnGraphAddon(): Addon | null {
  if (cached !== undefined) return cached
  if (process.env.HARRIER_NATIVE_GRAPH === '0' || !existsSync(ADDON_PATH)) return (cached = null)
  try {
    cached = createRequire(import.meta.url)(ADDON_PATH) as Addon
  } catch {
    cached = null
  }
  return cached
}

/** Whether HNSW indexes over dense rows are built on the column graph here. */
export function columnGraphAvailable(): boolean {
  return columnGraphAddon() !== null
}

export function newColumnGraph(...args: ColumnGraphArgs): ColumnGraph {
  const addon = columnGraphAddon()
  if (addon === null) {
    throw new DbError('IndexNotSupported', 'this index needs the harrier_graph addon, which is not built here (run npm ci)')
  }
  try {
    return new addon.ColumnGraph(...args)
  } catch (e) {
    throw new DbError('ServiceInternal', `could not create the HNSW graph: ${e instanceof Error ? e.message : String(e)}`, { cause: e })
  }
}

/** The allow-list as the addon's predicate reads it (words of 32 rows, least bit first). */
export function filterWords(allow: Bitset | undefined): [Uint32Array | null, number] {
  return allow === undefined ? [null, 0] : [allow.words, allow.size]
}

/**
 * Debounced malloc_trim: poke() after freeing large temporary buffers (a segment load reads and
 * decodes whole files); the trim runs once things have been quiet for `quietMs`. glibc otherwise
 * keeps those pages (measured: a loaded 25k x 768 collection held 1.99x its raw vectors in RSS
 * untrimmed, 1.49x trimmed). Does nothing where the addon is not built.
 */
export class NativeMemoryTrimmer {
  readonly #quietMs: number
  #timer: NodeJS.Timeout | undefined

  constructor(quietMs = 500) {
    this.#quietMs = quietMs
  }

  poke(): void {
    if (columnGraphAddon() === null) return
    if (this.#timer !== undefined) this.#timer.refresh()
    else {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        columnGraphAddon()?.trimMemory()
      }, this.#quietMs)
      // A pending trim never keeps a process alive.
      this.#timer.unref()
    }
  }

  close(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
