/**
 * JSON with exact bigints: catalog records carry 64-bit IDs and hybrid timestamps that do not fit
 * a double, so they are written as {"$n":"<decimal>"} and revived on read.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? { $n: v.toString() } : v))
}

export function fromJson<T>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>
      if (typeof o.$n === 'string' && Object.keys(o).length === 1) return BigInt(o.$n)
    }
    return v
  }) as T
}
