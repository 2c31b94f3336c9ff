/**
 * Merges lists that are each sorted best first into one list of at most k, best first. Equal
 * scores keep list order (an earlier list's item first) and each list's own order, so callers that
 * need a specific tie-break (e.g. by primary key) encode it in list order or pre-sort.
 *
 * O(k log L) for L lists via a small heap of list heads; lists are not modified.
 */
export function mergeTopK<T extends { score: number }>(
  lists: readonly (readonly T[])[],
  k: number,
  higherIsBetter: boolean,
): T[] {
  const out: T[] = []
  if (k <= 0) return out
  const L = lists.length
  // Heap of list indices ordered by their current head; pos[l] is the head's offset in list l.
  const heap = new Int32Array(L)
  const pos = new Int32Array(L)
  let size = 0
  // a precedes b: strictly better score, or equal score and an earlier list.
  const before = (a: number, b: number): boolean => {
    const sa = lists[a]![pos[a]!]!.score
    const sb = lists[b]![pos[b]!]!.score
    if (sa !== sb) return higherIsBetter ? sa > sb : sa < sb
    return a < b
  }
  const siftDown = (i: number): void => {
    const l0 = heap[i]!
    for (;;) {
      const l = 2 * i + 1
      if (l >= size) break
      let c = l
      if (l + 1 < size && before(heap[l + 1]!, heap[l]!)) c = l + 1
      if (!before(heap[c]!, l0)) break
      heap[i] = heap[c]!
      i = c
    }
    heap[i] = l0
  }
  for (let l = 0; l < L; l++) if (lists[l]!.length > 0) heap[size++] = l
  for (let i = (size >>> 1) - 1; i >= 0; i--) siftDown(i)
  while (size > 0 && out.length < k) {
    const l = heap[0]!
    const list = lists[l]!
    out.push(list[pos[l]!]!)
    pos[l] = pos[l]! + 1
    if (pos[l]! >= list.length) heap[0] = heap[--size]!
    if (size > 0) siftDown(0)
  }
  return out
}
