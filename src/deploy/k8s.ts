/**
 * `harrier deploy k8s`: Kubernetes manifests in kustomize layout.
 *
 *   base/                 Namespace, etcd / MinIO / NATS StatefulSets with headless Services,
 *                         one Deployment per Harrier role, the proxy Service, ConfigMap + Secret
 *   overlays/small/       every Harrier role at one replica
 *   overlays/<cluster>/   (from a host plan) replica counts, member counts and nodeSelectors on
 *                         harrier.io/<service>=true node labels, which label-nodes.sh sets
 *
 * Readiness uses /healthz (500 while a role waits for its dependencies), liveness only a TCP
 * connect to :9091, so a role that is alive but waiting for etcd is not restarted in a loop.
 * Workers advertise their pod IP (downward API); the StatefulSets use their stable pod DNS names.
 */
import { stringify } from 'yaml'
import { type GeneratedFile, shQuote } from './files.js'
import { DEFAULT_IMAGES, type HarrierRole, type HostPlan, hostsRunning, METRICS_PORT, plannedRoles, ROLE_PORTS } from './plan.js'
import { DEPLOY_DML_CHANNELS, HARRIER_DATA_DIR } from './services.js'

export interface K8sOptions {
  readonly image: string
  readonly namespace: string
  readonly plan?: HostPlan
}

type Doc = Record<string, unknown>

const BASE_ROLES: readonly HarrierRole[] = ['mixcoord', 'proxy', 'datanode', 'querynode', 'indexnode']
const BASE_REPLICAS: Readonly<Partial<Record<HarrierRole, number>>> = { mixcoord: 2, proxy: 2, datanode: 2, querynode: 2, indexnode: 1 }
const BASE_MEMBERS = { etcd: 3, minio: 4, nats: 3 } as const
/** Label key prefix for node placement in the plan overlay. */
export const NODE_LABEL_PREFIX = 'harrier.io/'

function docs(items: readonly Doc[]): string {
  return items.map((d) => stringify(d, { lineWidth: 0, minContentWidth: 0 })).join('---\n')
}

function labels(app: string): Record<string, string> {
  return { 'app.kubernetes.io/name': app, 'app.kubernetes.io/part-of': 'harrier' }
}

function headless(name: string, ports: Record<string, number>): Doc {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels: labels(name) },
    spec: {
      clusterIP: 'None',
      // Members must find each other before they are ready (etcd and MinIO form quorums at start).
      publishNotReadyAddresses: true,
      selector: labels(name),
      ports: Object.entries(ports).map(([n, p]) => ({ name: n, port: p, targetPort: p })),
    },
  }
}

export function etcdArgs(members: number): string[] {
  const peers = Array.from({ length: members }, (_, i) => `etcd-${i}=http://etcd-${i}.etcd:2380`).join(',')
  return [
    '--name=$(POD_NAME)',
    '--data-dir=/etcd-data',
    '--listen-client-urls=http://0.0.0.0:2379',
    '--advertise-client-urls=http://$(POD_NAME).etcd:2379',
    '--listen-peer-urls=http://0.0.0.0:2380',
    '--initial-advertise-peer-urls=http://$(POD_NAME).etcd:2380',
    `--initial-cluster=${peers}`,
    '--initial-cluster-state=new',
    '--initial-cluster-token=harrier-etcd',
    '--auto-compaction-mode=revision',
    '--auto-compaction-retention=1000',
    '--quota-backend-bytes=4294967296',
  ]
}

export function minioArgs(members: number): string[] {
  return ['server', members === 1 ? '/data' : `http://minio-{0...${members - 1}}.minio/data`, '--console-address', ':9001']
}

export function natsArgs(members: number): string[] {
  const routes = Array.from({ length: members }, (_, i) => `nats://nats-${i}.nats:6222`).join(',')
  return ['--jetstream', '--store_dir=/data', '--server_name=$(POD_NAME)', '--http_port=8222', ...(members > 1 ? ['--cluster_name=harrier', '--cluster=nats://0.0.0.0:6222', `--routes=${routes}`] : [])]
}

