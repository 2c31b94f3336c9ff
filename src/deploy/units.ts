/**
 * Human quantities on the command line and in host plans: counts with k/m/b/t suffixes
 * ("30m" vectors), byte sizes with SI or binary units ("64GiB" of RAM, "1000GB" of disk) and
 * durations ("30m", "24h").
 */
import { invalid } from '../common/errors.js'

export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB
export const TiB = 1024 * GiB

const COUNT_SUFFIX: Readonly<Record<string, number>> = { '': 1, k: 1e3, m: 1e6, b: 1e9, g: 1e9, t: 1e12 }

/** "30m" -> 30_000_000, "1.5b" -> 1_500_000_000, "100k", "12345", "30_000_000". */
export function parseCount(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmbgt]?)\s*$/i.exec(text.replaceAll('_', ''))
  if (!m) throw invalid(`${what}: expected a count such as 100k, 30m or 1.5b, got ${JSON.stringify(text)}`)
  const n = Number(m[1]) * COUNT_SUFFIX[m[2]!.toLowerCase()]!
  // 1.2345k is not a whole number of vectors; round-off from the float product is not the user's fault.
  const rounded = Math.round(n)
  if (Math.abs(n - rounded) > 1e-6 * Math.max(1, n)) throw invalid(`${what}: ${JSON.stringify(text)} is not a whole number`)
  if (!Number.isSafeInteger(rounded)) throw invalid(`${what}: ${JSON.stringify(text)} is too large`)
  return rounded
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: KiB,
  kib: KiB,
  mi: MiB,
  mib: MiB,
  gi: GiB,
  gib: GiB,
  ti: TiB,
  tib: TiB,
}

/** "64GiB" -> 64 * 2^30, "1000GB" -> 1e12 (SI units are decimal, *i* units binary), or a plain number of bytes. */
export function parseBytes(text: string | number, what: string): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw invalid(`${what}: expected a size such as 64GiB or 250GB, got ${text}`)
    return text
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined
  if (!m || unit === undefined) throw invalid(`${what}: expected a size such as 64GiB, 512MiB or 250GB, got ${JSON.stringify(text)}`)
  return Math.round(Number(m[1]) * unit)
}

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 }

/** "30m" -> 1800, "24h" -> 86400, "90s"; the result is in seconds. */
export function parseDurationSeconds(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$/i.exec(text)
  if (!m) throw invalid(`${what}: expected a duration such as 90s, 30m or 24h, got ${JSON.stringify(text)}`)
  return Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!
}

/** Bytes as GiB with one or two decimals ("118.47 GiB"), or MiB below 1 GiB. */
export function formatBytes(bytes: number): string {
  if (bytes >= TiB) return `${(bytes / TiB).toFixed(2)} TiB`
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`
  return `${Math.round(bytes / KiB)} KiB`
}

/** 30000000 -> "30,000,000". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}
