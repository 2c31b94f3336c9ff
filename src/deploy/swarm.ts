/**
 * `harrier deploy swarm`: a host plan becomes one Swarm stack (compose file format 3.8) plus
 * everything around it: node labels, nginx, Prometheus, the Grafana dashboard, host directories.
 *
 * Placement. Every service is constrained by node labels that labels.sh sets from the plan:
 * `harrier.host=<name>` on every host (pins one member of a stateful service, whose data lives on
 * that host) and `harrier.<service>=true` for each service a host runs (replicated stateless
 * roles: querynode with 5 replicas on the 5 hosts labelled harrier.querynode, one per node). The
 * plan's own labels (the reference guide's query1=true, ...) are applied too, for other tooling.
 *
 * Networking. Every service uses `endpoint_mode: dnsrr`: Swarm's VIP mode needs IPVS, which some
 * kernels lack (this project's CI kernel among them), and dnsrr also gives `tasks.<service>` one A
 * record per replica, which nginx and Prometheus use to reach each replica. Published ports use
 * `mode: host` (the ingress routing mesh needs VIPs too).
 *
 * Ordering. There is none to manage: Harrier roles wait for etcd, the object store and the broker,
 * and answer 503 on /healthz until they serve, so one `docker stack deploy` brings the stack up in
 * whatever order Swarm starts the tasks. That is what the reference guide (section 5.2) had to do
 * by hand with three stack files.
 */
import { invalid } from '../common/errors.js'
import { contentHash, type GeneratedFile, shQuote, yamlFile } from './files.js'
import { grafanaDashboard, grafanaProvisioning, harrierScrapeTarget, prometheusConfig, type ScrapeTarget } from './monitoring.js'
import { nginxConf } from './nginx.js'
import {
  type HarrierRole,
  type HostPlan,
  hostsRunning,
  type ImageName,
  type PlanHost,
  type PlanService,
  plannedRoles,
  ROLE_PORTS,
  walKind,
} from './plan.js'
import {
  cadvisorService,
  type ComposeService,
  type Endpoints,
  etcdMember,
  grafanaService,
  harrierService,
  kafkaMember,
  minioMember,
  natsMember,
  prometheusService,
  pulsarBookie,
  pulsarBroker,
  pulsarInit,
  pulsarZookeeper,
  S3_CREDENTIALS,
} from './services.js'

export const STACK_FILE = 'harrier-stack.yml'
/** The overlay network every service joins (Swarm names it <stack>_harrier). */
export const NETWORK = 'harrier'

/** Stateful services: one Swarm service per member, pinned to its host. */
const MEMBER_SERVICES = ['etcd', 'minio', 'nats', 'kafka', 'zookeeper', 'bookie', 'pulsar'] as const
type MemberService = (typeof MEMBER_SERVICES)[number]

/** Which roles keep a local data directory worth a volume (caches of segments and index files). */
const ROLES_WITH_DATA: readonly HarrierRole[] = ['datanode', 'querynode', 'indexnode']

/** Owners of data directories inside the images (for host-dirs.sh with bind mounts). */
const DIR_OWNER: Readonly<Record<string, string>> = { harrier: '1000:1000', prometheus: '65534:65534', grafana: '472:0' }

export interface Member {
  readonly service: string
  readonly host: PlanHost
}

/** Members of a stateful service, named <service><n> in plan order. */
export function members(plan: HostPlan, kind: MemberService): Member[] {
  return hostsRunning(plan, kind).map((host, i) => ({ service: `${kind}${i + 1}`, host }))
}

/** The labels labels.sh puts on each host: the plan's own, harrier.host and one per service. */
export function nodeLabels(plan: HostPlan): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>()
  for (const h of plan.hosts) {
    const labels: Record<string, string> = { ...h.labels, 'harrier.host': h.name }
    for (const s of h.services) labels[`harrier.${s}`] = 'true'
    out.set(h.name, labels)
  }
  return out
}

