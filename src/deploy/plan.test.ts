import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { isDbError } from '../common/errors.js'
import { referencePlan, REPO } from './deploy-test-kit.js'
import { hostsRunning, parsePlan, plannedRoles, walKind } from './plan.js'
import { formatBytes, GiB, parseBytes, parseCount, parseDurationSeconds } from './units.js'

describe('units', () => {
  it('reads counts with k/m/b suffixes', () => {
    assert.equal(parseCount('30m', 'n'), 30_000_000)
    assert.equal(parseCount('1.5b', 'n'), 1_500_000_000)
    assert.equal(parseCount('100k', 'n'), 100_000)
    assert.equal(parseCount('100K', 'n'), 100_000)
    assert.equal(parseCount('30_000_000', 'n'), 30_000_000)
    assert.equal(parseCount('0.1m', 'n'), 100_000)
    for (const bad of ['', 'm', '1.2345k', '-5', '3x', '1e6']) assert.throws(() => parseCount(bad, 'n'), (e) => isDbError(e, 'ParameterInvalid'), bad)
  })

  it('reads sizes: SI units are decimal, *i* units binary', () => {
    assert.equal(parseBytes('64GiB', 's'), 64 * GiB)
    assert.equal(parseBytes('64gi', 's'), 64 * GiB)
    assert.equal(parseBytes('1000GB', 's'), 1e12)
    assert.equal(parseBytes('512MiB', 's'), 512 * 1024 * 1024)
    assert.equal(parseBytes(4096, 's'), 4096)
    assert.throws(() => parseBytes('64 gigs', 's'), /expected a size/)
    assert.equal(parseDurationSeconds('30m', 'd'), 1800)
    assert.equal(parseDurationSeconds('24h', 'd'), 86400)
    assert.throws(() => parseDurationSeconds('30', 'd'), /expected a duration/)
    assert.equal(formatBytes(1.5 * GiB), '1.50 GiB')
  })
})

/** The reference guide's table (section 4.1): address suffix, labels, per group. */
const GUIDE_TABLE: readonly [number, string[]][] = [
  [64, ['query1=true']],
  [65, ['query2=true']],
  [66, ['query3=true']],
  [67, ['query4=true']],
  [68, ['query5=true']],
  [69, ['index1=true']],
  [70, ['index2=true']],
  [71, ['index3=true']],
  [72, ['index4=true']],
  [73, ['coord=true']],
  [74, ['coord=true']],
  [75, ['zk1=true', 'etcd1=true']],
  [76, ['zk2=true', 'etcd2=true']], // the guide prints etcd3 here and on .77: a typo
  [77, ['zk3=true', 'etcd3=true']],
  [78, ['broker=true']],
  [79, ['broker=true']],
  [80, []],
  [81, []],
  [82, []],
  [83, ['minio1=true']],
  [84, ['minio2=true']],
  [85, ['minio3=true']],
  [86, ['minio4=true']],
  [87, ['bookie1=true']],
  [88, ['bookie2=true']],
  [89, ['bookie3=true']],
]

