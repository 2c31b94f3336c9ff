import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16 } from './half-float.js'

describe('float16', () => {
  it('widens representative patterns exactly', () => {
    const cases: [number, number][] = [
      [0x0000, 0],
      [0x3c00, 1],
      [0xbc00, -1],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0x0400, 2 ** -14],
      [0x0001, 2 ** -24],
      [0x03ff, 1023 * 2 ** -24],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ]
    for (const [bits, v] of cases) assert.equal(float16ToFloat32(bits), v, bits.toString(16))
    assert.ok(Object.is(float16ToFloat32(0x8000), -0))
    assert.ok(Number.isNaN(float16ToFloat32(0x7e00)))
    assert.ok(Number.isNaN(float16ToFloat32(0xfc01)))
  })

  it('round-trips every non-NaN pattern', () => {
    for (let b = 0; b < 65536; b++) {
      const v = float16ToFloat32(b)
      if (Number.isNaN(v)) {
        assert.ok(Number.isNaN(float16ToFloat32(float32ToFloat16(v))))
        continue
      }
      if (float32ToFloat16(v) !== b) assert.fail(`0x${b.toString(16)} -> ${v} -> 0x${float32ToFloat16(v).toString(16)}`)
    }
  })

  it('rounds to nearest, ties to even, and saturates to inf', () => {
    assert.equal(float32ToFloat16(1 + 2 ** -11), 0x3c00) // tie, even stays
    assert.equal(float32ToFloat16(1 + 3 * 2 ** -11), 0x3c02) // tie, odd rounds up
    assert.equal(float32ToFloat16(1 + 2 ** -11 + 2 ** -20), 0x3c01) // just above the tie
    assert.equal(float32ToFloat16(65519), 0x7bff)
    assert.equal(float32ToFloat16(65520), 0x7c00) // tie between max and 2^16 goes to inf
    assert.equal(float32ToFloat16(1e10), 0x7c00)
    assert.equal(float32ToFloat16(-1e10), 0xfc00)
    assert.equal(float32ToFloat16(Infinity), 0x7c00)
    assert.equal(float32ToFloat16(-0), 0x8000)
    // Subnormals: 2^-25 is the tie between 0 and the smallest subnormal and goes to even (0).
    assert.equal(float32ToFloat16(2 ** -25), 0x0000)
    assert.equal(float32ToFloat16(2 ** -25 + 2 ** -40), 0x0001)
    assert.equal(float32ToFloat16(3 * 2 ** -25), 0x0002)
    assert.equal(float32ToFloat16(1e-10), 0x0000)
    assert.equal(float32ToFloat16(-1e-10), 0x8000)
    assert.equal(float32ToFloat16(2 ** -14 - 2 ** -26), 0x0400) // rounds up from subnormal to normal
    const nan = float32ToFloat16(NaN)
    assert.equal(nan & 0x7c00, 0x7c00)
    assert.notEqual(nan & 0x3ff, 0)
  })

  it('picks the nearest half for any float32', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, min: -65504, max: 65504 }), (x) => {
        const h = float32ToFloat16(x)
        const v = float16ToFloat32(h)
        // Neighbours one ulp either side must not be strictly closer.
        for (const n of [h - 1, h + 1]) {
          if ((n & 0x7fff) >= 0x7c00 || n < 0 || n > 0xffff || (n & 0x8000) !== (h & 0x8000)) continue
          assert.ok(Math.abs(float16ToFloat32(n) - x) >= Math.abs(v - x), `${x}: ${h} vs ${n}`)
        }
      }),
      { numRuns: 2000 },
    )
  })
})

describe('bfloat16', () => {
  it('widens representative patterns exactly', () => {
    assert.equal(bfloat16ToFloat32(0x3f80), 1)
    assert.equal(bfloat16ToFloat32(0xc000), -2)
    assert.equal(bfloat16ToFloat32(0x7f7f), 3.3895313892515355e38)
    assert.equal(bfloat16ToFloat32(0x0001), 2 ** -133) // smallest subnormal
    assert.equal(bfloat16ToFloat32(0x7f80), Infinity)
    assert.equal(bfloat16ToFloat32(0xff80), -Infinity)
    assert.ok(Number.isNaN(bfloat16ToFloat32(0x7fc0)))
    assert.ok(Object.is(bfloat16ToFloat32(0x8000), -0))
  })

  it('round-trips every non-NaN pattern', () => {
    for (let b = 0; b < 65536; b++) {
      const v = bfloat16ToFloat32(b)
      if (Number.isNaN(v)) {
        assert.ok(Number.isNaN(bfloat16ToFloat32(float32ToBfloat16(v))))
        continue
      }
      if (float32ToBfloat16(v) !== b) assert.fail(`0x${b.toString(16)} -> ${v}`)
    }
  })

  it('rounds to nearest, ties to even', () => {
    assert.equal(float32ToBfloat16(1 + 2 ** -8), 0x3f80) // tie, even stays
    assert.equal(float32ToBfloat16(1 + 3 * 2 ** -8), 0x3f82) // tie, odd rounds up
    assert.equal(float32ToBfloat16(1 + 2 ** -8 + 2 ** -20), 0x3f81)
    assert.equal(float32ToBfloat16(3.4e38), 0x7f80) // above the largest bf16 by more than half an ulp
    assert.equal(float32ToBfloat16(0.1), 0x3dcd)
    assert.equal(float32ToBfloat16(2 ** -140), 0x0000) // below half the smallest bf16 subnormal
    assert.equal(float32ToBfloat16(2 ** -133), 0x0001)
    const nan = float32ToBfloat16(NaN)
    assert.equal(nan & 0x7f80, 0x7f80)
    assert.notEqual(nan & 0x7f, 0)
  })
})
