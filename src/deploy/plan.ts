/**
 * The host plan: which machines exist, their Swarm node labels and what runs on each. Every
 * generator (Swarm, compose, Kubernetes overlays, sizing comparisons) reads this one model, so
 * the plan is validated once, here, with messages that name the host and the field.
 *
 * A plan is YAML:
 *
 *   cluster: { name: harrier, image: harrier:0.1.0, dataRoot: /mnt/data }
 *   hosts:
 *     - name: query1
 *       address: 29.16.21.64
 *       labels: { query1: "true" }
 *       resources: { cpus: 16, memory: 64GiB, disk: 100GB, dataDisk: 250GB }
 *       services: [querynode]
 */
import { parse as parseYaml } from 'yaml'
import { invalid } from '../common/errors.js'
import { parseBytes } from './units.js'

/** Harrier processes (`harrier run <role>`), each waiting for its dependencies and serving /healthz. */
export const HARRIER_ROLES = [
  'proxy',
  'mixcoord',
  'rootcoord',
  'datacoord',
  'querycoord',
  'indexcoord',
  'datanode',
  'querynode',
  'indexnode',
] as const
export type HarrierRole = (typeof HARRIER_ROLES)[number]

/** Third-party services a plan can place. cAdvisor is not listed: it runs on every node. */
export const INFRA_SERVICES = [
  'etcd',
  'minio',
  'nats',
  'kafka',
  'zookeeper',
  'bookie',
  'pulsar',
  'nginx',
  'prometheus',
  'grafana',
] as const
export type InfraService = (typeof INFRA_SERVICES)[number]
export type PlanService = HarrierRole | InfraService

export const SEPARATE_COORDS: readonly HarrierRole[] = ['rootcoord', 'datacoord', 'querycoord', 'indexcoord']

/** gRPC port of each role (Milvus's defaults where Milvus has the role). */
export const ROLE_PORTS: Readonly<Record<HarrierRole, number>> = {
  proxy: 19530,
  mixcoord: 53100,
  rootcoord: 53100,
  datacoord: 13333,
  querycoord: 19531,
  indexcoord: 31000,
  datanode: 21124,
  querynode: 21123,
  indexnode: 21121,
}
/** /healthz and /metrics of every role. */
export const METRICS_PORT = 9091

export type ImageName = 'etcd' | 'minio' | 'nats' | 'kafka' | 'pulsar' | 'nginx' | 'prometheus' | 'grafana' | 'cadvisor'

/**
 * Pinned third-party images. etcd, MinIO, Pulsar and cAdvisor are the versions of the reference
 * guide's image table (section 4.2.1); nginx is pinned rather than `latest` so a redeploy never
 * changes it silently.
 */
export const DEFAULT_IMAGES: Readonly<Record<ImageName, string>> = {
  etcd: 'quay.io/coreos/etcd:v3.5.5',
  minio: 'minio/minio:RELEASE.2023-03-20T20-16-18Z',
  nats: 'nats:2.10.22-alpine',
  kafka: 'apache/kafka:3.7.1',
  pulsar: 'apachepulsar/pulsar:3.1.0',
  nginx: 'nginx:1.27.3',
  prometheus: 'prom/prometheus:v2.53.3',
  grafana: 'grafana/grafana:10.4.14',
  cadvisor: 'gcr.io/cadvisor/cadvisor:v0.47.2',
}

export interface ClusterPorts {
  /** Milvus gRPC, published by nginx on its hosts. */
  readonly grpc: number
  /** REST (HTTP/1.1) through nginx to the proxies. */
  readonly rest: number
  readonly prometheus: number
  readonly grafana: number
}

export interface ClusterSettings {
  /** Stack name (`docker stack deploy ... <name>`), also the MinIO bucket and key prefixes. */
  readonly name: string
  /** The Harrier image every role runs. */
  readonly image: string
  readonly images: Readonly<Record<ImageName, string>>
  /** When set, service data goes to bind mounts under `<dataRoot>/harrier/<service>` on each host. */
  readonly dataRoot?: string
  /** An external S3 URL, for plans that place no MinIO. */
  readonly objectStore?: string
  readonly ports: ClusterPorts
  readonly description?: string
}