export function endpoints(plan: HostPlan): Endpoints {
  const etcd = members(plan, 'etcd').map((m) => `${m.service}:2379`).join(',')
  const objectStore = plan.cluster.objectStore ?? `s3://${plan.cluster.name}/data?endpoint=http://minio:9000`
  let wal: string
  switch (walKind(plan)) {
    case 'nats': {
      const nats = members(plan, 'nats')
      wal = `nats://${nats.map((m) => `${m.service}:4222`).join(',')}/${plan.cluster.name}?replicas=${nats.length >= 3 ? 3 : 1}`
      break
    }
    case 'kafka':
      wal = `kafka://${members(plan, 'kafka').map((m) => `${m.service}:9092`).join(',')}/${plan.cluster.name}`
      break
    case 'pulsar':
      wal = `pulsar://${members(plan, 'pulsar').map((m) => `${m.service}:6650`).join(',')}/${plan.cluster.name}`
      break
  }
  return { etcd, objectStore, wal }
}

interface StackBuild {
  readonly services: Record<string, ComposeService>
  readonly volumes: Record<string, Record<string, never>>
  readonly configs: Record<string, { name: string; file: string }>
  readonly files: GeneratedFile[]
  /** Host directories to create per host when dataRoot is set: [path, owner]. */
  readonly hostDirs: Map<string, [string, string][]>
}

/**
 * A named volume, or with cluster.dataRoot a bind mount of <dataRoot>/<cluster>/<name> that
 * host-dirs.sh creates on each of `hosts` (every host a replica may land on).
 */
function volumeFor(plan: HostPlan, b: StackBuild, name: string, hosts: readonly PlanHost[], owner: string): string {
  if (plan.cluster.dataRoot === undefined) {
    b.volumes[name] = {}
    return name
  }
  const path = `${plan.cluster.dataRoot}/${plan.cluster.name}/${name}`
  for (const host of hosts) {
    const dirs = b.hostDirs.get(host.name) ?? []
    dirs.push([path, owner])
    b.hostDirs.set(host.name, dirs)
  }
  return path
}

function swarmDeploy(placement: string[], extra: Record<string, unknown> = {}, maxReplicasPerNode?: number): Record<string, unknown> {
  return {
    endpoint_mode: 'dnsrr',
    ...extra,
    placement: { constraints: placement, ...(maxReplicasPerNode === undefined ? {} : { max_replicas_per_node: maxReplicasPerNode }) },
    restart_policy: { condition: 'any', delay: '5s', window: '60s' },
  }
}

function pinned(host: PlanHost): string[] {
  return [`node.labels.harrier.host == ${host.name}`]
}

function addConfig(b: StackBuild, key: string, cluster: string, path: string, content: string): void {
  b.files.push({ path, content })
  b.configs[key] = { name: `${cluster}_${key}_${contentHash(content)}`, file: `./${path}` }
}

function header(plan: HostPlan, what: string): string {
  return `${what}\nGenerated by "harrier deploy swarm" from ${plan.source}: edit the plan and regenerate rather than editing this file.`
}

export interface SwarmOutput {
  readonly files: GeneratedFile[]
  /** The stack as an object (what STACK_FILE holds), for tests and callers. */
  readonly stack: Record<string, unknown>
  readonly labels: Map<string, Record<string, string>>
}

