/**
 * Durability: acknowledged writes survive restarts and SIGKILL at random moments, are never
 * duplicated, and deletes never come back. Jepsen-style: every operation is recorded with its
 * outcome (ok / fail / unknown) and the recovered state is checked against that model.
 */
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, describe, it } from 'node:test'
import { DataType, ErrorCode, type MilvusClient } from '@zilliz/milvus2-sdk-node'
import { startChildServer, startServer, tempDataDir, type ChildServer } from './server.js'

const DIM = 8
const COLL = 'durable'

/** Deterministic vector and payload per key and version, so recovered values can be checked exactly. */
function vectorOf(pk: number, version: number): number[] {
  return Array.from({ length: DIM }, (_, i) => Math.fround(Math.sin(pk * 7.13 + i * 1.7 + version * 0.31)))
}

async function createCollection(client: MilvusClient): Promise<void> {
  const r = await client.createCollection({
    collection_name: COLL,
    consistency_level: 'Strong',
    fields: [
      { name: 'pk', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: DIM },
      { name: 'version', data_type: DataType.Int64 },
    ],
  })
  assert.equal(r.error_code, ErrorCode.SUCCESS, r.reason)
  assert.equal((await client.createIndex({ collection_name: COLL, field_name: 'v', index_type: 'FLAT', metric_type: 'L2' })).error_code, ErrorCode.SUCCESS)
  assert.equal((await client.loadCollection({ collection_name: COLL })).error_code, ErrorCode.SUCCESS)
}

/** Every row, by primary key, paging with `pk > last` as the SDK's query iterator does. */
async function readAll(client: MilvusClient): Promise<Map<number, { version: number; v: number[] }>> {
  const out = new Map<number, { version: number; v: number[] }>()
  let last = -1
  for (;;) {
    const res = await client.query({ collection_name: COLL, filter: `pk > ${last}`, output_fields: ['pk', 'v', 'version'], limit: 5000 })
    assert.equal(res.status.error_code, ErrorCode.SUCCESS, res.status.reason)
    for (const row of res.data) {
      const pk = Number(row.pk)
      assert.ok(!out.has(pk), `duplicate primary key ${pk} after recovery`)
      out.set(pk, { version: Number(row.version), v: row.v as number[] })
    }
    if (res.data.length < 5000) break
    last = Number(res.data[res.data.length - 1]!.pk)
  }
  return out
}

type Outcome = 'ok' | 'fail' | 'unknown'
/** For each key: the versions it may legally hold now (-1 = absent). */
type Model = Map<number, Set<number>>

function record(model: Model, pk: number, version: number, outcome: Outcome): void {
  if (outcome === 'fail') return
  const prev = model.get(pk) ?? new Set([-1])
  model.set(pk, outcome === 'ok' ? new Set([version]) : new Set([...prev, version]))
}

async function check(client: MilvusClient, model: Model): Promise<{ rows: number }> {
  const rows = await readAll(client)
  for (const [pk, allowed] of model) {
    const got = rows.get(pk)
    const version = got ? got.version : -1
    assert.ok(allowed.has(version), `pk ${pk}: holds version ${version}, allowed ${[...allowed].join('|')}`)
    if (got) {
      const want = vectorOf(pk, version)
      assert.deepEqual(got.v.map(Math.fround), want, `pk ${pk}: vector differs`)
    }
  }
  for (const pk of rows.keys()) assert.ok(model.has(pk), `phantom row ${pk}`)
  const count = await client.count({ collection_name: COLL })
  assert.equal(count.data, rows.size, 'count(*) agrees with the rows read')
  return { rows: rows.size }
}

