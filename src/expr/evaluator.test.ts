import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ColumnChunk } from '../schema/columns.js'
import { type Row, chunkFromRows, fixtureSchema } from './fixture-schema.js'
import { evaluateFilter, parseFilter } from './index.js'

const schema = fixtureSchema()

function rowsOf(chunk: ColumnChunk, filter: string, templateValues?: Record<string, never>): number[] {
  const bits = evaluateFilter(parseFilter(filter, schema, templateValues ? { templateValues } : undefined), chunk)
  assert.equal(bits.size, chunk.numRows)
  const out: number[] = []
  bits.forEach((i) => out.push(i))
  return out
}

function expectRows(rows: readonly Row[], cases: Record<string, number[]>): void {
  const chunk = chunkFromRows(schema, rows)
  for (const [filter, want] of Object.entries(cases)) assert.deepEqual(rowsOf(chunk, filter), want, filter)
}

describe('evaluateFilter: integers', () => {
  it('narrow integer columns against out-of-range constants fold instead of wrapping', () => {
    expectRows([{ i8: -128 }, { i8: 0 }, { i8: 127 }], {
      'i8 > 1000': [],
      'i8 < 1000': [0, 1, 2],
      'i8 == -1000': [],
      'i8 != 1000': [0, 1, 2],
      'i8 >= -128': [0, 1, 2],
      'i8 > 127': [],
      'i8 in [1000, 127, -129]': [2],
      '-1000 < i8 < 1000': [0, 1, 2],
      'i8 + 1000 == 1127': [2],
      'i8 * 1000000 == -128000000': [0],
    })
  })

  it('int64 comparisons are exact beyond 2^53', () => {
    const big = 2n ** 53n + 1n
    expectRows([{ i64: -(2n ** 63n) }, { i64: big }, { i64: 2n ** 63n - 1n }, { i64: 2n ** 53n }], {
      'i64 == 9007199254740993': [1],
      'i64 == 9007199254740992': [3],
      'i64 > 9007199254740992': [1, 2],
      'i64 < -9223372036854775807': [0],
      'i64 <= -9223372036854775808': [0],
      'i64 >= 9223372036854775807': [2],
      'i64 in [9007199254740993, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]': [1],
      'i64 in [9007199254740993]': [1],
      'i64 in [-9223372036854775808, 9223372036854775807]': [0, 2],
      // More than 16 keys, all below 2^53: the Set<number> path must still reject 2^53 itself.
      'i64 in [9007199254740992, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]': [3],
      'i64 in [9007199254740991, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]': [],
      'i64 not in [9007199254740993]': [0, 2, 3],
      '9007199254740992 < i64 < 9223372036854775807': [1],
    })
  })

  it('arithmetic follows int64 semantics: truncating division, sign of dividend, wrap-around', () => {
    expectRows([{ i32: -3, i64: -7n }, { i32: 3, i64: 7n }, { i32: 4, i64: 2n ** 63n - 1n }], {
      'i32 / 2 == -1': [0],
      'i32 % 2 == -1': [0],
      'i32 % 2 == 1': [1],
      'i64 % 3 == -1': [0],
      'i64 / 2 == 3': [1],
      'i64 + 1 == -9223372036854775808': [2],
      'i64 * 2 == -2': [2],
      'i64 - 1 < 0': [0],
      '2 * i32 == 8': [2],
      'i32 + 2147483647 > 2147483647': [1, 2],
    })
  })
})