export function generateSwarm(plan: HostPlan): SwarmOutput {
  const c = plan.cluster
  const b: StackBuild = { services: {}, volumes: {}, configs: {}, files: [], hostDirs: new Map() }
  const net = { [NETWORK]: {} }
  const ep = endpoints(plan)
  const img = (n: ImageName) => c.images[n]

  // Harrier roles: one replicated service per role, one replica per host that runs it.
  for (const role of plannedRoles(plan)) {
    const hosts = hostsRunning(plan, role)
    const svc = harrierService({
      image: c.image,
      role,
      endpoints: ep,
      // The task's container name: unique per replica and resolvable on the overlay network.
      advertiseHost: '{{.Task.Name}}',
      credentials: S3_CREDENTIALS,
      volume: ROLES_WITH_DATA.includes(role) ? volumeFor(plan, b, `${role}-data`, hosts, DIR_OWNER.harrier!) : undefined,
    })
    b.services[role] = {
      ...svc,
      networks: net,
      deploy: swarmDeploy(
        [`node.labels.harrier.${role} == true`],
        {
          mode: 'replicated',
          replicas: hosts.length,
          // A proxy drains while its replacement starts; memory-heavy workers stop first.
          update_config: { parallelism: 1, delay: '10s', order: role === 'proxy' ? 'start-first' : 'stop-first', failure_action: 'rollback' },
        },
        1,
      ),
    }
  }

  // etcd
  const etcd = members(plan, 'etcd')
  for (const m of etcd) {
    const vol = volumeFor(plan, b, `${m.service}-data`, [m.host], 'root')
    b.services[m.service] = { ...etcdMember(img('etcd'), m.service, etcd.map((e) => e.service), c.name, vol), networks: net, deploy: swarmDeploy(pinned(m.host)) }
  }

  // MinIO: every member also answers to "minio", so the S3 endpoint spreads over all of them.
  const minio = members(plan, 'minio')
  for (const m of minio) {
    const vol = volumeFor(plan, b, `${m.service}-data`, [m.host], 'root')
    b.services[m.service] = { ...minioMember(img('minio'), minio.length, vol, S3_CREDENTIALS), networks: { [NETWORK]: { aliases: ['minio'] } }, deploy: swarmDeploy(pinned(m.host)) }
  }

  // Log broker
  const nats = members(plan, 'nats')
  for (const m of nats) {
    const vol = volumeFor(plan, b, `${m.service}-data`, [m.host], 'root')
    b.services[m.service] = { ...natsMember(img('nats'), m.service, nats.map((n) => n.service), c.name, vol), networks: net, deploy: swarmDeploy(pinned(m.host)) }
  }
  const kafka = members(plan, 'kafka')
  kafka.forEach((m, i) => {
    const vol = volumeFor(plan, b, `${m.service}-data`, [m.host], '1000:1000')
    b.services[m.service] = { ...kafkaMember(img('kafka'), i, kafka.map((k) => k.service), c.name, vol), networks: net, deploy: swarmDeploy(pinned(m.host)) }
  })
  const zookeepers = members(plan, 'zookeeper')
  const bookies = members(plan, 'bookie')
  const brokers = members(plan, 'pulsar')
  for (const m of zookeepers) {
    const vol = volumeFor(plan, b, `${m.service}-data`, [m.host], '10000:0')
    b.services[m.service] = { ...pulsarZookeeper(img('pulsar'), m.service, zookeepers.map((z) => z.service), vol), networks: net, deploy: swarmDeploy(pinned(m.host)) }
  }
  for (const m of bookies) {
    const vol = volumeFor(plan, b, `${m.service}-data`, [m.host], '10000:0')
    b.services[m.service] = { ...pulsarBookie(img('pulsar'), m.service, zookeepers.map((z) => z.service), vol), networks: net, deploy: swarmDeploy(pinned(m.host)) }
  }
  if (brokers.length > 0) {
    b.services['pulsar-init'] = {
      ...pulsarInit(img('pulsar'), c.name, zookeepers.map((z) => z.service), brokers.map((p) => p.service)),
      networks: net,
      deploy: { ...swarmDeploy(pinned(zookeepers[0]!.host)), restart_policy: { condition: 'on-failure', delay: '10s' } },
    }
  }
  for (const m of brokers) {
    b.services[m.service] = { ...pulsarBroker(img('pulsar'), m.service, c.name, zookeepers.map((z) => z.service), bookies.length), networks: net, deploy: swarmDeploy(pinned(m.host)) }
  }

  // nginx on every host labelled for it, published on the host's own ports.
  const nginxText = nginxConf({
    grpcListen: c.ports.grpc,
    restListen: c.ports.rest,
    resolver: '127.0.0.11',
    grpcBackend: `tasks.proxy:${ROLE_PORTS.proxy}`,
    restBackend: `tasks.proxy:${ROLE_PORTS.proxy}`,
    header: header(plan, `nginx in front of the ${hostsRunning(plan, 'proxy').length} proxy replicas (service "proxy").`),
  })
  addConfig(b, 'nginx_conf', c.name, 'nginx/nginx.conf', nginxText)
  b.services.nginx = {
    image: img('nginx'),
    configs: [{ source: 'nginx_conf', target: '/etc/nginx/nginx.conf' }],
    ports: [
      { target: c.ports.grpc, published: c.ports.grpc, protocol: 'tcp', mode: 'host' },
      { target: c.ports.rest, published: c.ports.rest, protocol: 'tcp', mode: 'host' },
    ],
    healthcheck: { test: ['CMD', 'curl', '-fsS', `http://127.0.0.1:${c.ports.rest}/nginx-health`], interval: '10s', timeout: '5s', retries: 3, start_period: '10s' },
    networks: net,
    deploy: swarmDeploy(['node.labels.harrier.nginx == true'], { mode: 'global' }),
  }

  // cAdvisor on every node.
  b.services.cadvisor = {
    ...cadvisorService(img('cadvisor')),
    networks: net,
    deploy: { ...swarmDeploy(['node.platform.os == linux'], { mode: 'global' }), resources: { limits: { memory: '256M' } } },
  }

  // Prometheus and Grafana
  const prom = hostsRunning(plan, 'prometheus')[0]
  if (prom) {
    const targets: ScrapeTarget[] = plannedRoles(plan).map((r) => harrierScrapeTarget(r, `tasks.${r}`))
    targets.push({ job: 'cadvisor', dns: { name: 'tasks.cadvisor', port: 8080 } })
    targets.push({ job: 'etcd', static: etcd.map((m) => `${m.service}:2379`) })
    if (minio.length > 0) targets.push({ job: 'minio', metricsPath: '/minio/v2/metrics/cluster', static: ['minio:9000'] })
    if (brokers.length > 0) targets.push({ job: 'pulsar', static: brokers.map((m) => `${m.service}:8080`) })
    if (bookies.length > 0) targets.push({ job: 'bookie', static: bookies.map((m) => `${m.service}:8000`) })
    targets.push({ job: 'prometheus', static: ['127.0.0.1:9090'] })
    if (hostsRunning(plan, 'grafana').length > 0) targets.push({ job: 'grafana', static: ['grafana:3000'] })
    const promText = prometheusConfig({ targets, header: header(plan, 'Prometheus scrape configuration (NATS has no Prometheus endpoint of its own; use its /varz on :8222).') })
    addConfig(b, 'prometheus_yml', c.name, 'prometheus/prometheus.yml', promText)
    const vol = volumeFor(plan, b, 'prometheus-data', [prom], DIR_OWNER.prometheus!)
    b.services.prometheus = {
      ...prometheusService(img('prometheus'), vol),
      configs: [{ source: 'prometheus_yml', target: '/etc/prometheus/prometheus.yml' }],
      ports: [{ target: 9090, published: c.ports.prometheus, protocol: 'tcp', mode: 'host' }],
      networks: net,
      deploy: swarmDeploy(pinned(prom)),
    }
  }
  const graf = hostsRunning(plan, 'grafana')[0]
  if (graf) {
    const prov = grafanaProvisioning('http://prometheus:9090')
    addConfig(b, 'grafana_datasource', c.name, 'grafana/provisioning/datasources/harrier.yml', prov.datasources)
    addConfig(b, 'grafana_dashboards', c.name, 'grafana/provisioning/dashboards/harrier.yml', prov.dashboards)
    addConfig(b, 'grafana_dashboard_json', c.name, 'grafana/dashboards/harrier.json', `${JSON.stringify(grafanaDashboard(`Harrier (${c.name})`), null, 2)}\n`)
    const vol = volumeFor(plan, b, 'grafana-data', [graf], DIR_OWNER.grafana!)
    b.services.grafana = {
      ...grafanaService(img('grafana'), vol),
      configs: [
        { source: 'grafana_datasource', target: '/etc/grafana/provisioning/datasources/harrier.yml' },
        { source: 'grafana_dashboards', target: '/etc/grafana/provisioning/dashboards/harrier.yml' },
        { source: 'grafana_dashboard_json', target: '/var/lib/grafana/dashboards/harrier.json' },
      ],
      ports: [{ target: 3000, published: c.ports.grafana, protocol: 'tcp', mode: 'host' }],
      networks: net,
      deploy: swarmDeploy(pinned(graf)),
    }
  }

  const stack: Record<string, unknown> = {
    version: '3.8',
    services: b.services,
    networks: { [NETWORK]: { driver: 'overlay', attachable: true } },
    ...(Object.keys(b.volumes).length > 0 ? { volumes: b.volumes } : {}),
    ...(Object.keys(b.configs).length > 0 ? { configs: b.configs } : {}),
  }
  const labels = nodeLabels(plan)
  const files: GeneratedFile[] = [
    {
      path: STACK_FILE,
      content: yamlFile(
        header(plan, `Harrier stack "${c.name}": ${plan.hosts.length} hosts. Deploy with\n  docker stack deploy -c ${STACK_FILE} ${c.name}\n(see README.md: run labels.sh first, export the credentials).`),
        stack,
      ),
    },
    ...b.files,
    { path: 'labels.sh', content: labelsScript(plan, labels), executable: true },
    { path: 'host-dirs.sh', content: hostDirsScript(plan, b.hostDirs), executable: true },
    { path: 'README.md', content: readme(plan, b) },
  ]
  return { files, stack, labels }
}

