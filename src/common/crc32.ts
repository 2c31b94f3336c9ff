/**
 * CRC-32C (Castagnoli), the checksum of WAL records, catalog journal records and segment files.
 * Node 20 lacks zlib.crc32, and a table-driven loop is fast enough for the sizes we frame
 * (the WAL fsync dominates by orders of magnitude).
 */
const TABLE = (() => {
  const t = new Uint32Array(256 * 8)
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    t[i] = c >>> 0
  }
  // Slicing-by-8 tables: eight bytes per step instead of one.
  for (let i = 0; i < 256; i++) {
    let c = t[i]!
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff]! ^ (c >>> 8)
      t[s * 256 + i] = c >>> 0
    }
  }
  return t
})()

export function crc32c(buf: Uint8Array, seed = 0): number {
  let crc = ~seed >>> 0
  let i = 0
  const n = buf.length
  const t = TABLE
  while (n - i >= 8) {
    const a = (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) ^ crc
    crc =
      t[7 * 256 + (a & 0xff)]! ^
      t[6 * 256 + ((a >>> 8) & 0xff)]! ^
      t[5 * 256 + ((a >>> 16) & 0xff)]! ^
      t[4 * 256 + (a >>> 24)]! ^
      t[3 * 256 + buf[i + 4]!]! ^
      t[2 * 256 + buf[i + 5]!]! ^
      t[256 + buf[i + 6]!]! ^
      t[buf[i + 7]!]!
    i += 8
  }
  while (i < n) crc = t[(crc ^ buf[i++]!) & 0xff]! ^ (crc >>> 8)
  return ~crc >>> 0
}
