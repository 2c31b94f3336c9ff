/**
 * A fixed-size bitset over row offsets, the currency between the filter evaluator, MVCC visibility
 * and the search kernels. Word-at-a-time operations keep filters cheap on large segments.
 */
export class Bitset {
  readonly words: Uint32Array
  readonly size: number

  constructor(size: number, words?: Uint32Array) {
    this.size = size
    this.words = words ?? new Uint32Array((size + 31) >>> 5)
  }

  static full(size: number): Bitset {
    const b = new Bitset(size)
    b.words.fill(0xffffffff)
    b.clearTail()
    return b
  }

  get(i: number): boolean {
    return (this.words[i >>> 5]! & (1 << (i & 31))) !== 0
  }

  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31)
  }

  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31))
  }

  and(o: Bitset): this {
    const w = this.words
    const v = o.words
    for (let i = 0; i < w.length; i++) w[i]! &= v[i]!
    return this
  }

  or(o: Bitset): this {
    const w = this.words
    const v = o.words
    for (let i = 0; i < w.length; i++) w[i]! |= v[i]!
    return this
  }

  andNot(o: Bitset): this {
    const w = this.words
    const v = o.words
    for (let i = 0; i < w.length; i++) w[i]! &= ~v[i]!
    return this
  }

  not(): this {
    const w = this.words
    for (let i = 0; i < w.length; i++) w[i] = ~w[i]!
    this.clearTail()
    return this
  }

  clone(): Bitset {
    return new Bitset(this.size, this.words.slice())
  }

  count(): number {
    let n = 0
    const w = this.words
    for (let i = 0; i < w.length; i++) {
      let x = w[i]!
      x -= (x >>> 1) & 0x55555555
      x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
      n += (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
    }
    return n
  }

  /** Calls fn for each set bit in ascending order. */
  forEach(fn: (i: number) => void): void {
    const w = this.words
    for (let wi = 0; wi < w.length; wi++) {
      let x = w[wi]!
      while (x !== 0) {
        const t = x & -x
        fn((wi << 5) + 31 - Math.clz32(t))
        x ^= t
      }
    }
  }

  private clearTail(): void {
    const r = this.size & 31
    if (r !== 0 && this.words.length > 0) this.words[this.words.length - 1]! &= (1 << r) - 1
  }
}