function labelsScript(plan: HostPlan, labels: Map<string, Record<string, string>>): string {
  const lines = [
    '#!/bin/sh',
    `# ${header(plan, 'Puts the plan\'s node labels on the Swarm nodes (and promotes the planned managers).').split('\n').join('\n# ')}`,
    '# Run on a Swarm manager after every node has joined. Nodes are found by hostname (the plan\'s',
    '# name) or by address. Idempotent: run it again after changing the plan.',
    '#   sh labels.sh            apply',
    '#   sh labels.sh --dry-run  print the docker commands only',
    'set -eu',
    'DRY=""',
    '[ "${1:-}" = "--dry-run" ] && DRY=echo',
    '',
    '# node_id NAME ADDRESS: the node whose hostname is NAME, else the one whose address is ADDRESS.',
    'node_id() {',
    '  # shellcheck disable=SC2046',
    '  docker node inspect --format \'{{.ID}} {{.Description.Hostname}} {{.Status.Addr}} {{if .ManagerStatus}}{{.ManagerStatus.Addr}}{{end}}\' $(docker node ls -q) |',
    '    awk -v n="$1" -v a="$2" \'{ split($4, m, ":") } $2 == n || $3 == a || m[1] == a { print $1; found = 1; exit } END { exit !found }\' ||',
    '    { echo "labels.sh: no Swarm node named $1 or with address $2 (see docker node ls)" >&2; return 1; }',
    '}',
    '',
  ]
  for (const h of plan.hosts) {
    const l = labels.get(h.name)!
    const adds = Object.entries(l)
      .map(([k, v]) => `--label-add ${shQuote(`${k}=${v}`)}`)
      .join(' ')
    lines.push(`# ${h.name} (${h.address}): ${h.services.join(', ') || 'no services'}${h.description ? ` - ${h.description}` : ''}`)
    lines.push(`id=$(node_id ${shQuote(h.name)} ${shQuote(h.address)})`)
    if (h.manager) lines.push('$DRY docker node promote "$id"')
    lines.push(`$DRY docker node update ${adds} "$id"`)
  }
  lines.push('echo "labels.sh: labelled ' + plan.hosts.length + ' nodes"', '')
  return lines.join('\n')
}

