/**
 * Compose-format service definitions shared by the Swarm stack and the docker-compose files:
 * Harrier roles, etcd, MinIO, NATS JetStream, Kafka (KRaft), Pulsar, cAdvisor, Prometheus and
 * Grafana. Swarm-only keys (deploy.placement, endpoint_mode) are added by the Swarm generator.
 *
 * Values that contain `$` would be interpolated by `docker stack deploy`, so commands here never
 * use shell variables; credentials are `${VAR:?message}` references resolved at deploy time.
 */
import { type HarrierRole, METRICS_PORT, ROLE_PORTS } from './plan.js'

export type ComposeService = Record<string, unknown>

/** A `/healthz` probe for images without curl: Node 20's fetch, exit 0 only on a 2xx answer. */
export const HARRIER_HEALTHCHECK_SCRIPT = `fetch('http://127.0.0.1:${METRICS_PORT}/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`

export const NODE_BIN = '/usr/local/bin/node'

/**
 * Roles wait for etcd, the object store and the broker themselves and answer 500 on /healthz until
 * they serve. The start period covers that wait; after it, 6 failed checks 10 s apart (a minute)
 * make Swarm replace the task.
 */
export function harrierHealthcheck(): Record<string, unknown> {
  return {
    test: ['CMD', NODE_BIN, '-e', HARRIER_HEALTHCHECK_SCRIPT],
    interval: '10s',
    timeout: '5s',
    retries: 6,
    start_period: '120s',
  }
}

export interface Credentials {
  readonly user: string
  readonly password: string
}

/** Deploy-time variables: `docker stack deploy` refuses to run until they are exported. */
export const S3_CREDENTIALS: Credentials = {
  user: '${MINIO_ROOT_USER:?export MINIO_ROOT_USER (object store access key)}',
  password: '${MINIO_ROOT_PASSWORD:?export MINIO_ROOT_PASSWORD (object store secret key, 8+ characters)}',
}

export interface Endpoints {
  /** etcd endpoints, "etcd1:2379,etcd2:2379". */
  readonly etcd: string
  /** s3://bucket/prefix?endpoint=... */
  readonly objectStore: string
  /** nats://..., kafka://... or pulsar://... */
  readonly wal: string
}

export interface HarrierServiceOptions {
  readonly image: string
  readonly role: HarrierRole
  readonly endpoints: Endpoints
  /** What peers dial to reach this process (a Swarm template, a service name or a pod IP). */
  readonly advertiseHost: string
  readonly credentials: Credentials
  readonly volume?: string
}

export const HARRIER_DATA_DIR = '/var/lib/harrier'

/**
 * WAL channels of a generated cluster: enough to spread writes over up to four data nodes (each
 * collection is written through one channel). Milvus defaults to 16; the count is fixed when the
 * cluster first starts, so raise it before then for more data nodes.
 */
export const DEPLOY_DML_CHANNELS = 4

export function harrierEnvironment(o: Omit<HarrierServiceOptions, 'image' | 'volume'>): Record<string, string> {
  return {
    HARRIER_ETCD: o.endpoints.etcd,
    HARRIER_OBJECT_STORE: o.endpoints.objectStore,
    HARRIER_WAL: o.endpoints.wal,
    HARRIER_DML_CHANNELS: String(DEPLOY_DML_CHANNELS),
    HARRIER_HOST: '0.0.0.0',
    HARRIER_ADVERTISE_HOST: o.advertiseHost,
    HARRIER_PORT: String(ROLE_PORTS[o.role]),
    HARRIER_METRICS_PORT: String(METRICS_PORT),
    HARRIER_DATA_DIR: HARRIER_DATA_DIR,
    AWS_ACCESS_KEY_ID: o.credentials.user,
    AWS_SECRET_ACCESS_KEY: o.credentials.password,
  }
}

export function harrierService(o: HarrierServiceOptions): ComposeService {
  return {
    image: o.image,
    command: ['run', o.role],
    environment: harrierEnvironment(o),
    ...(o.volume ? { volumes: [`${o.volume}:${HARRIER_DATA_DIR}`] } : {}),
    healthcheck: harrierHealthcheck(),
    stop_grace_period: '60s',
  }
}

