import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { CLUSTER_FILE, clusterCompose, generateCompose, STANDALONE_FILE, standaloneCompose } from './compose.js'
import { requireTool, run, tempDir } from './deploy-test-kit.js'
import { writeGenerated } from './files.js'
import { HARRIER_HEALTHCHECK_SCRIPT } from './services.js'

type Svc = { image: string; command?: string[]; environment?: Record<string, string>; ports?: string[]; healthcheck?: { test: string[] }; volumes?: string[] }

describe('deploy compose', () => {
  it('standalone: one process, data in a volume, the ports Milvus clients expect, a /healthz healthcheck', () => {
    const s = (standaloneCompose('harrier:0.1.0') as { services: Record<string, Svc> }).services.standalone!
    assert.deepEqual(s.command, ['run', 'standalone'])
    assert.deepEqual(s.ports, ['19530:19530', '9091:9091'])
    assert.deepEqual(s.volumes, ['harrier-data:/var/lib/harrier'])
    assert.equal(s.environment!.HARRIER_HOST, '0.0.0.0')
    assert.deepEqual(s.healthcheck!.test, ['CMD', '/usr/local/bin/node', '-e', HARRIER_HEALTHCHECK_SCRIPT])
  })

  it('cluster: etcd, MinIO, NATS and one process per role, each advertising its service name', () => {
    const c = clusterCompose({ image: 'harrier:0.1.0', profile: 'cluster' }) as { services: Record<string, Svc> }
    assert.deepEqual(Object.keys(c.services), ['etcd', 'minio', 'nats', 'mixcoord', 'datanode', 'querynode', 'indexnode', 'proxy'])
    for (const role of ['mixcoord', 'datanode', 'querynode', 'indexnode', 'proxy']) {
      const env = c.services[role]!.environment!
      assert.equal(env.HARRIER_ADVERTISE_HOST, role)
      assert.equal(env.HARRIER_ETCD, 'etcd:2379')
      assert.equal(env.HARRIER_WAL, 'nats://nats:4222/harrier')
      assert.equal(env.HARRIER_OBJECT_STORE, 's3://harrier/data?endpoint=http://minio:9000')
      assert.equal(env.AWS_ACCESS_KEY_ID, '${MINIO_ROOT_USER:-minioadmin}')
    }
    assert.deepEqual(c.services.proxy!.ports, ['19530:19530', '9091:9091'])
    assert.equal(c.services.querynode!.ports, undefined)
  })

  it('profiles choose the files', () => {
    assert.deepEqual(generateCompose({ image: 'h:1', profile: 'standalone' }).map((f) => f.path), [STANDALONE_FILE, 'README.md'])
    assert.deepEqual(generateCompose({ image: 'h:1', profile: 'cluster' }).map((f) => f.path), [CLUSTER_FILE, 'README.md'])
    assert.deepEqual(generateCompose({ image: 'h:1', profile: 'all' }).map((f) => f.path), [STANDALONE_FILE, CLUSTER_FILE, 'README.md'])
  })

  it('both files pass the compose 3.8 schema (docker stack config)', (t) => {
    if (!requireTool('docker', t)) return
    const tmp = tempDir('compose')
    try {
      writeGenerated(tmp.dir, generateCompose({ image: 'harrier:0.1.0', profile: 'all' }))
      for (const f of [STANDALONE_FILE, CLUSTER_FILE]) {
        const r = run('docker', ['stack', 'config', '-c', f], { cwd: tmp.dir })
        assert.equal(r.status, 0, `${f}: ${r.stderr}`)
        const doc = parseYaml(r.stdout) as { services: Record<string, Svc> }
        assert.ok(Object.keys(doc.services).length >= 1)
      }
      // The default keys apply when none are exported.
      const env = { ...process.env }
      delete env.MINIO_ROOT_USER
      const r = run('docker', ['stack', 'config', '-c', CLUSTER_FILE], { cwd: tmp.dir, env })
      assert.equal((parseYaml(r.stdout) as { services: Record<string, Svc> }).services.minio!.environment!.MINIO_ROOT_USER, 'minioadmin')
    } finally {
      tmp.remove()
    }
  })
})