/** One writer: sequential inserts of fresh keys, upserts of hot keys and deletes, all recorded. */
async function writer(client: MilvusClient, model: Model, base: number, stop: () => boolean, seed: number): Promise<number> {
  let s = seed
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32)
  let next = base
  let ops = 0
  while (!stop()) {
    const roll = rand()
    const outcomeOf = async (p: Promise<{ status: { error_code: string | number } }>): Promise<Outcome> => {
      try {
        const r = await p
        return r.status.error_code === ErrorCode.SUCCESS ? 'ok' : 'fail'
      } catch {
        return 'unknown'
      }
    }
    if (roll < 0.7 || next === base) {
      const keys = Array.from({ length: 20 }, () => next++)
      const o = await outcomeOf(client.insert({ collection_name: COLL, data: keys.map((pk) => ({ pk, v: vectorOf(pk, 0), version: 0 })) }))
      for (const pk of keys) record(model, pk, 0, o)
      if (o === 'unknown') return ops
    } else if (roll < 0.85) {
      const pk = base + Math.floor(rand() * (next - base))
      const version = Math.floor(rand() * 1000) + 1
      const o = await outcomeOf(client.upsert({ collection_name: COLL, data: [{ pk, v: vectorOf(pk, version), version }] }))
      record(model, pk, version, o)
      if (o === 'unknown') return ops
    } else {
      const pk = base + Math.floor(rand() * (next - base))
      const o = await outcomeOf(client.delete({ collection_name: COLL, filter: `pk in [${pk}]` }))
      record(model, pk, -1, o)
      if (o === 'unknown') return ops
    }
    ops++
  }
  return ops
}

describe('durability', () => {
  const dirs: string[] = []
  const children: ChildServer[] = []
  const child = async (dataDir: string, args: string[] = []) => {
    const s = await startChildServer(dataDir, args)
    children.push(s)
    return s
  }
  after(async () => {
    // Never leave a server behind, even when an assertion failed mid-cycle.
    for (const c of children) await c.kill9()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  it('keeps flushed and unflushed data across a clean restart', async () => {
    const dataDir = await tempDataDir()
    dirs.push(dataDir)
    let server = await startServer({ dataDir })
    let client = server.client()
    await createCollection(client)
    const model: Model = new Map()
    const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ pk: from + i, v: vectorOf(from + i, 0), version: 0 }))
    await client.insert({ collection_name: COLL, data: rows(0, 300) })
    for (let i = 0; i < 300; i++) record(model, i, 0, 'ok')
    await client.flushSync({ collection_names: [COLL] })
    await client.delete({ collection_name: COLL, filter: 'pk in [5, 6, 250]' })
    for (const pk of [5, 6, 250]) record(model, pk, -1, 'ok')
    await client.insert({ collection_name: COLL, data: rows(300, 50) })
    for (let i = 300; i < 350; i++) record(model, i, 0, 'ok')
    await client.upsert({ collection_name: COLL, data: [{ pk: 10, v: vectorOf(10, 3), version: 3 }] })
    record(model, 10, 3, 'ok')
    await server.stop()
    server = await startServer({ dataDir })
    client = server.client()
    const { rows: n } = await check(client, model)
    assert.equal(n, 347)
    await server.stop()
  })

  it('loses no acknowledged write and duplicates none across repeated SIGKILLs', async () => {
    const dataDir = await tempDataDir()
    dirs.push(dataDir)
    const model: Model = new Map()
    let seed = 12345
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
    let totalOps = 0
    const cycles = 4
    for (let cycle = 0; cycle < cycles; cycle++) {
      // A small flush interval makes kills land during flushes and WAL truncation too.
      const server = await child(dataDir, ['--flush-interval-ms', '300', '--segment-max-rows', '400', '--compaction-interval-ms', '700'])
      const client = server.client()
      await client.connectPromise
      if (cycle === 0) await createCollection(client)
      else await check(client, model)
      let stopped = false
      const writers = [0, 1].map((w) => writer(client, model, (cycle * 2 + w) * 1_000_000, () => stopped, 17 + cycle * 2 + w))
      await new Promise((r) => setTimeout(r, 300 + rand() * 900))
      await server.kill9()
      stopped = true
      totalOps += (await Promise.all(writers)).reduce((a, b) => a + b, 0)
      await server.stop()
    }
    const server = await child(dataDir)
    const client = server.client()
    await client.connectPromise
    const { rows } = await check(client, model)
    assert.ok(totalOps > 20, `the workload made progress (${totalOps} acknowledged ops)`)
    assert.ok(rows > 0)
    assert.match(server.output(), /recovered/)
    await server.stop()
  })
})
