import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DbError } from '../common/errors.js'
import { higherIsBetter, normalizeMetric, supportedMetrics } from './metric.js'

function rejects(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DbError)
    assert.equal(e.kind, 'ParameterInvalid')
    assert.equal(e.code, 1100)
    assert.match(e.message, message)
    return true
  })
}

describe('normalizeMetric', () => {
  it('applies the Milvus defaults', () => {
    assert.equal(normalizeMetric(undefined, 'FloatVector'), 'COSINE')
    assert.equal(normalizeMetric('', 'Float16Vector'), 'COSINE')
    assert.equal(normalizeMetric(undefined, 'BFloat16Vector'), 'COSINE')
    assert.equal(normalizeMetric(undefined, 'Int8Vector'), 'COSINE')
    assert.equal(normalizeMetric(undefined, 'BinaryVector'), 'HAMMING')
    assert.equal(normalizeMetric('', 'SparseFloatVector'), 'IP')
  })

  it('is case-insensitive', () => {
    assert.equal(normalizeMetric('l2', 'FloatVector'), 'L2')
    assert.equal(normalizeMetric('Cosine', 'Int8Vector'), 'COSINE')
    assert.equal(normalizeMetric('jaccard', 'BinaryVector'), 'JACCARD')
    assert.equal(normalizeMetric('ip', 'SparseFloatVector'), 'IP')
  })

  it('rejects metrics the vector type does not support, naming both', () => {
    rejects(() => normalizeMetric('L2', 'BinaryVector'), /metric type L2 is not valid for BinaryVector, supported: HAMMING, JACCARD/)
    rejects(() => normalizeMetric('hamming', 'FloatVector'), /metric type HAMMING is not valid for FloatVector, supported: L2, IP, COSINE/)
    rejects(() => normalizeMetric('SUBSTRUCTURE', 'BinaryVector'), /SUBSTRUCTURE is not valid/)
    rejects(() => normalizeMetric('COSINE', 'SparseFloatVector'), /COSINE is not valid for SparseFloatVector, supported: IP:/)
    rejects(() => normalizeMetric('BM25', 'SparseFloatVector'), /BM25/)
    rejects(() => normalizeMetric('EUCLID', 'Float16Vector'), /EUCLID/)
  })

  it('lists supported metrics per type', () => {
    assert.deepEqual(supportedMetrics('Int8Vector'), ['L2', 'IP', 'COSINE'])
    assert.deepEqual(supportedMetrics('SparseFloatVector'), ['IP'])
  })
})

describe('higherIsBetter', () => {
  it('is true for similarities only', () => {
    assert.equal(higherIsBetter('IP'), true)
    assert.equal(higherIsBetter('COSINE'), true)
    assert.equal(higherIsBetter('L2'), false)
    assert.equal(higherIsBetter('HAMMING'), false)
    assert.equal(higherIsBetter('JACCARD'), false)
  })
})