describe('evaluateFilter: floats and strings', () => {
  it('Float fields compare against the constant rounded to float32, Double fields exactly', () => {
    expectRows([{ f32: Math.fround(0.1), f64: 0.1 }, { f32: 0.5, f64: 0.5 }, { f32: -0, f64: -0 }], {
      'f32 == 0.1': [0],
      'f32 > 0.1': [1],
      'f32 != 0.1': [1, 2],
      'f64 == 0.1': [0],
      'f64 > 0.1': [1],
      'f64 == 0': [2],
      'f32 in [0.1, 7]': [0],
      '0.1 <= f32 < 0.5': [0],
      '0.1 < f64 <= 0.5': [1],
      'f64 * 2 == 1': [1],
      'f64 / 4 == 0.125': [1],
    })
  })

  it('VarChar comparisons, membership and LIKE', () => {
    expectRows([{ s: 'apple' }, { s: 'banana' }, { s: 'a_c' }, { s: 'abc' }, { s: '😀x' }, { s: '' }], {
      's == "apple"': [0],
      's != "apple"': [1, 2, 3, 4, 5],
      's > "b"': [1, 4],
      '"a" <= s < "b"': [0, 2, 3],
      's in ["banana", "abc", "zzz"]': [1, 3],
      's like "a%"': [0, 2, 3],
      's like "%na"': [1],
      's like "%an%"': [1],
      's like "a_c"': [2, 3],
      's like "a\\\\_c"': [2],
      's like "_x"': [4],
      's like "%"': [0, 1, 2, 3, 4, 5],
      's like ""': [5],
      's like "%p%e"': [0],
    })
  })
})

describe('evaluateFilter: nulls use three-valued logic', () => {
  const rows: Row[] = [
    { i64: -1n, n_i64: null, n_s: null },
    { i64: 1n, n_i64: 3n, n_s: 'x' },
    { i64: 2n, n_i64: 10n, n_s: 'y' },
  ]
  it('comparisons with null never pass, even under not', () => {
    expectRows(rows, {
      'n_i64 > 5': [2],
      'not (n_i64 > 5)': [1],
      'n_i64 != 3': [2],
      'n_i64 in [3, 10]': [1, 2],
      'n_i64 not in [3]': [2],
      'n_s like "%"': [1, 2],
      'not (n_s == "x")': [2],
    })
  })
  it('is null is the only way to select a null cell', () => {
    expectRows(rows, {
      'n_i64 is null': [0],
      'n_i64 is not null': [1, 2],
      'not (n_i64 is null)': [1, 2],
      'i64 is null': [],
    })
  })
  it('and/or follow Kleene logic', () => {
    expectRows(rows, {
      'n_i64 > 5 or i64 < 0': [0, 2],
      'n_i64 > 5 and i64 < 0': [],
      // null AND false is false, so its negation passes.
      'not (n_i64 > 5 and i64 > 0)': [0, 1],
      // null OR false is null, so its negation does not pass.
      'not (n_i64 > 5 or i64 > 5)': [1],
      'not (n_i64 > 5 or i64 > 0)': [],
      'n_i64 < i64': [],
      'not (n_i64 > i64)': [],
    })
  })
})

