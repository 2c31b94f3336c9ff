import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { isDbError } from '../common/errors.js'
import { referencePlan, REFERENCE_PLAN, REPO, requireTool, run, STACK_ENV, tempDir } from './deploy-test-kit.js'
import { writeGenerated } from './files.js'
import { HARRIER_ROLES, hostsRunning, parsePlan, type HostPlan, plannedRoles } from './plan.js'
import { HARRIER_HEALTHCHECK_SCRIPT } from './services.js'
import { checkStack, generateSwarm, STACK_FILE } from './swarm.js'

type Service = {
  image: string
  command?: string[]
  environment?: Record<string, string>
  healthcheck?: { test: string[] }
  deploy: { mode?: string; replicas?: number; endpoint_mode: string; placement: { constraints: string[]; max_replicas_per_node?: number } }
  ports?: { mode: string; published: number }[]
  volumes?: string[]
}

function services(plan: HostPlan): Record<string, Service> {
  return generateSwarm(plan).stack.services as Record<string, Service>
}

/** A scaled-down plan: one node, every role once, etcd + MinIO + NATS (the Swarm test's shape). */
const ONE_NODE = `cluster: { name: mini }
hosts:
  - { name: node1, address: 127.0.0.1, manager: true, services: [proxy, mixcoord, datanode, querynode, indexnode, etcd, minio, nats, nginx, prometheus, grafana] }
`