export interface HostResources {
  readonly cpus?: number
  readonly memoryBytes?: number
  readonly diskBytes?: number
  readonly dataDiskBytes?: number
}

export interface PlanHost {
  /** Short name (the Swarm node's hostname, or how the plan calls it); unique. */
  readonly name: string
  /** IP address or DNS name the node has in the Swarm; labels.sh finds nodes by it. */
  readonly address: string
  /** Node labels from the plan itself (e.g. the reference guide's `query1=true`), applied as-is. */
  readonly labels: Readonly<Record<string, string>>
  readonly manager: boolean
  readonly services: readonly PlanService[]
  readonly resources: HostResources
  readonly description?: string
}

export interface HostPlan {
  readonly cluster: ClusterSettings
  readonly hosts: readonly PlanHost[]
  /** Where the plan came from, for generated headers. */
  readonly source: string
}

export function isHarrierRole(s: string): s is HarrierRole {
  return (HARRIER_ROLES as readonly string[]).includes(s)
}

/** Hosts running a service, in plan order (member i of a stateful service is the i-th of these). */
export function hostsRunning(plan: HostPlan, service: PlanService): PlanHost[] {
  return plan.hosts.filter((h) => h.services.includes(service))
}

/** Harrier roles the plan places, in HARRIER_ROLES order. */
export function plannedRoles(plan: HostPlan): HarrierRole[] {
  return HARRIER_ROLES.filter((r) => plan.hosts.some((h) => h.services.includes(r)))
}

/** The log broker the plan runs for the WAL. */
export function walKind(plan: HostPlan): 'nats' | 'kafka' | 'pulsar' {
  if (hostsRunning(plan, 'kafka').length > 0) return 'kafka'
  if (hostsRunning(plan, 'pulsar').length > 0) return 'pulsar'
  return 'nats'
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
const LABEL_KEY_RE = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/
const ADDRESS_RE = /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$/

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function checkKeys(o: Obj, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw invalid(`${where}: unknown key ${JSON.stringify(k)} (known: ${allowed.join(', ')})`)
  }
}

function str(v: unknown, where: string): string {
  if (typeof v === 'number') return String(v)
  if (typeof v !== 'string' || v.trim() === '') throw invalid(`${where}: expected a non-empty string, got ${JSON.stringify(v)}`)
  return v.trim()
}

function port(v: unknown, where: string, dflt: number): number {
  if (v === undefined) return dflt
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw invalid(`${where}: expected a port 1-65535, got ${JSON.stringify(v)}`)
  return v
}

