import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { rejectsWith } from '../../tests/conformance/harness.js'
import { GroupCommit } from './group-commit.js'

describe('GroupCommit', () => {
  it('batches everything submitted while a flush runs, in order', async () => {
    const batches: number[][] = []
    const gc = new GroupCommit<number>('test', async (items) => {
      batches.push([...items])
      await new Promise((r) => setTimeout(r, 5))
    })
    const first = Array.from({ length: 3 }, (_, i) => gc.submit(i))
    await new Promise((r) => setTimeout(r, 1))
    const second = Array.from({ length: 4 }, (_, i) => gc.submit(10 + i))
    await Promise.all([...first, ...second])
    assert.deepEqual(batches, [
      [0, 1, 2],
      [10, 11, 12, 13],
    ])
    await gc.drain()
  })

  it('a failed flush rejects its batch, the queue and every later submit', async () => {
    let calls = 0
    const gc = new GroupCommit<number>('test log', async () => {
      calls++
      await new Promise((r) => setTimeout(r, 5))
      throw new Error('disk on fire')
    })
    const a = gc.submit(1)
    await new Promise((r) => setTimeout(r, 1))
    const b = gc.submit(2)
    await rejectsWith(a, 'IoFailed', /test log: write failed/)
    await rejectsWith(b, 'IoFailed')
    await rejectsWith(gc.submit(3), 'IoFailed')
    assert.equal(calls, 1)
    assert.equal(gc.failed?.kind, 'IoFailed')
    await gc.drain()
  })
})