describe('deploy swarm: the stack follows the plan', () => {
  const plan = referencePlan()
  const out = generateSwarm(plan)
  const svc = out.stack.services as Record<string, Service>

  it('every service uses dnsrr and a placement constraint that some host\'s labels satisfy', () => {
    checkStack(plan, out)
    for (const [name, s] of Object.entries(svc)) {
      assert.equal(s.deploy.endpoint_mode, 'dnsrr', name)
      assert.ok(s.deploy.placement.constraints.length > 0, name)
    }
  })

  it('each Harrier role runs once per host that lists it, one per node, with a /healthz healthcheck', () => {
    assert.deepEqual(plannedRoles(plan), ['proxy', 'mixcoord', 'datanode', 'querynode', 'indexnode'])
    for (const role of plannedRoles(plan)) {
      const s = svc[role]!
      assert.equal(s.deploy.replicas, hostsRunning(plan, role).length, role)
      assert.equal(s.deploy.placement.max_replicas_per_node, 1)
      assert.deepEqual(s.deploy.placement.constraints, [`node.labels.harrier.${role} == true`])
      assert.deepEqual(s.command, ['run', role])
      assert.equal(s.image, 'harrier:0.1.0')
      assert.deepEqual(s.healthcheck!.test, ['CMD', '/usr/local/bin/node', '-e', HARRIER_HEALTHCHECK_SCRIPT])
      const env = s.environment!
      assert.equal(env.HARRIER_ETCD, 'etcd1:2379,etcd2:2379,etcd3:2379')
      assert.equal(env.HARRIER_WAL, 'nats://nats1:4222,nats2:4222,nats3:4222,nats4:4222,nats5:4222/harrier?replicas=3')
      assert.equal(env.HARRIER_OBJECT_STORE, 's3://harrier/data?endpoint=http://minio:9000')
      assert.equal(env.HARRIER_HOST, '0.0.0.0')
      assert.equal(env.HARRIER_ADVERTISE_HOST, '{{.Task.Name}}')
    }
    assert.deepEqual(
      Object.fromEntries(plannedRoles(plan).map((r) => [r, svc[r]!.deploy.replicas])),
      { proxy: 3, mixcoord: 2, datanode: 2, querynode: 5, indexnode: 4 },
    )
  })

  it('stateful members are pinned to their own host, data under the plan\'s dataRoot', () => {
    const pinned = (service: string, host: string) => assert.deepEqual(svc[service]!.deploy.placement.constraints, [`node.labels.harrier.host == ${host}`], service)
    for (const [i, h] of hostsRunning(plan, 'etcd').entries()) pinned(`etcd${i + 1}`, h.name)
    for (const [i, h] of hostsRunning(plan, 'minio').entries()) pinned(`minio${i + 1}`, h.name)
    for (const [i, h] of hostsRunning(plan, 'nats').entries()) pinned(`nats${i + 1}`, h.name)
    pinned('prometheus', 'manager1')
    assert.deepEqual(svc.minio1!.command, ['server', 'http://minio{1...4}:9000/data', '--console-address', ':9001'])
    assert.ok(svc.etcd2!.command!.includes('--initial-cluster=etcd1=http://etcd1:2380,etcd2=http://etcd2:2380,etcd3=http://etcd3:2380'))
    assert.ok(svc.nats3!.command!.includes('--routes=nats://nats1:6222,nats://nats2:6222,nats://nats3:6222,nats://nats4:6222,nats://nats5:6222'))
    assert.deepEqual(svc.etcd1!.volumes, ['/mnt/data/harrier/etcd1-data:/etcd-data'])
    assert.deepEqual(svc.querynode!.volumes, ['/mnt/data/harrier/querynode-data:/var/lib/harrier'])
  })

  it('nginx runs on every nginx host, publishes in host mode and balances over tasks.proxy; cAdvisor is global', () => {
    assert.equal(svc.nginx!.deploy.mode, 'global')
    assert.deepEqual(svc.nginx!.deploy.placement.constraints, ['node.labels.harrier.nginx == true'])
    assert.deepEqual(svc.nginx!.ports!.map((p) => [p.published, p.mode]), [[19530, 'host'], [8080, 'host']])
    const conf = out.files.find((f) => f.path === 'nginx/nginx.conf')!.content
    // Both servers resolve the proxies per request through Docker's DNS: every replica, in any order of start.
    assert.match(conf, /resolver 127\.0\.0\.11 /)
    assert.equal([...conf.matchAll(/set \$harrier_\w+ tasks\.proxy:19530;/g)].length, 2)
    assert.match(conf, /listen 19530 http2;[\s\S]*grpc_pass grpc:\/\/\$harrier_grpc;/)
    assert.match(conf, /listen 8080;[\s\S]*proxy_pass http:\/\/\$harrier_rest;/)
    assert.equal(svc.cadvisor!.deploy.mode, 'global')
  })

  it('labels.sh labels every host with the plan\'s labels plus harrier.host and one per service', () => {
    const script = out.files.find((f) => f.path === 'labels.sh')!.content
    for (const h of plan.hosts) {
      const line = script.split('\n').find((l) => l.startsWith('$DRY docker node update') && l.includes(`harrier.host=${h.name} `))
      assert.ok(line, h.name)
      const added = [...line.matchAll(/--label-add (\S+)/g)].map((m) => m[1]!).sort()
      const want = [...Object.entries(h.labels).map(([k, v]) => `${k}=${v}`), `harrier.host=${h.name}`, ...h.services.map((s) => `harrier.${s}=true`)].sort()
      assert.deepEqual(added, want, h.name)
    }
    assert.equal([...script.matchAll(/docker node promote/g)].length, 3)
  })

  it('labels.sh finds nodes by hostname or address and applies the labels (against a fake docker CLI)', () => {
    const tmp = tempDir('labels')
    try {
      writeGenerated(tmp.dir, out.files)
      // Nodes as `docker node inspect` describes them: the managers by hostname, the others only by address.
      const nodes = plan.hosts.map((h, i) => `n${i} ${h.manager ? h.name : `host-${i}`} ${h.manager ? '0.0.0.0' : h.address} ${h.manager ? `${h.address}:2377` : ''}`)
      writeFileSync(join(tmp.dir, 'nodes.txt'), `${nodes.join('\n')}\n`)
      const fake = join(tmp.dir, 'bin', 'docker')
      writeGenerated(tmp.dir, [
        {
          path: 'bin/docker',
          content: `#!/bin/sh
case "$1 $2" in
  "node ls") awk '{print $1}' "${tmp.dir}/nodes.txt" ;;
  "node inspect") cat "${tmp.dir}/nodes.txt" ;;
  *) echo "$@" >> "${tmp.dir}/calls.txt" ;;
esac
`,
          executable: true,
        },
      ])
      chmodSync(fake, 0o755)
      const r = run('sh', ['labels.sh'], { cwd: tmp.dir, env: { ...process.env, PATH: `${join(tmp.dir, 'bin')}:${process.env.PATH}` } })
      assert.equal(r.status, 0, r.stderr)
      const calls = readFileSync(join(tmp.dir, 'calls.txt'), 'utf8').trim().split('\n')
      assert.equal(calls.filter((c) => c.startsWith('node promote')).length, 3)
      const updates = calls.filter((c) => c.startsWith('node update'))
      assert.equal(updates.length, 26)
      plan.hosts.forEach((h, i) => assert.ok(updates[i]!.endsWith(` n${i}`) && updates[i]!.includes(`harrier.host=${h.name}`), updates[i]))
      // A node missing from the Swarm stops the script with its name.
      writeFileSync(join(tmp.dir, 'nodes.txt'), `${nodes.slice(1).join('\n')}\n`)
      const missing = run('sh', ['labels.sh'], { cwd: tmp.dir, env: { ...process.env, PATH: `${join(tmp.dir, 'bin')}:${process.env.PATH}` } })
      assert.notEqual(missing.status, 0)
      assert.match(missing.stderr, /no Swarm node named query1 or with address 29\.16\.21\.64/)
    } finally {
      tmp.remove()
    }
  })

  it('host-dirs.sh creates the bind-mount directories of the host it is run for', (t) => {
    if (process.getuid?.() !== 0) return t.skip('chown needs root')
    const tmp = tempDir('dirs')
    try {
      const p = parsePlan(readFileSync(join(REPO, REFERENCE_PLAN), 'utf8').replace('dataRoot: /mnt/data', `dataRoot: ${tmp.dir}/data`), 'p.yaml')
      const o = generateSwarm(p)
      writeGenerated(tmp.dir, o.files)
      assert.equal(run('sh', ['host-dirs.sh', 'etcd2'], { cwd: tmp.dir }).status, 0)
      assert.equal(run('sh', ['host-dirs.sh', 'query4'], { cwd: tmp.dir }).status, 0)
      assert.deepEqual(readdirSync(join(tmp.dir, 'data/harrier')).sort(), ['etcd2-data', 'querynode-data'])
      assert.equal(statSync(join(tmp.dir, 'data/harrier/querynode-data')).uid, 1000)
      const bad = run('sh', ['host-dirs.sh', 'nosuchhost'], { cwd: tmp.dir })
      assert.equal(bad.status, 2)
      assert.match(bad.stderr, /usage: sh host-dirs.sh HOST/)
    } finally {
      tmp.remove()
    }
  })

  it('the healthcheck one-liner exits 0 on 200 and 1 on 503 or a closed port', async () => {
    let status = 200
    const server = createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404
      res.end(status === 200 ? '{"status":"ok"}' : '{"status":"starting: waiting for etcd"}')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    const script = HARRIER_HEALTHCHECK_SCRIPT.replace(':9091/', `:${port}/`)
    // Asynchronously: the server answering the probe runs on this process's event loop.
    const probe = () => new Promise<number | null>((resolve) => spawn(process.execPath, ['-e', script], { stdio: 'ignore' }).on('exit', resolve))
    try {
      assert.equal(await probe(), 0)
      status = 503
      assert.equal(await probe(), 1)
    } finally {
      await new Promise((r) => server.close(r))
    }
    assert.equal(await probe(), 1)
  })

  it('the committed example output is what the generator writes today', () => {
    const dir = join(REPO, 'deploy/examples/reference-26-hosts/swarm')
    const hint = `regenerate: node dist/src/roles/cli.js deploy swarm --plan ${REFERENCE_PLAN} --out deploy/examples/reference-26-hosts/swarm`
    const committed: string[] = []
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n)
        if (statSync(p).isDirectory()) walk(p)
        else committed.push(relative(dir, p))
      }
    }
    walk(dir)
    assert.deepEqual(committed.sort(), out.files.map((f) => f.path).sort(), hint)
    for (const f of out.files) assert.equal(readFileSync(join(dir, f.path), 'utf8'), f.content, `${f.path} is stale; ${hint}`)
  })
})