export function harrierConfig(m: { etcd: number; nats: number }): Record<string, string> {
  return {
    HARRIER_ETCD: Array.from({ length: m.etcd }, (_, i) => `etcd-${i}.etcd:2379`).join(','),
    HARRIER_OBJECT_STORE: 's3://harrier/data?endpoint=http://minio-api:9000',
    HARRIER_WAL: `nats://${Array.from({ length: m.nats }, (_, i) => `nats-${i}.nats:4222`).join(',')}/harrier?replicas=${m.nats >= 3 ? 3 : 1}`,
    HARRIER_DML_CHANNELS: String(DEPLOY_DML_CHANNELS),
    HARRIER_HOST: '0.0.0.0',
    HARRIER_METRICS_PORT: String(METRICS_PORT),
    HARRIER_DATA_DIR: HARRIER_DATA_DIR,
  }
}

const POD_NAME_ENV = { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }

function statefulSet(name: string, o: { replicas: number; image: string; args: string[]; command?: string[]; ports: Record<string, number>; mount: string; storage: string; env?: Doc[]; readiness: Doc }): Doc {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, labels: labels(name) },
    spec: {
      serviceName: name,
      replicas: o.replicas,
      // All members start together: etcd, MinIO and NATS form their cluster from the full member list.
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: labels(name) },
      template: {
        metadata: { labels: labels(name) },
        spec: {
          containers: [
            {
              name,
              image: o.image,
              ...(o.command ? { command: o.command } : {}),
              args: o.args,
              env: [POD_NAME_ENV, ...(o.env ?? [])],
              ports: Object.entries(o.ports).map(([n, p]) => ({ name: n, containerPort: p })),
              volumeMounts: [{ name: 'data', mountPath: o.mount }],
              readinessProbe: { ...o.readiness, periodSeconds: 10, timeoutSeconds: 5 },
            },
          ],
        },
      },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: o.storage } } } }],
    },
  }
}

const S3_ENV: Doc[] = [
  { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 'harrier-s3', key: 'MINIO_ROOT_USER' } } },
  { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'harrier-s3', key: 'MINIO_ROOT_PASSWORD' } } },
]

function roleDeployment(role: HarrierRole, image: string, replicas: number): Doc {
  const name = role
  const withData = role === 'datanode' || role === 'querynode' || role === 'indexnode'
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { ...labels(name), 'app.kubernetes.io/component': role } },
    spec: {
      replicas,
      selector: { matchLabels: labels(name) },
      strategy: role === 'proxy' ? { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } : { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      template: {
        metadata: {
          labels: { ...labels(name), 'app.kubernetes.io/component': role },
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(METRICS_PORT), 'prometheus.io/path': '/metrics' },
        },
        spec: {
          securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
          terminationGracePeriodSeconds: 60,
          containers: [
            {
              name: role,
              image,
              args: ['run', role],
              envFrom: [{ configMapRef: { name: 'harrier-config' } }],
              env: [
                { name: 'HARRIER_PORT', value: String(ROLE_PORTS[role]) },
                { name: 'HARRIER_ADVERTISE_HOST', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                ...S3_ENV,
              ],
              ports: [
                { name: 'grpc', containerPort: ROLE_PORTS[role] },
                { name: 'metrics', containerPort: METRICS_PORT },
              ],
              // Ready = serving (/healthz 200); alive = the management port answers, even while waiting.
              readinessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 5, timeoutSeconds: 4, failureThreshold: 3 },
              livenessProbe: { tcpSocket: { port: 'metrics' }, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 6 },
              ...(withData ? { volumeMounts: [{ name: 'data', mountPath: HARRIER_DATA_DIR }] } : {}),
            },
          ],
          ...(withData ? { volumes: [{ name: 'data', emptyDir: {} }] } : {}),
        },
      },
    },
  }
}

