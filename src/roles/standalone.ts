/**
 * Standalone Harrier: every role in one process over the embedded adapters. This is the
 * composition root: the only place that opens adapters and wires roles together.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { GrpcServer } from '../access/grpc-server.js'
import { ManagementServer } from '../access/http-server.js'
import { Metrics } from '../access/metrics.js'
import { MilvusService } from '../access/milvus-service.js'
import { Catalog } from '../catalog/catalog.js'
import type { Logger } from '../common/log.js'
import { TsoAllocator } from '../common/tso.js'
import { RootCoord, type CoordHooks } from '../coord/root-coord.js'
import { openMetaStore, openObjectStore, openWalProvider, type MetaStore, type ObjectStore, type WalProvider } from '../infra/index.js'
import { IndexBuildPool } from '../index/index.js'
import { DataPlane, type RecoveryStats } from '../nodes/data-plane.js'
import { IndexService } from '../nodes/index-service.js'
import { DML_CHANNEL } from '../streaming/routing.js'
import type { StandaloneConfig } from './config.js'



export function harrierVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }
    return `v${pkg.version ?? '0.0.0'}-harrier`
  } catch {
    return 'v0.0.0-harrier'
  }
}

export interface Standalone {
  readonly grpcPort: number
  readonly metricsPort: number
  readonly recovery: RecoveryStats
  stop(): Promise<void>
}

export async function startStandalone(cfg: StandaloneConfig, log: Logger): Promise<Standalone> {
  mkdirSync(cfg.dataDir, { recursive: true })
  const closers: (() => Promise<void>)[] = []
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch((e: unknown) => log.warn({ err: e }, 'error while stopping'))
  }
  try {
    const meta: MetaStore = await openMetaStore(join(cfg.dataDir, 'meta'), { log })
    closers.push(() => meta.close())
    const objects: ObjectStore = await openObjectStore(join(cfg.dataDir, 'objects'), { log })
    closers.push(() => objects.close())
    const wals: WalProvider = await openWalProvider(join(cfg.dataDir, 'wal'), { log })
    closers.push(() => wals.close())
    const wal = await wals.open(DML_CHANNEL)
    closers.push(() => wal.close())

    const catalog = new Catalog(meta)
    await catalog.load()
    const tso = new TsoAllocator()
    const metrics = new Metrics()
    const data = new DataPlane({
      observer: metrics,
      catalog,
      objects,
      wal,
      tso,
      log: log.child({ role: 'datanode' }),
      config: { segmentMaxRows: cfg.segmentMaxRows, flushIntervalMs: cfg.flushIntervalMs, compactionIntervalMs: cfg.compactionIntervalMs },
    })
    const pool = new IndexBuildPool({ size: cfg.indexBuildThreads || undefined })
    const indexes = new IndexService({ catalog, objects, data, pool, log: log.child({ role: 'indexnode' }) })
    closers.push(() => indexes.close())
    const recovery = await data.recover()
    indexes.schedule()
    const hooks: CoordHooks = {
      addCollection: (info) => data.addCollection(info),
      updateCollection: (info) => data.updateCollection(info),
      dropCollection: (id, files) => data.dropCollection(id, files),
      load: (id) => data.load(id),
      loaded: async () => undefined,
      release: (id) => data.release(id),
      queryNodes: () => ({ count: 1, standalone: true }),
      schedule: () => indexes.schedule(),
      dropIndex: (id, index) => indexes.dropIndex(id, index),
    }
    const root = new RootCoord({ catalog, hooks, tso, log: log.child({ role: 'rootcoord' }) })
    await root.bootstrap()
    data.start()
    closers.push(async () => {
      await data.stop()
      // A clean stop persists growing data so the next start replays almost nothing.
      await data.flush().catch((e: unknown) => log.warn({ err: e }, 'final flush failed; the WAL still holds the data'))
    })

    metrics.setSegmentSource(() => data.segmentStats())
    const version = harrierVersion()
    const service = new MilvusService({ root, data, indexes, log: log.child({ role: 'proxy' }), metrics, version, deployMode: 'STANDALONE' })
    const grpc = new GrpcServer(service, { host: cfg.host, port: cfg.port })
    const grpcPort = await grpc.start()
    closers.push(() => grpc.stop())
    const mgmt = new ManagementServer({
      host: cfg.host,
      port: cfg.metricsPort,
      metrics,
      health: () => ({ healthy: true, detail: ['proxy', 'rootcoord', 'datacoord', 'querycoord', 'indexcoord', 'datanode', 'querynode', 'indexnode'].map((name) => ({ name, code: 'Healthy' })) }),
    })
    const metricsPort = await mgmt.start()
    closers.push(() => mgmt.stop())
    log.info(
      {
        grpc: `${cfg.host}:${grpcPort}`,
        metrics: `http://${cfg.host}:${metricsPort}/metrics`,
        dataDir: cfg.dataDir,
        recovered: recovery,
        version,
      },
      `Harrier standalone serving Milvus gRPC on ${cfg.host}:${grpcPort}, health/metrics on :${metricsPort}; recovered ${recovery.collections} collections, ${recovery.loadedRows} rows from segments and ${recovery.replayedRows} rows from the WAL in ${recovery.ms} ms`,
    )
    let stopped: Promise<void> | undefined
    return {
      grpcPort,
      metricsPort,
      recovery,
      stop: () => (stopped ??= closeAll()),
    }
  } catch (e) {
    await closeAll()
    throw e
  }
}