/** One etcd member of a static cluster whose members are `names` (service names = DNS names). */
export function etcdMember(image: string, name: string, names: readonly string[], cluster: string, volume: string): ComposeService {
  return {
    image,
    command: [
      'etcd',
      `--name=${name}`,
      '--data-dir=/etcd-data',
      '--listen-client-urls=http://0.0.0.0:2379',
      `--advertise-client-urls=http://${name}:2379`,
      '--listen-peer-urls=http://0.0.0.0:2380',
      `--initial-advertise-peer-urls=http://${name}:2380`,
      `--initial-cluster=${names.map((n) => `${n}=http://${n}:2380`).join(',')}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${cluster}-etcd`,
      // Milvus's settings: compact old revisions, 4 GiB quota, snapshots every 50k writes.
      '--auto-compaction-mode=revision',
      '--auto-compaction-retention=1000',
      '--quota-backend-bytes=4294967296',
      '--snapshot-count=50000',
    ],
    environment: { ETCDCTL_API: '3' },
    volumes: [`${volume}:/etcd-data`],
    healthcheck: { test: ['CMD', 'etcdctl', '--endpoints=http://127.0.0.1:2379', 'endpoint', 'health'], interval: '15s', timeout: '10s', retries: 5, start_period: '30s' },
  }
}

/**
 * One MinIO server. With 4+ members every one runs `server http://minio{1...N}:9000/data`
 * (MinIO's ellipsis syntax), i.e. distributed erasure-coded storage over all of them.
 */
export function minioMember(image: string, memberCount: number, volume: string, credentials: Credentials): ComposeService {
  const drives = memberCount === 1 ? '/data' : `http://minio{1...${memberCount}}:9000/data`
  return {
    image,
    command: ['server', drives, '--console-address', ':9001'],
    environment: {
      MINIO_ROOT_USER: credentials.user,
      MINIO_ROOT_PASSWORD: credentials.password,
      // Lets Prometheus scrape /minio/v2/metrics/cluster without a bearer token.
      MINIO_PROMETHEUS_AUTH_TYPE: 'public',
    },
    volumes: [`${volume}:/data`],
    healthcheck: { test: ['CMD', 'curl', '-fsS', 'http://127.0.0.1:9000/minio/health/live'], interval: '15s', timeout: '10s', retries: 5, start_period: '30s' },
  }
}

