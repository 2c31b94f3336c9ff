import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { referencePlan } from './deploy-test-kit.js'
import { parseFlags } from './cli.js'
import { computeSizing, erasureOverhead, formatSizing, hnswGraphBytesPerRow, parseSizingArgs, SIZING_DEFAULTS, type SizingInput, sizingPlanYaml } from './sizing.js'
import { parsePlan } from './plan.js'
import { checkStack, generateSwarm } from './swarm.js'

const GiB = 2 ** 30
const input = (over: Partial<SizingInput> = {}): SizingInput => ({ ...SIZING_DEFAULTS, vectors: 30_000_000, dim: 1024, ...over })
const args = (...argv: string[]) => parseSizingArgs((names, bools) => parseFlags(argv, names, bools), (m) => new Error(m)).input

describe('sizing formulas (hand-computed)', () => {
  it('30M x 1024 float, HNSW M=16: memory, query nodes, index nodes, storage', () => {
    const r = computeSizing(input())
    // Raw: 30e6 x 1024 x 4 bytes.
    assert.equal(r.bytes.raw, 122_880_000_000)
    // Graph per row at M=16: key+level 10, level 0: 4 + 2*16*4 = 132, upper levels (4 + 16*4)/15.
    assert.equal(hnswGraphBytesPerRow(16), 10 + 132 + 68 / 15)
    // Harrier's column graph reads the float32 column in place and adds 8 bytes a row (row list,
    // per-row norm): 30e6 x (4096 + 8 + 146.533...).
    assert.ok(Math.abs(r.bytes.indexMemory - 30e6 * (4104 + 142 + 68 / 15)) < 1)
    assert.ok(Math.abs(r.bytes.milvusIndexMemory - 30e6 * (4096 + 142 + 68 / 15)) < 1)
    assert.equal(r.bytes.scalars, 480_000_000)
    assert.equal(r.bytes.growing, 2 * 512 * 2 ** 20)
    const sealed = 30e6 * (4104 + 142 + 68 / 15) + 480e6
    assert.equal(r.bytes.usablePerQueryHost, (64 - 2) * GiB * 0.8)
    // Every query node also holds all growing rows (1 GiB): 128.00 GB / (53.26 - 1.07) GB = 2.45 -> 3,
    // plus the spare: 4 query nodes of 64 GiB, one fewer than the reference guide's 5.
    assert.equal(r.queryNodes, Math.ceil(sealed / ((64 - 2) * GiB * 0.8 - 2 ** 30)) + 1)
    assert.equal(r.queryNodes, 4)
    // The sealed data plus every query node's copy of the growing rows.
    assert.ok(Math.abs(r.bytes.queryTotal - (sealed + 3 * 2 ** 30)) < 1)
    // knowhere's single copy needs 128.83 GB / 53.26 GB -> 3, plus the spare: the same count.
    assert.equal(r.milvusQueryNodes, 4)
    // Build: 5000 rows/s/core at 128 dims scales to 625 at 1024; 30e6 / 625 = 48,000 core-seconds,
    // over 8 cores x 1800 s = 3.33 -> 4 index nodes (the guide's 4).
    assert.equal(r.indexNodes, Math.ceil(30e6 / 625 / (8 * 1800)))
    assert.equal(r.indexNodes, 4)
    // 512 MiB segments of 4096 + 16 byte rows.
    assert.equal(r.segmentMaxRows, Math.floor((512 * 2 ** 20) / 4112))
    // Object store: (binlogs 30e6 x 4112 + index files 30e6 x (graph + 4096 raw)) x 1.25 x EC 4/2.
    assert.ok(Math.abs(r.bytes.objectStore - (30e6 * 4112 + 30e6 * (4096 + 142 + 68 / 15)) * 1.25 * 2) < 1)
    // WAL: max(10k/s x 4112 B x 300 s, 1 GiB) x 3 replicas x 2.
    assert.equal(r.bytes.wal, 10_000 * 4112 * 300 * 3 * 2)
  })

  it('replicas, spares, smaller hosts and other index types move the numbers as the formulas say', () => {
    const perReplica = 30e6 * (4104 + 142 + 68 / 15) + 480e6
    const usable = (64 - 2) * GiB * 0.8
    assert.equal(computeSizing(input({ replicas: 2 })).queryNodes, Math.ceil((perReplica * 2) / (usable - 2 ** 30)) + 1)
    assert.equal(computeSizing(input({ spare: 0 })).queryNodes, 3)
    assert.equal(computeSizing(input({ spare: 2 })).queryNodes, 5)
    assert.equal(computeSizing(input({ queryHost: { cpus: 8, memoryBytes: 32 * GiB } })).queryNodes, Math.ceil(perReplica / (30 * GiB * 0.8 - 2 ** 30)) + 1)
    const flat = computeSizing(input({ index: 'FLAT' }))
    assert.equal(flat.bytes.indexMemory, 122_880_000_000)
    assert.equal(flat.indexNodes, 1)
    const ivf = computeSizing(input({ index: 'IVF_FLAT', nlist: 1024 }))
    assert.equal(ivf.bytes.indexMemory, 30e6 * (4096 + 4096 + 4) + 1024 * 1024 * 4)
    const sq8 = computeSizing(input({ index: 'IVF_SQ8', nlist: 1024 }))
    assert.equal(sq8.bytes.indexMemory, 30e6 * (4096 + 1024 + 4) + 1024 * 1024 * 4 + 2 * 1024 * 4)
    assert.equal(sq8.bytes.milvusIndexMemory, 30e6 * (1024 + 8) + 1024 * 1024 * 4 + 2 * 1024 * 4)
    const pq = computeSizing(input({ index: 'IVF_PQ', nlist: 1024, pqM: 128 }))
    assert.equal(pq.bytes.milvusIndexMemory, 30e6 * (128 + 8) + 1024 * 1024 * 4 + 256 * 1024 * 4)
    const bin = computeSizing(input({ vectorType: 'binary', index: 'FLAT' }))
    assert.equal(bin.bytes.raw, 30e6 * 128)
    const f16 = computeSizing(input({ vectorType: 'float16' }))
    // float16 rows are read in place too: column + 8 B + graph.
    assert.ok(Math.abs(f16.bytes.indexMemory - 30e6 * (2048 + 8 + 142 + 68 / 15)) < 1)
    assert.equal(erasureOverhead(1), 1)
    assert.equal(erasureOverhead(4), 2)
    assert.equal(erasureOverhead(6), 2)
    assert.equal(erasureOverhead(16), 16 / 12)
  })

  it('agrees with the reference guide\'s 30M x 1024 plan', () => {
    const r = computeSizing(input(), referencePlan())
    const verdicts = Object.fromEntries(r.comparison!.rows.map((c) => [c.role, c.verdict]))
    assert.deepEqual(verdicts, {
      // The column graph keeps one copy of the vectors: 3 query nodes + the spare, one fewer.
      querynode: 'more than needed',
      indexnode: 'agrees',
      datanode: 'agrees',
      mixcoord: 'agrees',
      proxy: 'agrees',
      etcd: 'agrees',
      // The guide's Pulsar brokers + bookies carry NATS here: 5 servers where 3 suffice.
      nats: 'more than needed',
      minio: 'agrees',
    })
    // A plan with fewer query hosts than memory needs is called out.
    const smaller = parsePlan(
      `hosts:\n  - { name: a, address: 10.0.0.1, manager: true, services: [proxy, mixcoord, datanode, indexnode, etcd, minio, nats, nginx] }\n${[1, 2, 3].map((i) => `  - { name: q${i}, address: 10.0.1.${i}, services: [querynode], resources: { cpus: 16, memory: 64GiB } }\n`).join('')}`,
      'small.yaml',
    )
    const row = computeSizing(input(), smaller).comparison!.rows.find((c) => c.role === 'querynode')!
    assert.equal(row.verdict, 'too small')
  })

  it('the suggested host plan is a valid plan that deploys', () => {
    const r = computeSizing(input())
    const plan = parsePlan(sizingPlanYaml(r), 'suggested.yaml')
    assert.equal(plan.hosts.filter((h) => h.services.includes('querynode')).length, 4)
    assert.equal(plan.hosts.filter((h) => h.services.includes('indexnode')).length, 4)
    checkStack(plan, generateSwarm(plan))
  })
})