describe('evaluateFilter: JSON', () => {
  const rows: Row[] = [
    { meta: { a: 1, b: 'x', o: { k: [1, 2, 3] }, l: [1, 'two', [3]] }, color: 'red', size: 3 },
    { meta: { a: 2.5, b: null, o: { k: 4 } }, color: 'blue' },
    { meta: { a: '1', c: true, l: [] }, size: 10.5 },
    { meta: null },
    { meta: [5, 6], color: 7 },
  ]
  it('missing keys and type mismatches are false, except != which is true', () => {
    expectRows(rows, {
      'meta["a"] == 1': [0],
      'meta["a"] == 1.0': [0],
      'meta["a"] != 1': [1, 2, 3, 4],
      'meta["a"] > 1': [1],
      'meta["a"] >= "1"': [2],
      'meta["a"] in [1, "1"]': [0, 2],
      'meta["a"] not in [1]': [1, 2, 3, 4],
      'meta["b"] == "x"': [0],
      'meta["c"] == true': [2],
      'meta["o"]["k"] == 4': [1],
      'meta["o"]["k"][1] == 2': [0],
      'meta["o"]["k"] == [1, 2, 3]': [0],
      'meta[0] == 5': [4],
      'meta["l"][1] like "t%"': [0],
      'meta == 0': [],
      'color == "red"': [0],
      'color != "red"': [1, 2, 3, 4],
      'color == 7': [4],
      'size > 3': [2],
      '1 <= meta["a"] < 3': [0, 1],
      '"0" < meta["a"] < "2"': [2],
    })
  })
  it('exists, is null, contains and array_length', () => {
    expectRows(rows, {
      'exists meta["a"]': [0, 1, 2],
      'exists meta["b"]': [0],
      'meta["b"] is null': [1, 2, 3, 4],
      'meta["b"] is not null': [0],
      'exists color': [0, 1, 4],
      'size is null': [1, 3, 4],
      'json_contains(meta["o"]["k"], 2)': [0],
      'json_contains(meta["l"], "two")': [0],
      'json_contains(meta["l"], [3])': [0],
      'json_contains_all(meta["o"]["k"], [1, 3])': [0],
      'json_contains_all(meta["o"]["k"], [1, 4])': [],
      'json_contains_any(meta["o"]["k"], [4, 3])': [0],
      'json_contains_all(meta["l"], [])': [0, 2],
      'json_contains(meta, 6)': [4],
      'array_length(meta["l"]) == 0': [2],
      'array_length(meta["l"]) >= 3': [0],
      'array_length(meta["a"]) == 0': [],
      'meta["a"] + 1 == 2': [0],
      'meta["a"] * 2.0 == 5.0': [1],
      'size % 2 == 1': [0],
    })
  })
  it('a null JSON cell is unknown, so even `is null` on its keys does not pass', () => {
    expectRows([{ n_json: null }, { n_json: { k: 1 } }, { n_json: { j: 1 } }], {
      'n_json is null': [0],
      'n_json["k"] == 1': [1],
      'n_json["k"] != 1': [2],
      'n_json["k"] is null': [2],
      'exists n_json["k"]': [1],
    })
  })
  it('keys that shadow prototype properties are looked up as own keys only', () => {
    expectRows([{ meta: { constructor: 1 } }, { meta: {} }, { meta: { length: 2 } }, { meta: [1, 2] }], {
      'meta["constructor"] == 1': [0],
      'exists meta["constructor"]': [0],
      'exists meta["toString"]': [],
      'exists meta["__proto__"]': [],
      'meta["length"] == 2': [2],
    })
  })
})

describe('evaluateFilter: arrays', () => {
  const rows: Row[] = [
    { arr_i64: [1n, 2n, 3n], arr_s: ['a', 'b'], arr_f: [Math.fround(0.1)], n_arr: [1n] },
    { arr_i64: [], arr_s: ['c'], arr_f: [], n_arr: null },
    { arr_i64: [2n ** 62n, 5n], arr_s: [], arr_f: [1.5, 2] },
  ]
  it('contains / contains_all / contains_any', () => {
    expectRows(rows, {
      'array_contains(arr_i64, 2)': [0],
      'array_contains(arr_i64, 4611686018427387904)': [2],
      'array_contains_all(arr_i64, [1, 3])': [0],
      'array_contains_all(arr_i64, [1, 5])': [],
      'array_contains_any(arr_i64, [5, 3])': [0, 2],
      'array_contains_any(arr_i64, [])': [],
      'array_contains_all(arr_i64, [])': [0, 1, 2],
      'array_contains_any(arr_i64, [1.0, 2.5])': [0],
      'array_contains(arr_s, "c")': [1],
      'array_contains(arr_f, 0.1)': [0],
      'array_contains(arr_f, 2)': [2],
      'not array_contains(n_arr, 1)': [],
      'array_contains(n_arr, 1)': [0],
    })
  })
  it('array_length, element access and whole-array equality', () => {
    expectRows(rows, {
      'array_length(arr_i64) == 0': [1],
      'array_length(arr_i64) > 1': [0, 2],
      'array_length(n_arr) >= 0': [0],
      'arr_i64[0] == 1': [0],
      'arr_i64[2] != 1': [0],
      'arr_i64[0] > 0': [0, 2],
      'arr_i64[1] in [2, 5]': [0, 2],
      'arr_s[1] like "b"': [0],
      'arr_i64[0] % 2 == 0': [2],
      'arr_i64 == [1, 2, 3]': [0],
      'arr_i64 != [1, 2, 3]': [1, 2],
      'arr_i64 in [[5], [1, 2, 3]]': [0],
      'arr_f[0] == 0.1': [0],
      'n_arr is null': [1, 2],
    })
  })
})