function hostDirsScript(plan: HostPlan, dirs: Map<string, [string, string][]>): string {
  const lines = [
    '#!/bin/sh',
    `# ${header(plan, 'Creates the data directories of the services pinned to a host (bind mounts need them).').split('\n').join('\n# ')}`,
    `# Run on each host, as root, with the host's plan name:  sh host-dirs.sh ${plan.hosts[0]!.name}`,
    'set -eu',
    'case "${1:-}" in',
  ]
  for (const h of plan.hosts) {
    const d = dirs.get(h.name) ?? []
    lines.push(`  ${shQuote(h.name)})`)
    if (d.length === 0) lines.push('    : # nothing pinned here')
    for (const [p, owner] of d) lines.push(`    mkdir -p ${shQuote(p)} && chown ${owner} ${shQuote(p)}`)
    lines.push('    ;;')
  }
  lines.push(`  *) echo "usage: sh host-dirs.sh HOST (one of: ${plan.hosts.map((h) => h.name).join(' ')})" >&2; exit 2 ;;`, 'esac', '')
  if (plan.cluster.dataRoot === undefined) lines.splice(3, 0, '# The plan sets no cluster.dataRoot: data lives in Docker named volumes and nothing is needed here.')
  return lines.join('\n')
}

/** Which images each host needs (the reference guide's section 4.2.2, computed from the plan). */
export function imagesPerHost(plan: HostPlan): Map<string, string[]> {
  const c = plan.cluster
  const imageOf = (s: PlanService): string | undefined => {
    switch (s) {
      case 'etcd':
      case 'minio':
      case 'nats':
      case 'kafka':
      case 'nginx':
      case 'prometheus':
      case 'grafana':
        return c.images[s]
      case 'zookeeper':
      case 'bookie':
      case 'pulsar':
        return c.images.pulsar
      default:
        return c.image
    }
  }
  const out = new Map<string, string[]>()
  for (const h of plan.hosts) {
    const set = new Set<string>([c.images.cadvisor])
    for (const s of h.services) {
      const i = imageOf(s)
      if (i) set.add(i)
    }
    out.set(h.name, [...set].sort())
  }
  return out
}