describe('sizing arguments and output', () => {
  it('reads suffixes and options', () => {
    const i = args('--vectors', '1.5b', '--dim', '768', '--index', 'ivf_sq8', '--replicas', '2', '--query-host', '32c256g', '--build-window', '2h', '--spare', '0')
    assert.equal(i.vectors, 1_500_000_000)
    assert.equal(i.index, 'IVF_SQ8')
    assert.deepEqual(i.queryHost, { cpus: 32, memoryBytes: 256 * GiB })
    assert.equal(i.buildWindowSec, 7200)
    assert.equal(i.spare, 0)
    assert.equal(args('--vectors', '1m', '--dim', '8').spare, 1)
    assert.equal(args('--vectors', '100k', '--dim', '128').vectors, 100_000)
    // AUTOINDEX sizes with Milvus's autoIndex build parameters.
    assert.deepEqual([args('--vectors', '1m', '--dim', '8', '--index', 'AUTOINDEX').M, args('--vectors', '1m', '--dim', '8', '--index', 'AUTOINDEX').efConstruction], [18, 240])
    assert.throws(() => args('--dim', '8'), /--vectors is required/)
    assert.throws(() => args('--vectors', '3q', '--dim', '8'), /expected a count/)
    assert.throws(() => args('--vectors', '1m', '--dim', '8', '--index', 'DISKANN'), /size them as HNSW/)
    assert.throws(() => args('--vectors', '1m', '--dim', '8', '--fill', '1.5'), /--fill/)
    assert.throws(() => computeSizing(input({ index: 'IVF_PQ', pqM: 100 })), /--pq-m 100 must divide dim 1024/)
  })

  it('prints every section with its formula', () => {
    const text = formatSizing(computeSizing(input(), referencePlan()))
    for (const s of ['Data', 'Query nodes (HNSW, M=16, 1 replica)', 'Index nodes', 'Storage', 'Per role (suggested hosts)', 'Suggested host plan', 'Compared with deploy/examples/reference-26-hosts.yaml']) assert.ok(text.includes(s), s)
    assert.match(text, /raw vectors +114\.44 GiB +n x dim x 4 = 30,000,000 x 4096 B/)
    assert.match(text, /query nodes +4 +max\(replicas, ceil\(\(index \+ scalars\) x replicas \/ \(usable - growing\)\)\) = ceil\(119\.21 GiB \/ 48\.60 GiB\), \+ 1 spare/)
    assert.match(text, /querynode +5 x 16 CPU 64\.00 GiB +4 x 16 CPU 64\.00 GiB .* more than needed/)
    assert.match(text, /--segment-max-rows 130561/)
  })
})