describe('evaluateFilter: other shapes', () => {
  it('compares fields with each other exactly', () => {
    expectRows(
      [
        { i64: 2n ** 53n + 1n, f64: 2 ** 53, i32: 5, f32: 5, s: 'a', n_s: 'b' },
        { i64: 3n, f64: 3.5, i32: 4, f32: 4.5, s: 'b', n_s: null },
      ],
      { 'i64 > f64': [0], 'f64 > i64': [1], 'i32 == f32': [0], 'i32 < f32': [1], 's < n_s': [0], 's != n_s': [0], 'i64 >= i64': [0, 1] },
    )
  })

  it('constant filters', () => {
    expectRows([{}, {}], { '1 == 1': [0, 1], '1 == 2': [], 'true and false': [], '!false': [0, 1] })
  })

  it('bool fields', () => {
    expectRows([{ b: true, n_b: null }, { b: false, n_b: false }], {
      'b == true': [0],
      'b != true': [1],
      'b == False': [1],
      'b in [false]': [1],
      'n_b == false': [1],
      'n_b != true': [1],
      'b > false': [0],
    })
  })

  it('a column the chunk lacks reads as null, and $meta without the column has no keys', () => {
    const chunk = chunkFromRows(schema, [{ i64: 1n }, { i64: 2n }])
    const cols = new Map(chunk.columns)
    cols.delete('n_i64')
    cols.delete('$meta')
    const c: ColumnChunk = { numRows: 2, columns: cols }
    assert.deepEqual(rowsOf(c, 'n_i64 > 0'), [])
    assert.deepEqual(rowsOf(c, 'not (n_i64 > 0)'), [])
    assert.deepEqual(rowsOf(c, 'n_i64 is null'), [0, 1])
    assert.deepEqual(rowsOf(c, 'color == "x"'), [])
    assert.deepEqual(rowsOf(c, 'color != "x"'), [0, 1])
    assert.deepEqual(rowsOf(c, 'exists color or i64 == 2'), [1])
  })

  it('empty chunks', () => {
    const c = chunkFromRows(schema, [])
    assert.equal(evaluateFilter(parseFilter('i64 > 1 or s like "%a"', schema), c).size, 0)
  })

  it('random_sample keeps round(n * factor) of the rows the predicate accepts', () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ i64: BigInt(i) }))
    const chunk = chunkFromRows(schema, rows)
    const all = evaluateFilter(parseFilter('random_sample(0.1)', schema), chunk)
    assert.equal(all.count(), 100)
    const some = evaluateFilter(parseFilter('i64 < 500 and random_sample(0.3)', schema), chunk)
    assert.equal(some.count(), 150)
    some.forEach((i) => assert.ok(i < 500))
  })

  it('crosses word boundaries correctly for sizes that are not multiples of 32', () => {
    for (const n of [1, 31, 32, 33, 63, 64, 65, 100]) {
      const rows = Array.from({ length: n }, (_, i) => ({ i32: i, s: i % 2 ? 'odd' : 'even', f64: i }))
      const chunk = chunkFromRows(schema, rows)
      const want = rows.map((_, i) => i).filter((i) => i % 3 === 0)
      assert.deepEqual(rowsOf(chunk, 'i32 % 3 == 0'), want)
      assert.equal(evaluateFilter(parseFilter('not (i32 < 0)', schema), chunk).count(), n)
      assert.equal(evaluateFilter(parseFilter('f64 >= 0', schema), chunk).count(), n)
      assert.equal(evaluateFilter(parseFilter('s != "x"', schema), chunk).count(), n)
    }
  })
})
