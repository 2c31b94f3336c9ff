import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { referencePlan, requireTool, run, tempDir } from './deploy-test-kit.js'
import { writeGenerated } from './files.js'
import { generateK8s, NODE_LABEL_PREFIX } from './k8s.js'
import { hostsRunning } from './plan.js'

type Container = {
  name: string
  image: string
  args: string[]
  env?: { name: string; value?: string; valueFrom?: unknown }[]
  envFrom?: unknown[]
  readinessProbe?: { httpGet?: { path: string; port: string | number } }
  livenessProbe?: { tcpSocket?: { port: string } }
}
type Obj = {
  kind: string
  metadata: { name: string; namespace?: string }
  spec?: { replicas?: number; template?: { spec: { containers: Container[]; nodeSelector?: Record<string, string> } } }
  data?: Record<string, string>
}

/** Builds an overlay with kubectl kustomize and returns its objects. */
function build(dir: string, overlay: string): Obj[] {
  const r = run('kubectl', ['kustomize', `${dir}/${overlay}`])
  assert.equal(r.status, 0, r.stderr)
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj)
}

describe('deploy k8s (kubectl kustomize)', () => {
  it('overlays/small builds: StatefulSets, one replica per role, probes on /healthz and :9091', (t) => {
    if (!requireTool('kubectl', t)) return
    const tmp = tempDir('k8s')
    try {
      writeGenerated(tmp.dir, generateK8s({ image: 'harrier:0.1.0', namespace: 'vectors' }))
      const objs = build(tmp.dir, 'overlays/small')
      const kinds = (k: string) => objs.filter((o) => o.kind === k).map((o) => o.metadata.name).sort()
      assert.deepEqual(kinds('StatefulSet'), ['etcd', 'minio', 'nats'])
      assert.deepEqual(kinds('Deployment'), ['datanode', 'indexnode', 'mixcoord', 'proxy', 'querynode'])
      assert.deepEqual(kinds('Namespace'), ['vectors'])
      assert.ok(kinds('Service').includes('proxy') && kinds('Service').includes('minio-api'))
      for (const o of objs) if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'vectors', `${o.kind}/${o.metadata.name}`)
      for (const d of objs.filter((o) => o.kind === 'Deployment')) {
        assert.equal(d.spec!.replicas, 1, d.metadata.name)
        const c = d.spec!.template!.spec.containers[0]!
        assert.deepEqual(c.args, ['run', d.metadata.name])
        assert.deepEqual(c.readinessProbe!.httpGet, { path: '/healthz', port: 'metrics' })
        assert.deepEqual(c.livenessProbe!.tcpSocket, { port: 'metrics' })
        assert.ok(c.env!.some((e) => e.name === 'HARRIER_ADVERTISE_HOST' && JSON.stringify(e.valueFrom).includes('status.podIP')))
      }
      const cm = objs.find((o) => o.kind === 'ConfigMap')!
      assert.match(cm.metadata.name, /^harrier-config-/)
      assert.equal(cm.data!.HARRIER_ETCD, 'etcd-0.etcd:2379,etcd-1.etcd:2379,etcd-2.etcd:2379')
      // The generated name suffix is wired into the Deployments' envFrom.
      assert.ok(JSON.stringify(objs.find((o) => o.metadata.name === 'querynode')).includes(cm.metadata.name))
    } finally {
      tmp.remove()
    }
  })

  it('the plan overlay sets counts and nodeSelectors from the reference plan', (t) => {
    if (!requireTool('kubectl', t)) return
    const plan = referencePlan()
    const tmp = tempDir('k8s-plan')
    try {
      const files = generateK8s({ image: plan.cluster.image, namespace: 'harrier', plan })
      writeGenerated(tmp.dir, files)
      const objs = build(tmp.dir, 'overlays/harrier')
      const get = (kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name)!
      for (const role of ['proxy', 'mixcoord', 'datanode', 'querynode', 'indexnode'] as const) {
        const d = get('Deployment', role)
        assert.equal(d.spec!.replicas, hostsRunning(plan, role).length, role)
        assert.deepEqual(d.spec!.template!.spec.nodeSelector, { [`${NODE_LABEL_PREFIX}${role}`]: 'true' })
      }
      const nats = get('StatefulSet', 'nats')
      assert.equal(nats.spec!.replicas, 5)
      assert.ok(nats.spec!.template!.spec.containers[0]!.args.includes('--routes=nats://nats-0.nats:6222,nats://nats-1.nats:6222,nats://nats-2.nats:6222,nats://nats-3.nats:6222,nats://nats-4.nats:6222'))
      const cm = objs.find((o) => o.kind === 'ConfigMap')!
      assert.match(cm.data!.HARRIER_WAL!, /nats-4\.nats:4222\/harrier\?replicas=3$/)
      const script = files.find((f) => f.path.endsWith('label-nodes.sh'))!.content
      assert.match(script, /kubectl label node query3 --overwrite query3=true harrier\.io\/querynode=true {2}# 29\.16\.21\.66/)
      assert.equal(run('sh', ['-n', `${tmp.dir}/overlays/harrier/label-nodes.sh`]).status, 0)
    } finally {
      tmp.remove()
    }
  })
})