function readme(plan: HostPlan, b: StackBuild): string {
  const c = plan.cluster
  const svcNames = Object.keys(b.services)
  const images = imagesPerHost(plan)
  const managers = plan.hosts.filter((h) => h.manager)
  const nginxHosts = hostsRunning(plan, 'nginx')
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`
  return `# Harrier on Docker Swarm: ${c.name}

Generated by \`harrier deploy swarm --plan ${plan.source}\`. Edit the plan and regenerate; do not
edit these files by hand. ${plan.hosts.length} hosts, ${svcNames.length} services.

## Files
| file | what |
|---|---|
| \`${STACK_FILE}\` | the whole stack (compose format 3.8): ${svcNames.join(', ')} |
| \`labels.sh\` | \`docker node update --label-add ...\` for every host (plus \`docker node promote\` for managers) |
| \`host-dirs.sh\` | creates the bind-mounted data directories on a host${c.dataRoot ? ` (under ${c.dataRoot})` : ' (nothing to do: named volumes)'} |
| \`nginx/nginx.conf\` | nginx on the managers: gRPC :${c.ports.grpc} and REST :${c.ports.rest} to every proxy replica |
| \`prometheus/prometheus.yml\` | scrape config: every Harrier role's :9091/metrics, cAdvisor, etcd, MinIO |
| \`grafana/\` | provisioning (data source, dashboard folder) and the Harrier dashboard JSON |

## Deploy
1. Install Docker on every host, \`docker swarm init --advertise-addr ${managers[0]?.address ?? '<manager address>'}\` on ${managers[0]?.name ?? 'a manager'}, and join the others
   (\`docker swarm join-token manager\` for ${managers.map((h) => h.name).join(', ')}, \`docker swarm join-token worker\` for the rest).
2. Load the images each host needs (below): \`docker load -i <file>.tar\` where no registry is reachable.
3. \`sh labels.sh\` on a manager (\`--dry-run\` prints the commands). Then \`sh host-dirs.sh <host>\` on each host.
4. Export the credentials and deploy, once:
   \`\`\`sh
   export MINIO_ROOT_USER=harrier MINIO_ROOT_PASSWORD='<8+ characters>'${hostsRunning(plan, 'grafana').length > 0 ? " GRAFANA_ADMIN_PASSWORD='<password>'" : ''}
   docker stack deploy -c ${STACK_FILE} ${c.name}
   \`\`\`
   No second or third stack file and no order to respect: every Harrier role waits for etcd, the object
   store and the log broker by itself and reports \`starting: waiting for ...\` on /healthz (HTTP 503)
   until it serves; Swarm's healthchecks call that endpoint. (The reference guide, section 5.2, split its
   stack in three and deployed them in order, because Swarm starts services without waiting for others.)
5. Watch: \`docker stack services ${c.name}\` (every line reaches its replica count), \`docker service ps ${c.name}_querynode\`.
   Clients connect to any nginx host: ${nginxHosts.map((h) => `${h.address}:${c.ports.grpc}`).join(', ')} (gRPC), port ${c.ports.rest} for REST.${hostsRunning(plan, 'grafana').length > 0 ? `\n   Grafana: http://${hostsRunning(plan, 'grafana')[0]!.address}:${c.ports.grafana} (admin / $GRAFANA_ADMIN_PASSWORD), dashboard "Harrier".` : ''}

## Scale and change
- More query nodes: add hosts with \`services: [querynode]\` to the plan, regenerate, \`sh labels.sh\`, and
  \`docker stack deploy\` again (replicas follow the number of labelled hosts, one per node). Harrier's
  query coordinator rebalances segments onto new nodes by itself.
- Configs (nginx, Prometheus, Grafana) are named after a hash of their content, so a changed file is a
  new Swarm config and a redeploy rolls the service; old configs can be removed with \`docker config prune\`.
- Remove: \`docker stack rm ${c.name}\` (volumes and host directories stay).

## Images per host
${row(['host', 'address', 'images'])}
${row(['---', '---', '---'])}
${plan.hosts.map((h) => row([h.name, h.address, images.get(h.name)!.join(', ')])).join('\n')}

## Services and placement
${row(['service', 'mode', 'placement'])}
${row(['---', '---', '---'])}
${svcNames
  .map((n) => {
    const d = b.services[n]!.deploy as { mode?: string; replicas?: number; placement: { constraints: string[] } }
    return row([n, d.mode === 'global' ? 'global' : `${d.replicas ?? 1} replica${(d.replicas ?? 1) === 1 ? '' : 's'}`, d.placement.constraints.map((x) => `\`${x}\``).join(', ')])
  })
  .join('\n')}
`
}

/** Checks a generated stack against the plan; used by tests and by `deploy swarm --check`. */
export function checkStack(plan: HostPlan, out: SwarmOutput): void {
  const services = out.stack.services as Record<string, { deploy?: { endpoint_mode?: string; placement?: { constraints?: string[] } } }>
  const labelSets = [...out.labels.values()]
  for (const [name, s] of Object.entries(services)) {
    if (s.deploy?.endpoint_mode !== 'dnsrr') throw invalid(`service ${name} is not endpoint_mode dnsrr`)
    const cons = s.deploy.placement?.constraints ?? []
    if (cons.length === 0) throw invalid(`service ${name} has no placement constraint`)
    for (const con of cons) {
      const m = /^node\.labels\.(\S+) == (\S+)$/.exec(con)
      if (!m) continue
      if (!labelSets.some((l) => l[m[1]!] === m[2])) throw invalid(`service ${name}: no host gets the label ${m[1]}=${m[2]}`)
    }
  }
}
