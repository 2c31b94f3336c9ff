/**
 * Fixed-capacity top-k selection over (key, row) pairs where SMALLER keys are better; callers
 * negate similarities so one heap serves every metric. Ties go to the lower row.
 *
 * The heap is pre-filled with sentinels (key +Infinity, row MAX_ROW) so the scan loop needs a
 * single comparison against the root instead of a "not full yet" branch, and NaN keys, which
 * compare false against everything, are never admitted.
 */
const MAX_ROW = 0x7fffffff

export class TopKHeap {
  /** Root (index 0) is the worst kept entry. */
  readonly keys: Float64Array
  readonly rows: Int32Array

  constructor(capacity: number) {
    this.keys = new Float64Array(capacity).fill(Infinity)
    this.rows = new Int32Array(capacity).fill(MAX_ROW)
  }

  /** Key the next candidate must beat (or tie with a lower row). */
  get worstKey(): number {
    return this.keys[0]!
  }

  get worstRow(): number {
    return this.rows[0]!
  }

  /** Whether (key, row) ranks before the current worst entry; never true for a NaN key. */
  admits(key: number, row: number): boolean {
    const top = this.keys[0]!
    return key < top || (key === top && row < this.rows[0]!)
  }

  /** Replaces the worst entry; call only when admits(key, row). */
  replaceTop(key: number, row: number): void {
    siftDown(this.keys, this.rows, this.keys.length, key, row)
  }

  /**
   * Sorts the kept entries best first and drops unused sentinel slots. Destroys the heap order, so
   * call once, after the scan.
   */
  drain(): { rows: Int32Array; keys: Float64Array } {
    const keys = this.keys
    const rows = this.rows
    // Heapsort in place: popping the worst to the back leaves the array ascending.
    for (let end = keys.length - 1; end > 0; end--) {
      const k = keys[end]!
      const r = rows[end]!
      keys[end] = keys[0]!
      rows[end] = rows[0]!
      siftDown(keys, rows, end, k, r)
    }
    let n = keys.length
    while (n > 0 && rows[n - 1] === MAX_ROW) n--
    return { rows: rows.subarray(0, n), keys: keys.subarray(0, n) }
  }
}

function worse(ka: number, ra: number, kb: number, rb: number): boolean {
  return ka > kb || (ka === kb && ra > rb)
}

/** Places (key, row) at the root of heap[0, n) and restores the max-heap order. */
function siftDown(keys: Float64Array, rows: Int32Array, n: number, key: number, row: number): void {
  let i = 0
  for (;;) {
    const l = 2 * i + 1
    if (l >= n) break
    let c = l
    const r = l + 1
    if (r < n && worse(keys[r]!, rows[r]!, keys[l]!, rows[l]!)) c = r
    if (!worse(keys[c]!, rows[c]!, key, row)) break
    keys[i] = keys[c]!
    rows[i] = rows[c]!
    i = c
  }
  keys[i] = key
  rows[i] = row
}
