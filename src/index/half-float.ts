/**
 * IEEE binary16 (fp16) and bfloat16 conversions. Float16Vector and BFloat16Vector columns keep the
 * raw 16-bit patterns; search widens them to float32 exactly, and the insert path narrows client
 * floats with round-to-nearest-even, as numpy and ml_dtypes (what pymilvus uses) do.
 */

/** Every fp16 pattern widened; one load per element beats bit-twiddling in the hot loops. */
export const FP16_TABLE: Float32Array = buildFp16Table()
/** Every bf16 pattern widened (bf16 is the top half of a float32). */
export const BF16_TABLE: Float32Array = buildBf16Table()

function buildFp16Table(): Float32Array {
  const t = new Float32Array(65536)
  for (let b = 0; b < 65536; b++) t[b] = decodeFp16(b)
  return t
}

function buildBf16Table(): Float32Array {
  const t = new Float32Array(65536)
  const u = new Uint32Array(t.buffer)
  for (let b = 0; b < 65536; b++) u[b] = b << 16
  return t
}

function decodeFp16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exp = (bits >>> 10) & 0x1f
  const mant = bits & 0x3ff
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN
  return sign * (1024 + mant) * 2 ** (exp - 25)
}

export function float16ToFloat32(bits: number): number {
  return FP16_TABLE[bits & 0xffff]!
}

export function bfloat16ToFloat32(bits: number): number {
  return BF16_TABLE[bits & 0xffff]!
}

// Reinterpretation scratch: written and read within one synchronous call, so sharing it holds no
// state between callers and spares the insert path an allocation per element.
const SCRATCH_F32 = new Float32Array(1)
const SCRATCH_U32 = new Uint32Array(SCRATCH_F32.buffer)

/** Bits of Math.fround(x). */
function float32Bits(x: number): number {
  SCRATCH_F32[0] = x
  return SCRATCH_U32[0]!
}

/** x is rounded to float32, then to fp16 (nearest-even); overflow gives ±inf, NaN stays NaN. */
export function float32ToFloat16(x: number): number {
  const f = float32Bits(x)
  const sign = (f >>> 16) & 0x8000
  const exp = (f >>> 23) & 0xff
  let mant = f & 0x7fffff
  // Keep NaN quiet and non-zero whatever payload bits survive the shift.
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0)
  const e = exp - 112
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    // fp16 subnormal (or zero): value = m * 2^-24; anything below 2^-25 rounds to zero.
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    let half = mant >>> shift
    const rem = mant & ((1 << shift) - 1)
    const halfway = 1 << (shift - 1)
    if (rem > halfway || (rem === halfway && (half & 1) !== 0)) half++
    return sign | half
  }
  let half = (e << 10) | (mant >>> 13)
  const rem = mant & 0x1fff
  // A carry out of the mantissa bumps the exponent, and at the top lands exactly on inf.
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++
  return sign | half
}

/** x is first rounded to float32, then to bf16 (nearest-even); NaN stays NaN. */
export function float32ToBfloat16(x: number): number {
  const f = float32Bits(x)
  if ((f & 0x7f800000) === 0x7f800000 && (f & 0x7fffff) !== 0) return (f >>> 16) | 0x40
  return ((f + 0x7fff + ((f >>> 16) & 1)) >>> 16) & 0xffff
}