/** One NATS server with JetStream on disk; with several, a cluster routed to all of them. */
export function natsMember(image: string, name: string, names: readonly string[], cluster: string, volume: string): ComposeService {
  const clustered = names.length > 1
  return {
    image,
    command: [
      'nats-server',
      '--jetstream',
      '--store_dir=/data',
      `--server_name=${name}`,
      '--http_port=8222',
      ...(clustered ? [`--cluster_name=${cluster}`, '--cluster=nats://0.0.0.0:6222', `--routes=${names.map((n) => `nats://${n}:6222`).join(',')}`] : []),
    ],
    volumes: [`${volume}:/data`],
    healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8222/healthz?js-enabled-only=true'], interval: '10s', timeout: '5s', retries: 5, start_period: '20s' },
  }
}

/** A stable 22-character KRaft cluster id derived from the stack name (Kafka wants base64 of 16 bytes). */
export function kraftClusterId(cluster: string): string {
  const bytes = Buffer.alloc(16)
  Buffer.from(`harrier-${cluster}`).copy(bytes)
  return bytes.toString('base64url').slice(0, 22)
}

/** One Kafka broker+controller (KRaft, no ZooKeeper), node id = 1-based member number. */
export function kafkaMember(image: string, index: number, names: readonly string[], cluster: string, volume: string): ComposeService {
  const n = names.length
  const name = names[index]!
  return {
    image,
    environment: {
      CLUSTER_ID: kraftClusterId(cluster),
      KAFKA_NODE_ID: String(index + 1),
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${name}:9092`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: names.map((m, i) => `${i + 1}@${m}:9093`).join(','),
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: String(Math.min(3, n)),
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: String(Math.min(3, n)),
      KAFKA_DEFAULT_REPLICATION_FACTOR: String(Math.min(3, n)),
      KAFKA_MIN_INSYNC_REPLICAS: n >= 3 ? '2' : '1',
      KAFKA_LOG_DIRS: '/var/lib/kafka/data',
    },
    volumes: [`${volume}:/var/lib/kafka/data`],
  }
}

/** Pulsar's ZooKeeper, BookKeeper and broker processes (image apachepulsar/pulsar). */
export function pulsarZookeeper(image: string, name: string, names: readonly string[], volume: string): ComposeService {
  return {
    image,
    hostname: name,
    command: ['sh', '-c', 'bin/apply-config-from-env.py conf/zookeeper.conf && bin/generate-zookeeper-config.sh conf/zookeeper.conf && exec bin/pulsar zookeeper'],
    environment: { ZOOKEEPER_SERVERS: names.join(','), PULSAR_MEM: '-Xms512m -Xmx512m' },
    volumes: [`${volume}:/pulsar/data/zookeeper`],
    healthcheck: { test: ['CMD', 'bin/pulsar-zookeeper-ruok.sh'], interval: '15s', timeout: '10s', retries: 5, start_period: '60s' },
  }
}

export function pulsarBookie(image: string, name: string, zookeepers: readonly string[], volume: string): ComposeService {
  return {
    image,
    hostname: name,
    command: ['sh', '-c', 'bin/apply-config-from-env.py conf/bookkeeper.conf && exec bin/pulsar bookie'],
    environment: {
      zkServers: zookeepers.map((z) => `${z}:2181`).join(','),
      metadataServiceUri: `metadata-store:zk:${zookeepers.map((z) => `${z}:2181`).join(',')}/ledgers`,
      advertisedAddress: name,
      journalDirectory: '/pulsar/data/bookkeeper/journal',
      ledgerDirectories: '/pulsar/data/bookkeeper/ledgers',
      PULSAR_MEM: '-Xms2g -Xmx2g -XX:MaxDirectMemorySize=2g',
    },
    volumes: [`${volume}:/pulsar/data/bookkeeper`],
  }
}

/** Creates the cluster metadata once; loops until it exists, so it can start before ZooKeeper. */
export function pulsarInit(image: string, cluster: string, zookeepers: readonly string[], brokers: readonly string[]): ComposeService {
  const zk = zookeepers.map((z) => `${z}:2181`).join(',')
  const b = brokers[0]!
  return {
    image,
    command: [
      'sh',
      '-c',
      `until bin/pulsar zookeeper-shell -server ${zk} get /admin/clusters/${cluster} >/dev/null 2>&1 || bin/pulsar initialize-cluster-metadata --cluster ${cluster} --metadata-store zk:${zk} --configuration-metadata-store zk:${zk} --web-service-url http://${b}:8080 --broker-service-url pulsar://${b}:6650; do sleep 5; done`,
    ],
  }
}

export function pulsarBroker(image: string, name: string, cluster: string, zookeepers: readonly string[], bookies: number): ComposeService {
  const zk = `zk:${zookeepers.map((z) => `${z}:2181`).join(',')}`
  return {
    image,
    hostname: name,
    command: ['sh', '-c', 'bin/apply-config-from-env.py conf/broker.conf && exec bin/pulsar broker'],
    environment: {
      metadataStoreUrl: zk,
      configurationMetadataStoreUrl: zk,
      clusterName: cluster,
      advertisedAddress: name,
      managedLedgerDefaultEnsembleSize: String(Math.min(3, bookies)),
      managedLedgerDefaultWriteQuorum: String(Math.min(3, bookies)),
      managedLedgerDefaultAckQuorum: String(Math.min(2, bookies)),
      PULSAR_MEM: '-Xms2g -Xmx2g -XX:MaxDirectMemorySize=4g',
    },
    healthcheck: { test: ['CMD', 'bin/pulsar-admin', 'brokers', 'healthcheck'], interval: '30s', timeout: '20s', retries: 5, start_period: '120s' },
  }
}

/** cAdvisor with the read-only host mounts it needs to see every container on its node. */
export function cadvisorService(image: string): ComposeService {
  return {
    image,
    command: ['-docker_only=true', '-housekeeping_interval=10s', '-store_container_labels=false', '-whitelisted_container_labels=com.docker.swarm.service.name,com.docker.stack.namespace'],
    volumes: ['/:/rootfs:ro', '/var/run:/var/run:ro', '/sys:/sys:ro', '/var/lib/docker/:/var/lib/docker:ro', '/dev/disk/:/dev/disk:ro'],
  }
}

export function prometheusService(image: string, volume: string, retention = '15d'): ComposeService {
  return {
    image,
    command: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', `--storage.tsdb.retention.time=${retention}`, '--web.enable-lifecycle'],
    volumes: [`${volume}:/prometheus`],
    healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:9090/-/ready'], interval: '15s', timeout: '5s', retries: 5, start_period: '30s' },
  }
}

export function grafanaService(image: string, volume: string): ComposeService {
  return {
    image,
    environment: { GF_AUTH_ANONYMOUS_ENABLED: 'false', GF_SECURITY_ADMIN_PASSWORD: '${GRAFANA_ADMIN_PASSWORD:?export GRAFANA_ADMIN_PASSWORD}', GF_USERS_ALLOW_SIGN_UP: 'false' },
    volumes: [`${volume}:/var/lib/grafana`],
    healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:3000/api/health'], interval: '15s', timeout: '5s', retries: 5, start_period: '30s' },
  }
}