function baseFiles(image: string, namespace: string): GeneratedFile[] {
  const etcd = [
    headless('etcd', { client: 2379, peer: 2380 }),
    statefulSet('etcd', {
      replicas: BASE_MEMBERS.etcd,
      image: DEFAULT_IMAGES.etcd,
      command: ['etcd'],
      args: etcdArgs(BASE_MEMBERS.etcd),
      ports: { client: 2379, peer: 2380 },
      mount: '/etcd-data',
      storage: '10Gi',
      readiness: { exec: { command: ['etcdctl', '--endpoints=http://127.0.0.1:2379', 'endpoint', 'health'] } },
    }),
  ]
  const minio = [
    headless('minio', { api: 9000, console: 9001 }),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'minio-api', labels: labels('minio') },
      spec: { selector: labels('minio'), ports: [{ name: 'api', port: 9000, targetPort: 9000 }] },
    },
    statefulSet('minio', {
      replicas: BASE_MEMBERS.minio,
      image: DEFAULT_IMAGES.minio,
      args: minioArgs(BASE_MEMBERS.minio),
      ports: { api: 9000, console: 9001 },
      mount: '/data',
      storage: '100Gi',
      env: [
        { name: 'MINIO_ROOT_USER', valueFrom: { secretKeyRef: { name: 'harrier-s3', key: 'MINIO_ROOT_USER' } } },
        { name: 'MINIO_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: 'harrier-s3', key: 'MINIO_ROOT_PASSWORD' } } },
        { name: 'MINIO_PROMETHEUS_AUTH_TYPE', value: 'public' },
      ],
      readiness: { httpGet: { path: '/minio/health/live', port: 9000 } },
    }),
  ]
  const nats = [
    headless('nats', { client: 4222, cluster: 6222, monitor: 8222 }),
    statefulSet('nats', {
      replicas: BASE_MEMBERS.nats,
      image: DEFAULT_IMAGES.nats,
      command: ['nats-server'],
      args: natsArgs(BASE_MEMBERS.nats),
      ports: { client: 4222, cluster: 6222, monitor: 8222 },
      mount: '/data',
      storage: '20Gi',
      readiness: { httpGet: { path: '/healthz?js-enabled-only=true', port: 8222 } },
    }),
  ]
  const harrier: Doc[] = BASE_ROLES.map((r) => roleDeployment(r, image, BASE_REPLICAS[r] ?? 1))
  harrier.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'proxy', labels: labels('proxy') },
    spec: {
      selector: labels('proxy'),
      ports: [
        { name: 'grpc', port: ROLE_PORTS.proxy, targetPort: 'grpc', appProtocol: 'grpc' },
        { name: 'metrics', port: METRICS_PORT, targetPort: 'metrics' },
      ],
    },
  })
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace,
    resources: ['namespace.yaml', 'etcd.yaml', 'minio.yaml', 'nats.yaml', 'harrier.yaml'],
    configMapGenerator: [{ name: 'harrier-config', literals: Object.entries(harrierConfig(BASE_MEMBERS)).map(([k, v]) => `${k}=${v}`) }],
    secretGenerator: [{ name: 'harrier-s3', envs: ['s3-credentials.env'] }],
  }
  const head = '# Generated by "harrier deploy k8s"; regenerate rather than edit.\n'
  return [
    { path: 'base/kustomization.yaml', content: head + stringify(kustomization, { lineWidth: 0 }) },
    { path: 'base/namespace.yaml', content: head + stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }) },
    { path: 'base/etcd.yaml', content: head + docs(etcd) },
    { path: 'base/minio.yaml', content: head + docs(minio) },
    { path: 'base/nats.yaml', content: head + docs(nats) },
    { path: 'base/harrier.yaml', content: head + docs(harrier) },
    {
      path: 'base/s3-credentials.env',
      content: '# Object store keys for MinIO and every Harrier role. CHANGE THEM before the first apply.\nMINIO_ROOT_USER=harrier\nMINIO_ROOT_PASSWORD=change-me-please\n',
    },
  ]
}

function smallOverlay(): GeneratedFile {
  const k = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: ['../../base'],
    patches: BASE_ROLES.map((r) => ({ target: { kind: 'Deployment', name: r }, patch: `- op: replace\n  path: /spec/replicas\n  value: 1\n` })),
  }
  return { path: 'overlays/small/kustomization.yaml', content: `# One replica of every Harrier role: a test cluster.\n${stringify(k, { lineWidth: 0 })}` }
}

/** Pods of one app spread one per node, on nodes labelled harrier.io/<service>=true. */
function placementPatch(kind: 'Deployment' | 'StatefulSet', name: string, service: string, replicas: number, extra: Doc = {}): Doc {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name },
    spec: {
      replicas,
      template: {
        spec: {
          nodeSelector: { [`${NODE_LABEL_PREFIX}${service}`]: 'true' },
          affinity: {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { 'app.kubernetes.io/name': name } }, topologyKey: 'kubernetes.io/hostname' }],
            },
          },
          ...extra,
        },
      },
    },
  }
}

