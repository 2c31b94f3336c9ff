/**
 * The real Swarm deployment of issue 6: a private dockerd, a one-node Swarm on 127.0.0.1, images
 * built FROM scratch on this machine, the stack that `harrier deploy swarm` generates from
 * tests/swarm/plan.yaml deployed with one `docker stack deploy`, an SDK workload through nginx, a
 * query-node container killed (Swarm replaces it, Harrier keeps answering), then everything removed.
 *
 * Runs only with HARRIER_SWARM_TEST=1 (it needs root, dockerd from Debian docker.io, etcd,
 * nats-server, nginx and Ceph; about 5 minutes). See docs/deploy.md, "Swarm test".
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it, type TestContext } from 'node:test'
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node'
import { parse as parseYaml, stringify } from 'yaml'
import { parsePlan } from '../../src/deploy/plan.js'
import { nodeLabels } from '../../src/deploy/swarm.js'
import { dockerdBinary, startDockerd, type Dockerd } from './dockerd.js'
import { imageSpecs, REPO, SWARM_SRC, writeRootfs } from './images.js'
import { localizeStack } from './stack.js'

const STACK = 'harrier'
const DIM = 8
const ROWS = 3000
const S3_USER = 'harrier'
const S3_PASSWORD = 'harrier-swarm-secret'

function skipReason(): string | undefined {
  if (process.env.HARRIER_SWARM_TEST !== '1') return 'set HARRIER_SWARM_TEST=1 to run the real Swarm deployment (root, docker.io, ~5 min)'
  if (process.getuid?.() !== 0) return 'the Swarm test runs dockerd and needs root'
  return undefined
}

function vec(i: number): number[] {
  return Array.from({ length: DIM }, (_, d) => Math.sin(i * 0.37 + d * 1.3))
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0))
    })
  })
}

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, cwd: REPO, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${String(stderr).slice(-3000)}`))
      else resolve(String(stdout))
    })
  })
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`

interface Task {
  readonly id: string
  readonly name: string
  readonly service: string
  readonly healthy: boolean
  readonly status: string
}

describe('Harrier on a real Docker Swarm (HARRIER_SWARM_TEST=1)', { skip: skipReason(), timeout: 1_800_000 }, () => {
  let engine: Dockerd | undefined
  let client: MilvusClient | undefined
  let grpcPort = 0
  let expected: Record<string, number> = {}
  const timings: Record<string, string> = {}

  /** Running containers of the stack, by service (without the stack prefix). */
  const tasks = async (): Promise<Task[]> => {
    const r = await engine!.docker(['ps', '--format', '{{.ID}}\t{{.Names}}\t{{.Label "com.docker.swarm.service.name"}}\t{{.Status}}'])
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [id, name, service, status] = l.split('\t') as [string, string, string, string]
        return { id, name, service: service.replace(`${STACK}_`, ''), status, healthy: /\(healthy\)/.test(status) }
      })
  }

  /** Until every service has its replica count of healthy containers; returns the wait in ms. */
  const waitHealthy = async (timeoutMs: number, extra: (t: Task[]) => boolean = () => true): Promise<number> => {
    const t0 = Date.now()
    let last = ''
    for (;;) {
      const ts = await tasks()
      const missing = Object.entries(expected).filter(([svc, n]) => ts.filter((t) => t.service === svc && t.healthy).length < n)
      if (missing.length === 0 && extra(ts)) return Date.now() - t0
      last = missing.map(([svc]) => `${svc}: ${ts.filter((t) => t.service === svc).map((t) => t.status).join(', ') || 'no container'}`).join('; ')
      if (Date.now() - t0 > timeoutMs) {
        const logs: string[] = []
        for (const [svc] of missing) {
          const l = await engine!.docker(['service', 'logs', '--tail', '30', `${STACK}_${svc}`], { allowFail: true })
          const ps = await engine!.docker(['service', 'ps', '--no-trunc', `${STACK}_${svc}`], { allowFail: true })
          logs.push(`--- ${svc}\n${ps.stdout}${l.stdout.slice(-3000)}${l.stderr.slice(-3000)}`)
        }
        throw new Error(`not healthy after ${secs(timeoutMs)}: ${last}\n${logs.join('\n')}`)
      }
      await sleep(2000)
    }
  }

  const count = async (): Promise<number> => {
    const r = await client!.query({ collection_name: 'c1', filter: '', output_fields: ['count(*)'], consistency_level: 'Strong' as never })
    assert.equal(r.status.error_code, 'Success', r.status.reason)
    return Number(r.data[0]!['count(*)'])
  }

  /** `harrier status --json` run inside the proxy's container, which sees etcd on the overlay. */
  const status = async () => {
    const proxy = (await tasks()).find((t) => t.service === 'proxy')!
    const r = await engine!.docker(['exec', proxy.id, '/usr/local/bin/node', '/harrier/dist/src/roles/cli.js', 'status', '--etcd', 'etcd1:2379', '--json'])
    return JSON.parse(r.stdout) as { processes: { role: string; address: string; metricsAddress: string; healthy: boolean }[]; collections: { name: string; servedBy: string[]; loaded: boolean }[] }
  }

  before(async () => {
    assert.ok(dockerdBinary(), 'dockerd missing: apt-get install -y --no-install-recommends docker.io')
    let t = Date.now()
    engine = await startDockerd()
    timings.dockerd = secs(Date.now() - t)
    const swarmPort = await freePort()
    t = Date.now()
    await engine.docker(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${swarmPort}`])
    timings.swarmInit = secs(Date.now() - t)

    // Images: Harrier from deploy/local-image.sh, the rest from this machine's Debian binaries.
    t = Date.now()
    await sh('sh', [join(REPO, 'deploy/local-image.sh'), '--out', join(engine.dir, 'harrier-image'), '--tag', 'harrier-swarm-test/harrier:local'], engine.env())
    for (const spec of imageSpecs()) {
      const dir = join(engine.dir, 'images', spec.tag.replace(/[/:]/g, '_'))
      await writeRootfs(spec, dir)
      await engine.docker(['build', '-q', '-t', spec.tag, dir])
    }
    timings.images = secs(Date.now() - t)

    // The plan, with free ports for nginx's published gRPC and REST ports.
    grpcPort = await freePort()
    const restPort = await freePort()
    const planDoc = parseYaml(readFileSync(join(SWARM_SRC, 'plan.yaml'), 'utf8')) as { cluster: { ports: Record<string, number> } }
    planDoc.cluster.ports = { grpc: grpcPort, rest: restPort }
    const planFile = join(engine.dir, 'plan.yaml')
    writeFileSync(planFile, stringify(planDoc))
    const out = join(engine.dir, 'out')
    mkdirSync(out)
    await sh(process.execPath, [join(REPO, 'dist/src/roles/cli.js'), 'deploy', 'swarm', '--plan', planFile, '--out', out], process.env)

    // One node stands for the plan's three hosts: it carries all their labels; the stateful
    // services are pinned to harrier.host=main.
    const plan = parsePlan(readFileSync(planFile, 'utf8'), planFile)
    const labels: Record<string, string> = {}
    for (const l of nodeLabels(plan).values()) Object.assign(labels, l)
    labels['harrier.host'] = 'main'
    const node = (await engine.docker(['node', 'ls', '-q'])).stdout.trim()
    await engine.docker(['node', 'update', ...Object.entries(labels).flatMap(([k, v]) => ['--label-add', `${k}=${v}`]), node])

    const local = localizeStack(readFileSync(join(out, 'harrier-stack.yml'), 'utf8'))
    writeFileSync(join(out, 'swarm-test-stack.yml'), local.text)
    const stack = parseYaml(local.text) as { services: Record<string, { deploy?: { replicas?: number } }> }
    expected = Object.fromEntries(Object.entries(stack.services).map(([n, s]) => [n, s.deploy?.replicas ?? 1]))
    timings.localChanges = local.changes.join(' | ')

    t = Date.now()
    // cwd = out: the stack's configs are relative paths (./nginx/nginx.conf).
    await new Promise<void>((resolve, reject) => {
      execFile('docker', ['stack', 'deploy', '-c', 'swarm-test-stack.yml', STACK], { cwd: out, env: { ...engine!.env(), MINIO_ROOT_USER: S3_USER, MINIO_ROOT_PASSWORD: S3_PASSWORD } }, (err, _o, e) =>
        err ? reject(new Error(`docker stack deploy: ${e}`)) : resolve(),
      )
    })
    timings.stackDeploy = secs(Date.now() - t)
    timings.deployedAt = String(t)
  })

  after(async () => {
    await client?.closeConnection().catch(() => undefined)
    if (engine) {
      await engine.docker(['stack', 'rm', STACK], { allowFail: true })
      await engine.stop()
    }
  })

  it('every service of the generated stack becomes healthy (Swarm healthchecks on /healthz)', async (t: TestContext) => {
    const waited = await waitHealthy(600_000)
    timings.healthy = secs(Date.now() - Number(timings.deployedAt))
    t.diagnostic(`timings: ${JSON.stringify({ ...timings, deployedAt: undefined, healthyWait: secs(waited) })}`)
    const ts = await tasks()
    assert.equal(ts.filter((x) => x.service === 'querynode').length, 2)
    // Every Harrier role registered under its task name, the advertise host the stack sets.
    const st = await status()
    const roles = st.processes.map((p) => p.role).sort()
    assert.deepEqual(roles, ['datanode', 'indexnode', 'mixcoord', 'proxy', 'querynode', 'querynode'])
    for (const p of st.processes) {
      assert.ok(p.healthy, JSON.stringify(p))
      // The index node serves no gRPC (address ''); every role advertises its /healthz and /metrics.
      const host = p.metricsAddress.replace(/:\d+$/, '')
      assert.ok(ts.some((x) => x.name === host), `${p.role} advertises ${p.metricsAddress}, not a running task name (${ts.map((x) => x.name).join(', ')})`)
    }
  })

  it('an SDK workload through nginx: create, index, load, insert, flush, search, count(*)', async (t: TestContext) => {
    const t0 = Date.now()
    const steps: string[] = []
    let last = t0
    const step = (name: string) => {
      steps.push(`${name} ${secs(Date.now() - last)}`)
      last = Date.now()
    }
    client = new MilvusClient({ address: `127.0.0.1:${grpcPort}`, timeout: 60_000 })
    const cr = await client.createCollection({
      collection_name: 'c1',
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'tag', data_type: DataType.Int64 },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
      ],
    })
    assert.equal(cr.error_code, 'Success', cr.reason)
    step('create')
    const ix = await client.createIndex({ collection_name: 'c1', field_name: 'v', index_type: 'HNSW', metric_type: 'L2', params: { M: 8, efConstruction: 64 } })
    assert.equal(ix.error_code, 'Success', ix.reason)
    step('index')
    const ld = await client.loadCollectionSync({ collection_name: 'c1', replica_number: 2 })
    assert.equal(ld.error_code, 'Success', ld.reason)
    step('load')
    const data = Array.from({ length: ROWS }, (_, i) => ({ id: i, tag: i % 7, v: vec(i) }))
    const ins = await client.insert({ collection_name: 'c1', data })
    assert.equal(ins.status.error_code, 'Success', ins.status.reason)
    step('insert')
    const fl = await client.flushSync({ collection_names: ['c1'] })
    assert.equal(fl.status.error_code, 'Success', fl.status.reason)
    step('flush')
    const s = await client.search({ collection_name: 'c1', data: [vec(42)], limit: 3, consistency_level: 'Strong' as never })
    assert.equal(s.status.error_code, 'Success', s.status.reason)
    assert.equal(String(s.results[0]!.id), '42')
    assert.equal(await count(), ROWS)
    const q = await client.query({ collection_name: 'c1', filter: 'tag == 3 and id < 50', output_fields: ['id'], consistency_level: 'Strong' as never })
    assert.deepEqual(q.data.map((r) => Number(r.id)).sort((a, b) => a - b), [3, 10, 17, 24, 31, 38, 45])
    const st = await status()
    const c1 = st.collections.find((c) => c.name === 'c1')!
    assert.equal(c1.loaded, true)
    assert.equal(c1.servedBy.length, 2, `served by ${c1.servedBy.join(', ')}`)
    t.diagnostic(`workload: ${secs(Date.now() - t0)} (${steps.join(', ')}, search/query/status ${secs(Date.now() - last)})`)
  })

  it('a query-node container killed: Swarm starts a new task, searches keep succeeding, the count stays complete', async (t: TestContext) => {
    const before = (await tasks()).filter((x) => x.service === 'querynode')
    assert.equal(before.length, 2)
    const victim = before[0]!
    let stop = false
    let ok = 0
    const failures: string[] = []
    const load = (async () => {
      while (!stop) {
        try {
          const s = await client!.search({ collection_name: 'c1', data: [vec(500)], limit: 5, consistency_level: 'Strong' as never })
          if (s.status.error_code !== 'Success') failures.push(`${s.status.error_code}: ${s.status.reason}`)
          else if (String(s.results[0]?.id) !== '500') failures.push(`wrong top hit ${s.results[0]?.id}`)
          else ok++
          const n = await count()
          if (n !== ROWS) failures.push(`count ${n}`)
        } catch (e) {
          failures.push(e instanceof Error ? e.message : String(e))
          // A closed or broken client rejects at once: do not spin and starve the event loop.
          await sleep(200)
        }
      }
    })()
    let report = ''
    let psOut = ''
    let served = -1
    let servedBy: string[] = []
    const killAndWatch = async () => {
      await sleep(1000)
      const t0 = Date.now()
      await engine!.docker(['kill', victim.id])
      // Swarm's replacement: a second running querynode container that is not the victim.
      let running = 0
      while (running === 0) {
        if ((await tasks()).filter((x) => x.service === 'querynode' && x.id !== victim.id).length === 2) running = Date.now() - t0
        else {
          assert.ok(Date.now() - t0 < 120_000, 'Swarm did not start a new query-node task within 120 s')
          await sleep(250)
        }
      }
      await waitHealthy(300_000, (ts) => ts.filter((x) => x.service === 'querynode' && x.id !== victim.id && x.healthy).length === 2)
      const healthyIn = Date.now() - t0
      // Harrier sees the new query node and serves the collection from both again.
      const deadline = Date.now() + 120_000
      while (Date.now() < deadline) {
        const st = await status()
        servedBy = st.collections.find((c) => c.name === 'c1')!.servedBy
        if (servedBy.length === 2 && st.processes.filter((p) => p.role === 'querynode').length === 2) {
          served = Date.now() - t0
          break
        }
        await sleep(1000)
      }
      psOut = (await engine!.docker(['service', 'ps', '--format', '{{.Name}} {{.DesiredState}} {{.CurrentState}} {{.Error}}', `${STACK}_querynode`])).stdout
      report =
        `query node ${victim.name} killed: new task running after ${secs(running)}, healthy after ${secs(healthyIn)}, ` +
        (served < 0 ? `c1 still served only by ${servedBy.join(', ')} after 120 s` : `both serving c1 after ${secs(served)}`)
    }
    try {
      await killAndWatch()
    } finally {
      stop = true
      await load
    }
    t.diagnostic(`${report}; ${ok} searches ok, ${failures.length} failed ${JSON.stringify(failures.slice(0, 3))}\n${psOut}`)
    assert.ok(served >= 0, `the new query node did not take a share of c1 within 120 s (served by ${servedBy.join(', ')})`)
    assert.ok(psOut.split('\n').some((l) => l.startsWith(`${STACK}_querynode.`) && / Shutdown /.test(l)), psOut)
    assert.deepEqual(failures.slice(0, 10), [])
    assert.ok(ok > 10, `only ${ok} searches`)
    for (let i = 0; i < 4; i++) assert.equal(await count(), ROWS)
  })

  it('removing the stack and the Swarm leaves the machine clean', async (t: TestContext) => {
    await client?.closeConnection().catch(() => undefined)
    client = undefined
    const t0 = Date.now()
    await engine!.docker(['stack', 'rm', STACK])
    for (;;) {
      const left = (await engine!.docker(['ps', '-aq'])).stdout.trim()
      const nets = (await engine!.docker(['network', 'ls', '--filter', `label=com.docker.stack.namespace=${STACK}`, '-q'])).stdout.trim()
      if (!left && !nets) break
      assert.ok(Date.now() - t0 < 120_000, `containers/networks still there: ${left} ${nets}`)
      await sleep(1000)
    }
    const removed = Date.now() - t0
    const dir = engine!.dir
    const { notes, leftovers } = await engine!.stop()
    t.diagnostic(`stack removed in ${secs(removed)}; dockerd stopped; ${notes.join('; ') || 'nothing needed forcing'}`)
    assert.deepEqual(leftovers, [])
    // No interface dockerd made survives (docker_gwbridge, veths, vxlans live in its namespaces).
    const links = await sh('ip', ['-o', 'link'], process.env)
    assert.doesNotMatch(links, /docker_gwbridge|veth|vx-/)
    assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(dir))
  })
})