describe('deploy swarm: the real validators accept the files', () => {
  it('docker stack config accepts the reference stack and refuses to run without the credentials', (t) => {
    if (!requireTool('docker', t)) return
    const tmp = tempDir('swarm')
    try {
      const out = generateSwarm(referencePlan())
      writeGenerated(tmp.dir, out.files)
      const r = run('docker', ['stack', 'config', '-c', STACK_FILE], { cwd: tmp.dir, env: STACK_ENV })
      assert.equal(r.status, 0, r.stderr)
      const normalized = parseYaml(r.stdout) as { services: Record<string, { environment: Record<string, string> }> }
      assert.deepEqual(Object.keys(normalized.services).sort(), Object.keys(out.stack.services as object).sort())
      assert.equal(normalized.services.querynode!.environment.AWS_SECRET_ACCESS_KEY, 'test-secret-1')
      const env = { ...STACK_ENV }
      delete env.MINIO_ROOT_USER
      const refused = run('docker', ['stack', 'config', '-c', STACK_FILE], { cwd: tmp.dir, env })
      assert.notEqual(refused.status, 0)
      assert.match(refused.stderr, /export MINIO_ROOT_USER/)
    } finally {
      tmp.remove()
    }
  })

  it('docker stack config accepts a one-node plan, a Kafka plan and a Pulsar plan', (t) => {
    if (!requireTool('docker', t)) return
    const kafka = ONE_NODE.replace('nats, ', '').replace('  - { name: node1', '  - { name: k1, address: 10.0.0.11, services: [kafka] }\n  - { name: k2, address: 10.0.0.12, services: [kafka] }\n  - { name: k3, address: 10.0.0.13, services: [kafka] }\n  - { name: node1')
    const pulsar = ONE_NODE.replace('nats, ', 'pulsar, zookeeper, bookie, ')
    for (const [name, text] of [['one node', ONE_NODE], ['kafka', kafka], ['pulsar', pulsar]] as const) {
      const plan = parsePlan(text, `${name}.yaml`)
      const out = generateSwarm(plan)
      checkStack(plan, out)
      const svc = out.stack.services as Record<string, Service>
      for (const role of HARRIER_ROLES.filter((r) => plan.hosts[plan.hosts.length - 1]!.services.includes(r))) assert.ok(svc[role], `${name}: ${role}`)
      const tmp = tempDir('swarm-small')
      try {
        writeGenerated(tmp.dir, out.files)
        const r = run('docker', ['stack', 'config', '-c', STACK_FILE], { cwd: tmp.dir, env: STACK_ENV })
        assert.equal(r.status, 0, `${name}: ${r.stderr}`)
      } finally {
        tmp.remove()
      }
    }
    const k = services(parsePlan(kafka, 'k.yaml'))
    assert.equal(k.querynode!.environment!.HARRIER_WAL, 'kafka://kafka1:9092,kafka2:9092,kafka3:9092/mini')
    assert.equal(k.kafka2!.environment!.KAFKA_CONTROLLER_QUORUM_VOTERS, '1@kafka1:9093,2@kafka2:9093,3@kafka3:9093')
    const p = services(parsePlan(pulsar, 'p.yaml'))
    assert.ok(p['pulsar-init'] && p.pulsar1 && p.bookie1 && p.zookeeper1)
    // Without dataRoot the data lives in named volumes the stack declares.
    const stack = generateSwarm(parsePlan(ONE_NODE, 'one.yaml')).stack as { volumes: Record<string, unknown> }
    assert.ok('etcd1-data' in stack.volumes && 'querynode-data' in stack.volumes)
  })

  it('nginx -t accepts the generated nginx.conf as shipped', (t) => {
    if (!requireTool('nginx', t)) return
    const tmp = tempDir('nginx')
    try {
      writeGenerated(tmp.dir, generateSwarm(referencePlan()).files)
      const r = run('nginx', ['-t', '-c', join(tmp.dir, 'nginx/nginx.conf'), '-p', tmp.dir, '-g', `pid ${tmp.dir}/nginx.pid;`])
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stderr, /test is successful/)
    } finally {
      tmp.remove()
    }
  })

  it('promtool accepts the Prometheus configuration', (t) => {
    if (!requireTool('promtool', t)) return
    const tmp = tempDir('prom')
    try {
      const out = generateSwarm(referencePlan())
      writeGenerated(tmp.dir, out.files)
      const r = run('promtool', ['check', 'config', join(tmp.dir, 'prometheus/prometheus.yml')])
      assert.equal(r.status, 0, r.stdout + r.stderr)
      const cfg = parseYaml(readFileSync(join(tmp.dir, 'prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; port: number }[] }[] }
      for (const role of plannedRoles(referencePlan())) {
        const job = cfg.scrape_configs.find((j) => j.job_name === `harrier-${role}`)
        assert.deepEqual(job?.dns_sd_configs, [{ names: [`tasks.${role}`], type: 'A', port: 9091, refresh_interval: '15s' }], role)
      }
      assert.ok(cfg.scrape_configs.some((j) => j.job_name === 'cadvisor'))
    } finally {
      tmp.remove()
    }
  })

  it('refuses an invalid plan with a ParameterInvalid error naming the file', () => {
    assert.throws(() => parsePlan(ONE_NODE.replace('etcd, ', ''), 'x.yaml'), (e) => isDbError(e, 'ParameterInvalid') && /x\.yaml: no host runs etcd/.test(e.message))
    assert.ok(existsSync(join(REPO, REFERENCE_PLAN)))
  })
})