function planOverlay(plan: HostPlan): GeneratedFile[] {
  const dir = `overlays/${plan.cluster.name}`
  const patches: Doc[] = []
  const roles = plannedRoles(plan)
  for (const r of BASE_ROLES) {
    // Separate coordinators are not in the base; a plan with them keeps mixcoord at the base count.
    if (!roles.includes(r)) continue
    patches.push(placementPatch('Deployment', r, r, hostsRunning(plan, r).length))
  }
  const count = (s: 'etcd' | 'minio' | 'nats') => hostsRunning(plan, s).length
  const members = { etcd: count('etcd'), minio: count('minio'), nats: count('nats') }
  const withArgs = (name: string, args: string[]) => ({ containers: [{ name, args }] })
  if (members.etcd > 0) patches.push(placementPatch('StatefulSet', 'etcd', 'etcd', members.etcd, withArgs('etcd', etcdArgs(members.etcd))))
  if (members.minio > 0) patches.push(placementPatch('StatefulSet', 'minio', 'minio', members.minio, withArgs('minio', minioArgs(members.minio))))
  if (members.nats > 0) patches.push(placementPatch('StatefulSet', 'nats', 'nats', members.nats, withArgs('nats', natsArgs(members.nats))))
  const k = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: ['../../base'],
    patches: [{ path: 'placement.yaml' }],
    configMapGenerator: [
      {
        name: 'harrier-config',
        behavior: 'merge',
        literals: Object.entries(harrierConfig({ etcd: members.etcd || BASE_MEMBERS.etcd, nats: members.nats || BASE_MEMBERS.nats })).map(([key, v]) => `${key}=${v}`),
      },
    ],
  }
  const script = [
    '#!/bin/sh',
    `# Generated by "harrier deploy k8s --plan ${plan.source}": labels the nodes the overlay selects.`,
    '# Node names are the plan\'s host names; run with kubectl pointed at the cluster.',
    'set -eu',
    ...plan.hosts.map((h) => {
      const l = [...Object.entries(h.labels).map(([key, v]) => `${key}=${v}`), ...h.services.map((s) => `${NODE_LABEL_PREFIX}${s}=true`)]
      return `kubectl label node ${shQuote(h.name)} --overwrite ${l.map(shQuote).join(' ')}  # ${h.address}`
    }),
    '',
  ].join('\n')
  const notes = roles.filter((r) => !BASE_ROLES.includes(r))
  return [
    { path: `${dir}/kustomization.yaml`, content: `# From ${plan.source}: replica and member counts, node placement.${notes.length ? `\n# Not in the Kubernetes base (placed as mixcoord): ${notes.join(', ')}` : ''}\n${stringify(k, { lineWidth: 0 })}` },
    { path: `${dir}/placement.yaml`, content: `# Generated from ${plan.source}\n${docs(patches)}` },
    { path: `${dir}/label-nodes.sh`, content: script, executable: true },
  ]
}

export function generateK8s(o: K8sOptions): GeneratedFile[] {
  const files = [...baseFiles(o.image, o.namespace), smallOverlay()]
  if (o.plan) files.push(...planOverlay(o.plan))
  files.push({
    path: 'README.md',
    content: `# Harrier on Kubernetes

Generated by \`harrier deploy k8s\`. Kustomize layout:

- \`base/\`: namespace \`${o.namespace}\`; etcd (3), MinIO (4, distributed) and NATS JetStream (3) as
  StatefulSets with headless Services; Deployments for mixcoord, proxy, datanode, querynode and
  indexnode; the \`proxy\` Service (gRPC ${ROLE_PORTS.proxy}, metrics ${METRICS_PORT}); ConfigMap
  \`harrier-config\` and Secret \`harrier-s3\` (edit \`base/s3-credentials.env\` first).
- \`overlays/small/\`: one replica of every Harrier role.${o.plan ? `\n- \`overlays/${o.plan.cluster.name}/\`: counts and node placement from \`${o.plan.source}\`; run \`label-nodes.sh\` first.` : ''}

\`\`\`sh
kubectl kustomize ${o.plan ? `overlays/${o.plan.cluster.name}` : 'overlays/small'}          # review
kubectl apply -k ${o.plan ? `overlays/${o.plan.cluster.name}` : 'overlays/small'}
kubectl -n ${o.namespace} get pods -w        # roles turn Ready once /healthz answers 200
kubectl -n ${o.namespace} port-forward svc/proxy ${ROLE_PORTS.proxy}:${ROLE_PORTS.proxy}
\`\`\`
Roles start in any order: each waits for etcd, MinIO and NATS (readiness stays false meanwhile; the
liveness probe only checks that port ${METRICS_PORT} answers, so waiting is not a crash loop).
Pods carry \`prometheus.io/scrape\` annotations for :${METRICS_PORT}/metrics.
`,
  })
  return files
}
