import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { planReplicas, segmentOwner } from './query-coord.js'

const alive = (xs: string[]) => new Set(xs)

describe('replica groups', () => {
  it('every live node joins one of min(R, nodes) replicas, sizes within one', () => {
    const live = ['a', 'b', 'c', 'd', 'e']
    const g = planReplicas([], live, alive(live), 2)
    assert.equal(g.length, 2)
    assert.deepEqual(g.flat().sort(), live)
    assert.ok(Math.abs(g[0]!.length - g[1]!.length) <= 1)
    assert.deepEqual(planReplicas([], ['a'], alive(['a']), 3), [['a']])
    assert.deepEqual(planReplicas([], [], alive([]), 1), [])
  })

  it('nodes stay in their replica; a dead node leaves; a new node joins the smallest', () => {
    const cur = [['a', 'b'], ['c', 'd']]
    assert.deepEqual(planReplicas(cur, ['a', 'b', 'c', 'd'], alive(['a', 'b', 'c', 'd']), 2), cur)
    assert.deepEqual(planReplicas(cur, ['a', 'b', 'c'], alive(['a', 'b', 'c']), 2), [['a', 'b'], ['c']])
    assert.deepEqual(planReplicas([['a', 'b'], ['c']], ['a', 'b', 'c', 'e'], alive(['a', 'b', 'c', 'e']), 2), [['a', 'b'], ['c', 'e']])
  })

  it('a lost replica is rebuilt from the largest one; a lowered replica number folds replicas', () => {
    assert.deepEqual(planReplicas([['a', 'b', 'c'], ['d']], ['a', 'b', 'c'], alive(['a', 'b', 'c']), 2), [['a', 'b'], ['c']])
    const folded = planReplicas([['a'], ['b'], ['c']], ['a', 'b', 'c'], alive(['a', 'b', 'c']), 1)
    assert.equal(folded.length, 1)
    assert.deepEqual(folded[0]!.sort(), ['a', 'b', 'c'])
  })

  it('replicas stay even after uneven changes', () => {
    const g = planReplicas([['a', 'b', 'c', 'd'], ['e']], ['a', 'b', 'c', 'd', 'e'], alive(['a', 'b', 'c', 'd', 'e']), 2)
    assert.deepEqual(g.map((x) => x.length).sort(), [2, 3])
  })
})

describe('segment owners', () => {
  const segs = Array.from({ length: 2000 }, (_, i) => BigInt(450_000_000_000 + i * 7919))

  it('spread segments evenly and the same way in every process', () => {
    const nodes = ['10', '11', '12', '13']
    const per = new Map<string, number>()
    for (const s of segs) per.set(segmentOwner(nodes, s)!, (per.get(segmentOwner(nodes, s)!) ?? 0) + 1)
    for (const n of nodes) assert.ok((per.get(n) ?? 0) > 2000 / 4 * 0.8, `node ${n}: ${per.get(n)}`)
    // Order of the replica's node list does not matter.
    for (const s of segs.slice(0, 50)) assert.equal(segmentOwner(nodes, s), segmentOwner([...nodes].reverse(), s))
    assert.equal(segmentOwner([], 1n), undefined)
  })

  it('a node joining takes only segments it now owns; one leaving gives away only its own', () => {
    const before = ['10', '11', '12']
    const after = [...before, '13']
    for (const s of segs) {
      const a = segmentOwner(before, s)
      const b = segmentOwner(after, s)
      if (a !== b) assert.equal(b, '13')
      const c = segmentOwner(['10', '11'], s)
      if (a !== '12') assert.equal(c, a)
    }
  })
})