describe('host plan', () => {
  it('the shipped example is the reference guide\'s 26 hosts with their labels and hardware', () => {
    const plan = referencePlan()
    assert.equal(plan.hosts.length, 26)
    assert.deepEqual(
      plan.hosts.map((h) => [Number(h.address.split('.')[3]), Object.entries(h.labels).map(([k, v]) => `${k}=${v}`)]),
      GUIDE_TABLE.map(([a, l]) => [a, l]),
    )
    for (const h of plan.hosts) assert.ok(h.address.startsWith('29.16.21.'), h.address)
    assert.deepEqual(
      plan.hosts.filter((h) => h.manager).map((h) => h.address),
      ['29.16.21.80', '29.16.21.81', '29.16.21.82'],
    )
    const count = (s: Parameters<typeof hostsRunning>[1]) => hostsRunning(plan, s).length
    assert.deepEqual(
      { querynode: count('querynode'), indexnode: count('indexnode'), mixcoord: count('mixcoord'), datanode: count('datanode'), etcd: count('etcd'), nats: count('nats'), proxy: count('proxy'), nginx: count('nginx'), minio: count('minio') },
      { querynode: 5, indexnode: 4, mixcoord: 2, datanode: 2, etcd: 3, nats: 5, proxy: 3, nginx: 3, minio: 4 },
    )
    // Hardware as the table gives it: query 16C 64GB, MinIO and bookie 1000 GB data disks.
    for (const h of hostsRunning(plan, 'querynode')) assert.deepEqual([h.resources.cpus, h.resources.memoryBytes], [16, 64 * GiB])
    for (const h of hostsRunning(plan, 'minio')) assert.equal(h.resources.dataDiskBytes, 1000e9)
    assert.equal(walKind(plan), 'nats')
    assert.deepEqual(plannedRoles(plan), ['proxy', 'mixcoord', 'datanode', 'querynode', 'indexnode'])
    assert.equal(plan.cluster.dataRoot, '/mnt/data')
  })

  const minimal = (hosts: string, cluster = '') => `${cluster}\nhosts:\n${hosts}`
  const oneHost = '  - { name: a, address: 10.0.0.1, manager: true, services: [proxy, mixcoord, datanode, querynode, indexnode, etcd, minio, nats, nginx] }\n'

  it('accepts a one-host plan with every role and labels as a mapping or a list', () => {
    const plan = parsePlan(minimal(oneHost), 'one.yaml')
    assert.equal(plan.hosts[0]!.services.length, 9)
    assert.equal(plan.cluster.name, 'harrier')
    assert.equal(plan.cluster.image, 'harrier:latest')
    const labelled = parsePlan(minimal(`${oneHost}  - { name: b, address: 10.0.0.2, labels: { rack: r1, ssd: true }, services: [] }\n  - { name: c, address: 10.0.0.3, labels: [gpu, zone=b] }\n`), 'l.yaml')
    assert.deepEqual(labelled.hosts[1]!.labels, { rack: 'r1', ssd: 'true' })
    assert.deepEqual(labelled.hosts[2]!.labels, { gpu: 'true', zone: 'b' })
  })

  const rejects: readonly [string, string, RegExp][] = [
    ['not YAML', 'hosts: [', /not valid YAML/],
    ['no hosts', 'cluster: {}\nhosts: []', /hosts must be a non-empty list/],
    ['unknown top key', `${minimal(oneHost)}\nextra: 1`, /unknown key "extra"/],
    ['unknown host key', minimal('  - { name: a, address: 10.0.0.1, servics: [proxy] }\n'), /hosts\[0\] \(a\): unknown key "servics"/],
    ['typo in a service', minimal('  - { name: a, address: 10.0.0.1, services: [querynod] }\n'), /hosts\[0\] \(a\)\.services\[0\]: unknown service "querynod"/],
    ['cadvisor listed', minimal('  - { name: a, address: 10.0.0.1, services: [cadvisor] }\n'), /cadvisor runs on every node by itself/],
    ['bad host name', minimal('  - { name: Query_1, address: 10.0.0.1 }\n'), /must be lower-case letters, digits and '-'/],
    ['missing address', minimal('  - { name: a }\n'), /address is required/],
    ['duplicate address', minimal(`${oneHost}  - { name: b, address: 10.0.0.1 }\n`), /hosts a and b have the same address 10\.0\.0\.1/],
    ['duplicate name', minimal(`${oneHost}  - { name: a, address: 10.0.0.2 }\n`), /hosts a and a have the same name a/],
    ['reserved label', minimal('  - { name: a, address: 10.0.0.1, labels: { harrier.host: x } }\n'), /harrier\.\* prefix is reserved/],
    ['no manager', minimal(oneHost.replace('manager: true, ', '')), /no host has manager: true/],
    ['no query node', minimal(oneHost.replace('querynode, ', '')), /no host runs querynode/],
    ['two etcd', minimal(`${oneHost}  - { name: b, address: 10.0.0.2, services: [etcd] }\n`), /etcd runs on 2 hosts \(a, b\); use an odd number/],
    ['three minio', minimal(`${oneHost}  - { name: b, address: 10.0.0.2, services: [minio] }\n  - { name: c, address: 10.0.0.3, services: [minio] }\n`), /distributed MinIO needs at least 4 drives/],
    ['no broker', minimal(oneHost.replace('nats, ', '')), /no host runs a log broker/],
    ['two brokers', minimal(`${oneHost}  - { name: b, address: 10.0.0.2, services: [kafka] }\n`), /runs nats and kafka; the WAL uses one log broker/],
    ['bookie without pulsar', minimal(`${oneHost}  - { name: b, address: 10.0.0.2, services: [bookie] }\n`), /bookie is only for Pulsar/],
    ['pulsar without zookeeper', minimal(`${oneHost.replace('nats, ', 'pulsar, bookie, ')}`), /pulsar needs zookeeper/],
    ['mixcoord and rootcoord', minimal(oneHost.replace('mixcoord', 'mixcoord, rootcoord')), /runs mixcoord and also rootcoord/],
    ['separate coordinators incomplete', minimal(oneHost.replace('mixcoord', 'rootcoord, datacoord')), /querycoord, indexcoord are missing/],
    ['no nginx', minimal(oneHost.replace(', nginx', '')), /no host runs nginx/],
    ['grafana without prometheus', minimal(oneHost.replace('nginx', 'nginx, grafana')), /grafana needs prometheus/],
    ['no minio and no objectStore', minimal(oneHost.replace('minio, ', '')), /place MinIO or give an external s3:\/\/ URL/],
    ['objectStore not s3', minimal(oneHost.replace('minio, ', ''), 'cluster: { objectStore: "http://x" }'), /expected an s3:\/\/bucket/],
    ['bad cluster name', minimal(oneHost, 'cluster: { name: My_Stack }'), /cluster\.name: "My_Stack" must be/],
    ['cluster name too short for a bucket', minimal(oneHost, 'cluster: { name: hr }'), /cluster\.name: "hr" must be 3-31/],
    ['port clash', minimal(oneHost, 'cluster: { ports: { rest: 19530 } }'), /grpc and rest are both 19530/],
    ['relative dataRoot', minimal(oneHost, 'cluster: { dataRoot: data }'), /dataRoot: expected an absolute path/],
    ['bad memory size', minimal('  - { name: a, address: 10.0.0.1, resources: { memory: lots } }\n'), /resources\.memory: expected a size/],
  ]
  for (const [what, text, message] of rejects) {
    it(`rejects: ${what}`, () => {
      assert.throws(
        () => parsePlan(text, 'plan.yaml'),
        (e: unknown) => isDbError(e, 'ParameterInvalid') && message.test(e.message) && e.message.startsWith('plan.yaml'),
      )
    })
  }

  it('external object store instead of MinIO', () => {
    const plan = parsePlan(minimal(oneHost.replace('minio, ', ''), 'cluster: { objectStore: "s3://bucket/x?endpoint=http://rgw:7480" }'), 'p.yaml')
    assert.equal(plan.cluster.objectStore, 's3://bucket/x?endpoint=http://rgw:7480')
  })

  it('src/deploy imports only from src/common (and itself) outside its tests', () => {
    const dir = join(REPO, 'src/deploy')
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts'))) {
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/from '(\.\.\/[^']+)'/g)) {
        assert.match(m[1]!, /^\.\.\/common\//, `${f} imports ${m[1]}`)
      }
    }
  })
})