function parseLabels(v: unknown, where: string): Record<string, string> {
  if (v === undefined || v === null) return {}
  const entries: [string, string][] = []
  if (Array.isArray(v)) {
    // The reference guide writes labels as "query1=true"; a list of such strings reads naturally.
    for (const [i, item] of v.entries()) {
      const s = str(item, `${where}[${i}]`)
      const eq = s.indexOf('=')
      entries.push(eq < 0 ? [s, 'true'] : [s.slice(0, eq), s.slice(eq + 1)])
    }
  } else if (isObj(v)) {
    for (const [k, val] of Object.entries(v)) entries.push([k, typeof val === 'boolean' || typeof val === 'number' ? String(val) : str(val, `${where}.${k}`)])
  } else {
    throw invalid(`${where}: expected a mapping (query1: "true") or a list ("query1=true")`)
  }
  const out: Record<string, string> = {}
  for (const [k, val] of entries) {
    if (!LABEL_KEY_RE.test(k)) throw invalid(`${where}: label key ${JSON.stringify(k)} must be letters, digits, '.', '-' or '_'`)
    if (k.startsWith('harrier.')) throw invalid(`${where}: label ${k}: the harrier.* prefix is reserved for the labels the generator adds`)
    if (/[\s"'`$\\]/.test(val)) throw invalid(`${where}: label ${k} has a value with spaces, quotes, '$' or '\\': ${JSON.stringify(val)}`)
    if (k in out) throw invalid(`${where}: label ${k} is given twice`)
    out[k] = val
  }
  return out
}

function parseResources(v: unknown, where: string): HostResources {
  if (v === undefined || v === null) return {}
  if (!isObj(v)) throw invalid(`${where}: expected a mapping such as { cpus: 16, memory: 64GiB }`)
  checkKeys(v, ['cpus', 'memory', 'disk', 'dataDisk'], where)
  let cpus: number | undefined
  if (v.cpus !== undefined) {
    if (typeof v.cpus !== 'number' || !(v.cpus > 0)) throw invalid(`${where}.cpus: expected a positive number, got ${JSON.stringify(v.cpus)}`)
    cpus = v.cpus
  }
  const bytes = (key: string): number | undefined => {
    const raw = v[key]
    if (raw === undefined) return undefined
    if (typeof raw !== 'string' && typeof raw !== 'number') throw invalid(`${where}.${key}: expected a size such as 64GiB`)
    return parseBytes(raw, `${where}.${key}`)
  }
  return { cpus, memoryBytes: bytes('memory'), diskBytes: bytes('disk'), dataDiskBytes: bytes('dataDisk') }
}

function parseServices(v: unknown, where: string): PlanService[] {
  if (v === undefined || v === null) return []
  if (!Array.isArray(v)) throw invalid(`${where}: expected a list such as [querynode]`)
  const known: readonly string[] = [...HARRIER_ROLES, ...INFRA_SERVICES]
  const out: PlanService[] = []
  for (const [i, item] of v.entries()) {
    const s = str(item, `${where}[${i}]`)
    if (s === 'cadvisor') throw invalid(`${where}[${i}]: cadvisor runs on every node by itself; leave it out of the plan`)
    if (s === 'standalone') throw invalid(`${where}[${i}]: standalone is not a cluster role (use "harrier deploy compose" for one process)`)
    if (!known.includes(s)) throw invalid(`${where}[${i}]: unknown service ${JSON.stringify(s)} (known: ${known.join(', ')})`)
    if (out.includes(s as PlanService)) throw invalid(`${where}: ${s} is listed twice`)
    out.push(s as PlanService)
  }
  return out
}

function parseHost(v: unknown, i: number, file: string): PlanHost {
  const at = `${file}: hosts[${i}]`
  if (!isObj(v)) throw invalid(`${at}: expected a mapping with name, address and services`)
  const where = typeof v.name === 'string' ? `${at} (${v.name})` : at
  checkKeys(v, ['name', 'address', 'labels', 'manager', 'services', 'resources', 'description'], where)
  if (v.name === undefined) throw invalid(`${where}: name is required`)
  const name = str(v.name, `${where}.name`)
  if (!NAME_RE.test(name)) throw invalid(`${where}.name: ${JSON.stringify(name)} must be lower-case letters, digits and '-' (a DNS label)`)
  if (v.address === undefined) throw invalid(`${where}: address is required`)
  const address = str(v.address, `${where}.address`)
  if (!ADDRESS_RE.test(address)) throw invalid(`${where}.address: ${JSON.stringify(address)} is not an IP address or host name`)
  if (v.manager !== undefined && typeof v.manager !== 'boolean') throw invalid(`${where}.manager: expected true or false`)
  return {
    name,
    address,
    labels: parseLabels(v.labels, `${where}.labels`),
    manager: v.manager === true,
    services: parseServices(v.services, `${where}.services`),
    resources: parseResources(v.resources, `${where}.resources`),
    description: v.description === undefined ? undefined : str(v.description, `${where}.description`),
  }
}

function parseCluster(v: unknown, file: string, harrierImage: string): ClusterSettings {
  const where = `${file}: cluster`
  if (v !== undefined && v !== null && !isObj(v)) throw invalid(`${where}: expected a mapping`)
  const c: Obj = isObj(v) ? v : {}
  checkKeys(c, ['name', 'image', 'images', 'dataRoot', 'objectStore', 'ports', 'description'], where)
  const name = c.name === undefined ? 'harrier' : str(c.name, `${where}.name`)
  // It is also the S3 bucket name: 3-63 characters there, kept short here for volume and config names.
  if (!/^[a-z][a-z0-9-]{1,29}[a-z0-9]$/.test(name)) throw invalid(`${where}.name: ${JSON.stringify(name)} must be 3-31 lower-case letters, digits or '-', starting with a letter: it names the stack and the bucket`)
  const images: Record<ImageName, string> = { ...DEFAULT_IMAGES }
  if (c.images !== undefined) {
    if (!isObj(c.images)) throw invalid(`${where}.images: expected a mapping such as { nginx: nginx:1.27.3 }`)
    checkKeys(c.images, Object.keys(DEFAULT_IMAGES), `${where}.images`)
    for (const [k, img] of Object.entries(c.images)) images[k as ImageName] = str(img, `${where}.images.${k}`)
  }
  let dataRoot: string | undefined
  if (c.dataRoot !== undefined) {
    dataRoot = str(c.dataRoot, `${where}.dataRoot`).replace(/\/+$/, '')
    if (!dataRoot.startsWith('/') || /[\s"'$\\]/.test(dataRoot)) throw invalid(`${where}.dataRoot: expected an absolute path without spaces or quotes, got ${JSON.stringify(c.dataRoot)}`)
  }
  let objectStore: string | undefined
  if (c.objectStore !== undefined) {
    objectStore = str(c.objectStore, `${where}.objectStore`)
    if (!objectStore.startsWith('s3://')) throw invalid(`${where}.objectStore: expected an s3://bucket[/prefix]?endpoint=... URL, got ${JSON.stringify(objectStore)}`)
  }
  const p: Obj = c.ports === undefined ? {} : isObj(c.ports) ? c.ports : {}
  if (c.ports !== undefined && !isObj(c.ports)) throw invalid(`${where}.ports: expected a mapping`)
  checkKeys(p, ['grpc', 'rest', 'prometheus', 'grafana'], `${where}.ports`)
  const ports: ClusterPorts = {
    grpc: port(p.grpc, `${where}.ports.grpc`, 19530),
    rest: port(p.rest, `${where}.ports.rest`, 8080),
    prometheus: port(p.prometheus, `${where}.ports.prometheus`, 9090),
    grafana: port(p.grafana, `${where}.ports.grafana`, 3000),
  }
  const published = Object.entries(ports)
  for (const [k, n] of published) {
    const other = published.find(([k2, n2]) => k2 !== k && n2 === n)
    if (other) throw invalid(`${where}.ports: ${k} and ${other[0]} are both ${n}`)
  }
  return {
    name,
    image: c.image === undefined ? harrierImage : str(c.image, `${where}.image`),
    images,
    dataRoot,
    objectStore,
    ports,
    description: c.description === undefined ? undefined : str(c.description, `${where}.description`),
  }
}

export interface ParsePlanOptions {
  /** Harrier image when the plan names none (the CLI passes `harrier:<version>`). */
  readonly defaultImage?: string
}

/** Parses and validates a host plan. @throws DbError('ParameterInvalid') naming the file, host and field. */
export function parsePlan(text: string, source: string, opts: ParsePlanOptions = {}): HostPlan {
  let doc: unknown
  try {
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true })
  } catch (e) {
    throw invalid(`${source}: not valid YAML: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (!isObj(doc)) throw invalid(`${source}: expected a mapping with cluster and hosts`)
  checkKeys(doc, ['cluster', 'hosts'], source)
  if (!Array.isArray(doc.hosts) || doc.hosts.length === 0) throw invalid(`${source}: hosts must be a non-empty list`)
  const cluster = parseCluster(doc.cluster, source, opts.defaultImage ?? 'harrier:latest')
  const hosts = doc.hosts.map((h, i) => parseHost(h, i, source))
  const plan: HostPlan = { cluster, hosts, source }
  validatePlan(plan)
  return plan
}

/** Cross-host rules: unique names, quorum sizes, one WAL broker, every role present. */
export function validatePlan(plan: HostPlan): void {
  const src = plan.source
  const seen = new Map<string, string>()
  for (const h of plan.hosts) {
    for (const [kind, key] of [
      ['name', h.name],
      ['address', h.address],
    ] as const) {
      const prev = seen.get(`${kind}:${key}`)
      if (prev !== undefined) throw invalid(`${src}: hosts ${prev} and ${h.name} have the same ${kind} ${key}`)
      seen.set(`${kind}:${key}`, h.name)
    }
  }
  const count = (s: PlanService) => hostsRunning(plan, s).length
  const names = (s: PlanService) => hostsRunning(plan, s).map((h) => h.name).join(', ')
  if (!plan.hosts.some((h) => h.manager)) throw invalid(`${src}: no host has manager: true; a Swarm needs at least one manager node`)
  for (const role of ['proxy', 'datanode', 'querynode', 'indexnode'] as const) {
    if (count(role) === 0) throw invalid(`${src}: no host runs ${role}; every cluster needs at least one`)
  }
  const separate = SEPARATE_COORDS.filter((r) => count(r) > 0)
  if (count('mixcoord') > 0 && separate.length > 0) throw invalid(`${src}: the plan runs mixcoord and also ${separate.join(', ')}; use either mixcoord (all coordinators in one process) or the four separate coordinators`)
  if (count('mixcoord') === 0) {
    const missing = SEPARATE_COORDS.filter((r) => count(r) === 0)
    if (missing.length > 0) throw invalid(`${src}: no host runs mixcoord, and ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing; place mixcoord or all four coordinators`)
  }
  const etcd = count('etcd')
  if (etcd === 0) throw invalid(`${src}: no host runs etcd (the meta store)`)
  if (etcd % 2 === 0) throw invalid(`${src}: etcd runs on ${etcd} hosts (${names('etcd')}); use an odd number (1, 3, 5) so a majority survives a failure`)
  const minio = count('minio')
  if (minio === 0 && plan.cluster.objectStore === undefined) throw invalid(`${src}: no host runs minio and cluster.objectStore is not set; place MinIO or give an external s3:// URL`)
  if (minio > 0 && plan.cluster.objectStore !== undefined) throw invalid(`${src}: cluster.objectStore is set and hosts ${names('minio')} run minio; choose one object store`)
  if (minio > 1 && minio < 4) throw invalid(`${src}: minio runs on ${minio} hosts (${names('minio')}); distributed MinIO needs at least 4 drives, so use 1 host or 4 or more`)
  const brokers = (['nats', 'kafka', 'pulsar'] as const).filter((b) => count(b) > 0)
  if (brokers.length === 0) throw invalid(`${src}: no host runs a log broker for the WAL (nats, kafka or pulsar)`)
  if (brokers.length > 1) throw invalid(`${src}: the plan runs ${brokers.join(' and ')}; the WAL uses one log broker`)
  if (brokers[0] === 'pulsar') {
    if (count('zookeeper') === 0) throw invalid(`${src}: pulsar needs zookeeper on at least one host`)
    if (count('bookie') === 0) throw invalid(`${src}: pulsar needs bookie (BookKeeper) on at least one host`)
    if (count('zookeeper') % 2 === 0) throw invalid(`${src}: zookeeper runs on ${count('zookeeper')} hosts; use an odd number`)
  } else {
    for (const s of ['zookeeper', 'bookie'] as const) {
      if (count(s) > 0) throw invalid(`${src}: ${s} is only for Pulsar, but the WAL broker is ${brokers[0]} (hosts ${names(s)})`)
    }
  }
  if (brokers[0] === 'kafka' && count('kafka') % 2 === 0) throw invalid(`${src}: kafka (KRaft) runs on ${count('kafka')} hosts; use an odd number of controllers`)
  if (count('nginx') === 0) throw invalid(`${src}: no host runs nginx; clients reach the proxies through it (gRPC ${plan.cluster.ports.grpc}, REST ${plan.cluster.ports.rest})`)
  for (const s of ['prometheus', 'grafana'] as const) {
    if (count(s) > 1) throw invalid(`${src}: ${s} runs on ${count(s)} hosts (${names(s)}); place it on one`)
  }
  if (count('grafana') > 0 && count('prometheus') === 0) throw invalid(`${src}: grafana needs prometheus (its data source)`)
}
