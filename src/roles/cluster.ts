/**
 * Cluster roles, one per process: composition roots over etcd (MetaStore), an S3 object store and
 * a log broker (WAL). Each role starts in any order: it serves /healthz at once ("starting:
 * waiting for etcd at ..."), waits with backoff for what it needs, registers a session under a
 * lease, and only then serves. The same role classes as standalone do the work; only the wiring
 * differs:
 *
 *   mixcoord   elected (one active, the rest standby); DDL, IDs, load/release, index metadata
 *   datanode   elected owner of the WAL channel: opens it with a new term (fencing the previous
 *              owner), recovers from catalog + segments + WAL, takes writes, flushes, compacts;
 *              its catalog commits carry the election as a guard, so a revived old owner cannot commit
 *   querynode  follows the catalog and the WAL as a replica; serves search/query
 *   indexnode  builds index files for flushed segments; tasks claimed under its lease
 *   proxy      stateless router (see cluster/proxy-router.ts)
 */
import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { GrpcServer, type GrpcServerOptions } from '../access/grpc-server.js'
import { ManagementServer } from '../access/http-server.js'
import { Metrics } from '../access/metrics.js'
import { MilvusService } from '../access/milvus-service.js'
import { Catalog, type CatalogChange } from '../catalog/catalog.js'
import { ClusterView, ELECTION_PREFIX, Session, waitFor, type RoleName, type SessionInfo } from '../cluster/session.js'
import { ProxyRouter } from '../cluster/proxy-router.js'
import { PlacementView, QueryCoord, segmentOwner, servingNodes } from '../cluster/query-coord.js'
import { ShareClient, shareService } from '../cluster/share-rpc.js'
import { RemoteQuery } from '../cluster/remote-query.js'
import type { CollectionInfo } from '../catalog/model.js'
import { primaryField } from '../schema/types.js'
import { DbError } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import { TsoAllocator } from '../common/tso.js'
import { RootCoord, type CoordHooks } from '../coord/root-coord.js'
import { openMetaStore, openObjectStore, openWalProvider, type Compare, type MetaStore, type ObjectStore, type Wal, type WalProvider, type WalReader } from '../infra/index.js'
import { IndexBuildPool } from '../index/index.js'
import { ChannelSet } from '../nodes/channel-set.js'
import { DataPlane } from '../nodes/data-plane.js'
import { IndexService } from '../nodes/index-service.js'
import type { StandaloneConfig } from './config.js'
import { channelElection, dmlChannelName, dmlChannelOf } from '../streaming/routing.js'
import { dmlChannelCount } from '../cluster/cluster-config.js'
import { harrierVersion } from './standalone.js'

/** How long a WAL channel may stay without an owner before a data node beyond its fair share takes it. */
const UNOWNED_GRACE_MS = 5000

export const CLUSTER_ROLES = ['proxy', 'mixcoord', 'rootcoord', 'datacoord', 'querycoord', 'indexcoord', 'datanode', 'querynode', 'indexnode'] as const
export type ClusterRole = (typeof CLUSTER_ROLES)[number]

/** Milvus's default ports per role, so a host plan reads like Milvus's. */
const ROLE_PORTS: Record<RoleName, number> = { proxy: 19530, mixcoord: 53100, datanode: 21124, querynode: 21123, indexnode: 21121 }


export interface RunningRole {
  readonly role: RoleName
  readonly grpcPort: number
  readonly metricsPort: number
  stop(): Promise<void>
  /** Resolves when the role ends by itself (lost its session); the process should exit then. */
  readonly lost: Promise<string>
}

/** `rootcoord`, `datacoord`, `querycoord` and `indexcoord` run inside the one coordinator process, as Milvus 2.6 merged them. */
export function normalizeRole(role: string): RoleName {
  if (role === 'rootcoord' || role === 'datacoord' || role === 'querycoord' || role === 'indexcoord' || role === 'mixcoord') return 'mixcoord'
  if (role === 'proxy' || role === 'datanode' || role === 'querynode' || role === 'indexnode') return role
  throw new DbError('ParameterInvalid', `unknown role ${role}`)
}

/** `--etcd` accepts host:port[,host:port] (as Milvus's etcd.endpoints) or a full etcd:// URL. */
export function etcdUrl(v: string): string {
  if (v.startsWith('etcd://')) return v
  const hosts = v
    .split(',')
    .map((h) => h.trim().replace(/^https?:\/\//, '').replace(/\/$/, ''))
    .filter(Boolean)
  return `etcd://${hosts.join(',')}/harrier`
}

function need(cfg: StandaloneConfig, key: 'etcd' | 'objectStore' | 'wal', flag: string): string {
  const v = cfg[key]
  if (!v) throw new DbError('ParameterInvalid', `cluster roles need ${flag} (see harrier run --help)`)
  return v
}

export async function startClusterRole(roleArg: string, cfg: StandaloneConfig, baseLog: Logger): Promise<RunningRole> {
  const role = normalizeRole(roleArg)
  const log = baseLog.child({ role })
  const nodeId = `${role}-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
  const port = cfg.portExplicit ? cfg.port : ROLE_PORTS[role]
  const advertise = cfg.advertiseHost || (cfg.host === '0.0.0.0' || cfg.host === '::' ? hostname() : cfg.host)
  const closers: (() => Promise<void>)[] = []
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch((e: unknown) => log.warn({ err: e }, 'error while stopping'))
  }
  const abort = new AbortController()
  closers.push(async () => abort.abort())
  let state = 'starting'
  let healthy = false
  const setState = (s: string, ok = false) => {
    if (s !== state) log.info({ state: s }, 'role state')
    state = s
    healthy = ok
  }
  let lostResolve!: (why: string) => void
  const lost = new Promise<string>((r) => (lostResolve = r))

  const metrics = new Metrics(nodeId)
  const mgmt = new ManagementServer({
    host: cfg.host,
    port: cfg.metricsPort,
    metrics,
    health: () => ({ healthy, message: state, detail: [{ name: role, code: healthy ? 'Healthy' : 'Abnormal' }] }),
  })
  const metricsPort = await mgmt.start()
  closers.push(() => mgmt.stop())
  try {
    const etcd = etcdUrl(need(cfg, 'etcd', '--etcd'))
    const meta: MetaStore = await waitFor(`etcd at ${cfg.etcd}`, async () => {
      const m = await openMetaStore(etcd, { log })
      try {
        await m.currentRevision()
      } catch (e) {
        await m.close().catch(() => undefined)
        throw e
      }
      return m
    }, { log, onWait: setState, signal: abort.signal })
    closers.push(() => meta.close())

    const openObjects = async (): Promise<ObjectStore> => {
      const url = need(cfg, 'objectStore', '--object-store')
      const o = await waitFor(`the object store at ${url.replace(/(secretKey=)[^&]*/, '$1***')}`, () => openObjectStore(url, { log }), { log, onWait: setState, signal: abort.signal })
      closers.push(() => o.close())
      return o
    }
    const openWal = async (): Promise<WalProvider> => {
      const url = need(cfg, 'wal', '--wal')
      const w = await waitFor(`the log broker at ${url}`, () => openWalProvider(url, { log }), { log, onWait: setState, signal: abort.signal })
      closers.push(() => w.close())
      return w
    }
    const register = async (address: string, serving?: SessionInfo['serving']): Promise<Session> => {
      const info: SessionInfo = { nodeId, role, address, metricsAddress: `${advertise}:${metricsPort}`, pid: process.pid, startedAt: new Date().toISOString(), serving }
      const s = await Session.register(meta, info, {
        ttlMs: cfg.sessionTtlMs,
        log,
        onLost: (why) => {
          setState(`session lost: ${why}`)
          log.error({ why }, 'session lost; this process must restart')
          lostResolve(why)
        },
      })
      closers.push(() => s.close())
      return s
    }
    const loadCatalog = async (): Promise<Catalog> => {
      const c = new Catalog(meta)
      await waitFor('the catalog in etcd', () => c.load(), { log, onWait: setState, signal: abort.signal })
      closers.push(async () => c.stopFollowing())
      return c
    }
    const version = harrierVersion()
    const tso = new TsoAllocator()
    const serveMilvus = async (svc: MilvusService, extraServices?: GrpcServerOptions['extraServices']): Promise<number> => {
      const grpc = new GrpcServer(svc, { host: cfg.host, port, extraServices })
      const p = await grpc.start()
      closers.push(() => grpc.stop())
      return p
    }
    const noHooks = (): CoordHooks => ({
      addCollection: () => undefined,
      updateCollection: () => undefined,
      dropCollection: () => undefined,
      load: async () => undefined,
      loaded: async () => undefined,
      release: () => undefined,
      queryNodes: () => ({ count: 0, standalone: false }),
      schedule: () => undefined,
      dropIndex: async () => undefined,
    })

    let grpcPort = 0
    switch (role) {
      case 'proxy': {
        setState('starting: reading the cluster view')
        const view = await ClusterView.open(meta)
        closers.push(async () => view.close())
        const placement = await PlacementView.open(meta)
        closers.push(async () => placement.close())
        // Metadata only (names, aliases, ids): enough to route a read to the nodes holding its collection.
        const catalog = await loadCatalog()
        catalog.follow(() => undefined)
        const resolve = (dbName: string, name: string) => {
          const db = catalog.databaseByName(dbName)
          return db ? (catalog.collectionByName(db.id, name) ?? catalog.collection(catalog.alias(db.id, name)?.collectionId ?? -1n)) : undefined
        }
        const routeTo = async (dbName: string, name: string): Promise<string[] | undefined> => {
          let c = resolve(dbName, name)
          if (!c) {
            // Created a moment ago through another path: catch up with etcd once.
            await catalog.sync().catch(() => undefined)
            c = resolve(dbName, name)
          }
          if (!c) return undefined
          // Loaded a moment ago: placement follows within a reconcile pass; wait for it briefly.
          for (let i = 0; c.load && placement.nodesOf(c.id).length === 0 && i < 60; i++) await new Promise((r) => setTimeout(r, 50))
          const serving = servingNodes(view, placement, c.id)
          return serving.length > 0 ? serving.map((n) => n.nodeId) : [...placement.nodesOf(c.id)]
        }
        const n = await dmlChannelCount(meta, cfg.dmlChannels, log)
        const elections = Array.from({ length: n }, (_, i) => channelElection(dmlChannelName(i)))
        const channels = {
          all: () => elections,
          of: async (dbName: string, name: string) => {
            let c = resolve(dbName, name)
            if (!c) {
              await catalog.sync().catch(() => undefined)
              c = resolve(dbName, name)
            }
            return c ? channelElection(dmlChannelOf(c.id, n)) : undefined
          },
          ofId: (id: bigint) => channelElection(dmlChannelOf(id, n)),
        }
        const router = new ProxyRouter({ view, servingNodes: routeTo, channels, host: cfg.host, port, log, metrics })
        grpcPort = await router.start()
        closers.push(() => router.stop())
        await register(`${advertise}:${grpcPort}`)
        const check = () => {
          const unowned = elections.filter((e) => !view.leader(e)).length
          const missing = [!view.leader('mixcoord') && 'coordinator', unowned > 0 && (n === 1 ? 'data node' : `data nodes for ${unowned} of ${n} WAL channels`), view.nodes('querynode').length === 0 && 'query node'].filter(Boolean)
          if (missing.length === 0) setState('serving', true)
          else setState(`serving; waiting for ${missing.join(', ')}`, true)
        }
        view.onChange(check)
        check()
        break
      }
      case 'mixcoord': {
        const objects = await openObjects()
        const session = await register('')
        const view = await ClusterView.open(meta)
        closers.push(async () => view.close())
        setState('standby: waiting to be elected coordinator', true)
        const fence = await session.campaign('mixcoord', abort.signal, (holder) => setState(`standby: coordinator ${holder?.nodeId ?? '?'} is active`, true))
        const catalog = await loadCatalog()
        catalog.follow(() => undefined)
        const indexes = new IndexService({ catalog, objects, log: log.child({ role: 'indexcoord' }) })
        closers.push(() => indexes.close())
        const placement = await PlacementView.open(meta)
        closers.push(async () => placement.close())
        const queryCoord = new QueryCoord({ store: meta, catalog, view, placement, fence, log: log.child({ role: 'querycoord' }) })
        queryCoord.start()
        closers.push(async () => queryCoord.stop())
        const hooks: CoordHooks = {
          ...noHooks(),
          dropCollection: (id, files) => {
            const keys = [...files.segments.flatMap((s) => Object.values(s.binlogs)), ...files.deltalogs.map((d) => d.key), ...files.segmentIndexes.flatMap((i) => Object.values(i.files))]
            if (keys.length > 0) objects.delete(keys).catch((e: unknown) => log.warn({ err: e, collectionId: id.toString() }, 'garbage collection of dropped collection files failed'))
          },
          queryNodes: () => ({ count: view.nodes('querynode').length, standalone: false }),
          // LoadCollection returns once every node of replica_number replicas serves its share.
          loaded: async (info) => {
            const until = Date.now() + 120_000
            queryCoord.kick()
            for (;;) {
              const want = Math.min(info.load?.replicaNumber ?? 1, view.nodes('querynode').length)
              const placed = placement.nodesOf(info.id)
              const serving = new Set(queryCoord.serving(info.id).map((n) => n.nodeId))
              if (want > 0 && placement.replicasOf(info.id).length >= want && placed.every((n) => serving.has(n))) return
              if (Date.now() > until) throw new DbError('ServiceUnavailable', `query nodes did not finish loading collection ${info.name} in 120 s`)
              await new Promise((r) => setTimeout(r, 50))
            }
          },
          dropIndex: (id, index) => indexes.dropIndex(id, index),
        }
        const root = new RootCoord({ catalog, hooks, tso, log: log.child({ role: 'rootcoord' }) })
        await root.bootstrap()
        const replicas = (c: CollectionInfo) => {
          const live = new Map(view.nodes('querynode').map((n) => [n.nodeId, n]))
          return placement.replicasOf(c.id).map((r) => ({ nodes: r.flatMap((id) => (live.has(id) ? [{ nodeId: live.get(id)!.serverId ?? '0', address: live.get(id)!.address }] : [])) }))
        }
        const channels = await dmlChannelCount(meta, cfg.dmlChannels, log)
        const svc = new MilvusService({ root, indexes, log, metrics, version, deployMode: 'CLUSTER', syncCatalog: () => catalog.sync(), role: 'MixCoord', replicas, nodeId: session.info.serverId, channelOf: (id) => dmlChannelOf(id, channels) })
        grpcPort = await serveMilvus(svc)
        // Now publish where the active coordinator serves.
        await meta.put(ELECTION_PREFIX + 'mixcoord', JSON.stringify({ ...session.info, address: `${advertise}:${grpcPort}` }), { lease: session.leaseId })
        setState('serving: active coordinator', true)
        break
      }
      case 'datanode': {
        const objects = await openObjects()
        const wals = await openWal()
        const session = await register('')
        const n = await dmlChannelCount(meta, cfg.dmlChannels, log)
        const channelOf = (id: bigint) => dmlChannelOf(id, n)
        const catalog = await loadCatalog()
        // Each commit is fenced by the election of its collections' channel; a channel this node
        // does not own has a guard that never holds.
        const guards = new Map<string, readonly Compare[]>()
        const never: Compare[] = [{ key: `${ELECTION_PREFIX}never-held`, target: 'version', op: '>', value: 0 }]
        catalog.setCommitGuard((ids) => ids.flatMap((id) => guards.get(channelOf(id)) ?? never))
        const planes = new ChannelSet(channelOf, tso)
        const indexes = new IndexService({ catalog, objects, data: planes, log })
        closers.push(() => indexes.close())
        metrics.setSegmentSource(() => planes.segmentStats())
        catalog.follow((changes) => {
          const ddl = changes.filter(isDdl)
          for (const p of planes.all()) void p.applyCatalogChanges(ddl)
        })
        const root = new RootCoord({ catalog, hooks: noHooks(), tso, log })
        const view = await ClusterView.open(meta)
        closers.push(async () => view.close())
        const placement = await PlacementView.open(meta)
        closers.push(async () => placement.close())
        const remote = new RemoteQuery()
        closers.push(async () => remote.close())
        const matchKeys = async (c: CollectionInfo, db: string, expr: string, partitionNames: readonly string[], templateValues: unknown) => {
          const nodes = servingNodes(view, placement, c.id).filter((n) => n.address)
          if (nodes.length === 0) throw new DbError('CollectionNotLoaded', `no query node serves collection ${c.name}: load it to delete by a filter`)
          let last: unknown
          for (const n of nodes) {
            try {
              return await remote.primaryKeys(n.address, { db, collection: c.name, pkField: primaryField(c.schema).name, expr, partitionNames, templateValues })
            } catch (e) {
              last = e
            }
          }
          throw last
        }
        const svc = new MilvusService({ root, data: planes, indexes, log, metrics, version, deployMode: 'CLUSTER', syncCatalog: () => catalog.sync(), role: 'DataNode', matchKeys, channelOf })
        grpcPort = await serveMilvus(svc)
        const address = `${advertise}:${grpcPort}`
        const channels = Array.from({ length: n }, (_, i) => dmlChannelName(i))
        const wal = new Map<string, Wal>()
        const report = () => {
          const mine = planes.channels()
          setState(mine.length > 0 ? `serving: owns WAL channel${mine.length > 1 ? 's' : ''} ${mine.join(', ')}` : 'standby: every WAL channel has an owner', true)
        }
        report()

        // Owning a channel: win its election, open its WAL with a new term (fencing the previous
        // owner's instance wherever it still runs), recover its collections from the catalog, S3
        // and the WAL tail, then publish where it is served.
        let closing = false
        const own = async (channel: string): Promise<void> => {
          if (closing) return
          const election = channelElection(channel)
          try {
            const guard = await session.tryCampaign(election)
            if (!guard) return
            guards.set(channel, guard)
            setState(`recovering WAL channel ${channel}`)
            // The previous owner's last flush must be in the catalog before replay starts here.
            await catalog.sync()
            const w = await wals.open(channel)
            wal.set(channel, w)
            const plane = new DataPlane({
              catalog,
              objects,
              wal: w,
              tso,
              channelOf,
              log: log.child({ role: 'datanode', channel }),
              config: { segmentMaxRows: cfg.segmentMaxRows, flushIntervalMs: cfg.flushIntervalMs, compactionIntervalMs: cfg.compactionIntervalMs, holdFlushed: false },
              observer: metrics,
              // Crash-only: a broken or fenced channel is handed over by exiting; a standby (or
              // this process, restarted) recovers it from the catalog and the WAL with a new term.
              onWalFailure: (e) => {
                setState(`WAL channel ${channel} unusable: ${e.message}`)
                log.error({ err: e, channel }, 'a WAL channel is fenced or broken; stepping down')
                lostResolve(e.message)
              },
            })
            const recovery = await plane.recover()
            if (closing) {
              await plane.stop()
              throw new DbError('ServiceUnavailable', 'stopping')
            }
            plane.start()
            planes.add(channel, plane)
            // DDL applied to the catalog while this plane recovered reached only the planes already
            // serving: replay the channel's collections, and forget the ones dropped meanwhile.
            const mine = catalog.allCollections().filter((c) => channelOf(c.id) === channel)
            const gone = plane.collectionIds().filter((id) => !catalog.collection(id))
            await plane.applyCatalogChanges([
              ...mine.map((c) => ({ kind: 'collection' as const, id: c.id, prev: c, next: c })),
              ...gone.map((id) => ({ kind: 'collection' as const, id, prev: undefined, next: undefined })),
            ])
            await meta.put(ELECTION_PREFIX + election, JSON.stringify({ ...session.info, address }), { lease: session.leaseId })
            log.info({ recovered: recovery, term: w.term }, `data node owns WAL channel ${channel} (term ${w.term})`)
          } catch (e) {
            if (!closing) log.error({ err: e, channel }, 'taking over a WAL channel failed; giving it up')
            await release(channel)
          }
          report()
        }
        // Handing a channel over (balance): stop writing it (appends and flushes under way finish),
        // close its WAL, give up the election. Acknowledged writes are in the WAL; the next owner
        // replays them from the checkpoint.
        const release = async (channel: string): Promise<void> => {
          const plane = planes.remove(channel)
          await plane?.retire().catch(() => undefined)
          await wal.get(channel)?.close().catch(() => undefined)
          wal.delete(channel)
          const guard = guards.get(channel)
          guards.delete(channel)
          if (guard) await session.resign(guard).catch((e: unknown) => log.warn({ err: e, channel }, 'resigning a WAL channel failed; the next balance pass retries'))
          report()
        }
        closers.push(async () => {
          for (const ch of planes.channels()) {
            await planes.remove(ch)?.stop().catch(() => undefined)
            await wal.get(ch)?.close().catch(() => undefined)
          }
        })
        // Balance: take unowned channels up to a fair share of the ready data nodes; hand one back
        // when holding more than that while another ready data node holds less. A channel left
        // unowned for a while is taken by anyone: availability comes before balance.
        const unownedSince = new Map<string, number>()
        const balance = async (): Promise<void> => {
          if (closing) return
          const ready = view.nodes('datanode').filter((x) => x.nodeId === nodeId || x.serving?.ready)
          const fair = Math.ceil(n / Math.max(1, ready.length))
          for (const ch of channels) {
            if (closing) return
            const holder = view.leader(channelElection(ch))
            if (guards.has(ch)) continue
            // Ours in etcd but not served (a failed take-over or resign): finish taking it.
            if (holder?.nodeId === nodeId) {
              await own(ch)
              continue
            }
            if (holder) {
              unownedSince.delete(ch)
              continue
            }
            const since = unownedSince.get(ch) ?? Date.now()
            unownedSince.set(ch, since)
            if (guards.size < fair || Date.now() - since > UNOWNED_GRACE_MS) await own(ch)
          }
          const held = new Map<string, number>(ready.map((x) => [x.nodeId, 0]))
          for (const [, holder] of view.leadersWith('channel/')) if (held.has(holder.nodeId)) held.set(holder.nodeId, held.get(holder.nodeId)! + 1)
          const least = Math.min(...[...held].filter(([id]) => id !== nodeId).map(([, k]) => k))
          if (guards.size > fair && least < fair) {
            const give = planes.channels().at(-1)
            if (give) {
              log.info({ channel: give, holding: guards.size, fair }, 'handing a WAL channel to a less loaded data node')
              await release(give)
            }
          }
        }
        let balancing: Promise<void> = Promise.resolve()
        const rebalance = () => {
          balancing = balancing.then(balance).catch((e: unknown) => log.warn({ err: e }, 'balancing WAL channels failed'))
        }
        view.onChange(rebalance)
        const timer = setInterval(rebalance, 1000)
        timer.unref()
        // Runs first at shutdown (closers run last to first): no channel is taken while stopping.
        closers.push(async () => {
          closing = true
          clearInterval(timer)
          await balancing
        })
        // Other data nodes count this one for balance only once it can take channels.
        await session.update({ ready: true })
        rebalance()
        await balancing
        break
      }
      case 'querynode': {
        const objects = await openObjects()
        const wals = await openWal()
        if (!wals.openReader) throw new DbError('ParameterInvalid', `the WAL at ${cfg.wal} cannot be followed by query nodes`)
        const n = await dmlChannelCount(meta, cfg.dmlChannels, log)
        const readers = new Map<string, WalReader>()
        for (let i = 0; i < n; i++) {
          const ch = dmlChannelName(i)
          readers.set(ch, await waitFor(`WAL channel ${ch}`, () => wals.openReader!(ch), { log, onWait: setState, signal: abort.signal }))
        }
        const catalog = await loadCatalog()
        const data = new DataPlane({
          catalog,
          objects,
          tso,
          channelOf: (id) => dmlChannelOf(id, n),
          log: log.child({ role: 'querynode' }),
          config: { segmentMaxRows: cfg.segmentMaxRows, flushIntervalMs: cfg.flushIntervalMs, compactionIntervalMs: cfg.compactionIntervalMs },
        })
        const indexes = new IndexService({ catalog, objects, data, log })
        closers.push(() => indexes.close())
        const placement = await PlacementView.open(meta)
        closers.push(async () => placement.close())
        const view = await ClusterView.open(meta)
        closers.push(async () => view.close())
        // Segments this node owns in its replica, and ones it held before a move until their new
        // owner reports holding them (no moment where nobody serves a segment).
        // What each node reports holding, per collection; rebuilt after a session change.
        const reported = new Map<string, Set<string>>()
        view.onChange(() => reported.clear())
        const reportedBy = (node: string, c: bigint): Set<string> => {
          const key = `${node}/${c}`
          let set = reported.get(key)
          if (!set) reported.set(key, (set = new Set(view.nodes('querynode').find((n) => n.nodeId === node)?.serving?.segments?.[c.toString()] ?? [])))
          return set
        }
        data.setPlacement({
          serves: (id) => placement.nodesOf(id).includes(nodeId),
          holds: (c, s, loadedHere) => {
            const replica = placement.replicaOf(c, nodeId)
            if (!replica) return false
            const owner = segmentOwner(replica, s)
            if (owner === nodeId) return true
            if (!loadedHere || !owner) return false
            return !reportedBy(owner, c).has(s.toString())
          },
          // Loads and hand-over drops also happen on the data plane's own timer: publish them.
          changed: () => void publish().catch((e: unknown) => log.warn({ err: e }, 'publishing held segments failed')),
        })
        metrics.setSegmentSource(() => data.segmentStats())
        setState('recovering: loading segments and following the WAL')
        await data.recoverAsFollower(readers)
        closers.push(() => data.stop())
        const servingNow = (): NonNullable<SessionInfo['serving']> => {
          const collections = data.servedCollections().map(String).sort()
          const segments = Object.fromEntries(collections.map((c) => [c, data.loadedSegments(BigInt(c)).map(String).sort()]))
          return { collections, segments }
        }
        let published = ''
        let session: Session | undefined
        const publish = async () => {
          const now = servingNow()
          if (!session || JSON.stringify(now) === published) return
          published = JSON.stringify(now)
          await session.update(now)
        }
        catalog.follow((changes) => {
          void data
            .applyCatalogChanges(changes)
            .then(() => indexes.applyCatalogChanges(changes))
            .then(publish)
            .catch((e: unknown) => log.error({ err: e }, 'applying catalog changes failed'))
        })
        const refresh = () => {
          void data
            .refreshPlacement()
            .then(publish)
            .catch((e: unknown) => log.error({ err: e }, 'applying a placement change failed'))
        }
        placement.onChange(refresh)
        // Another node reporting a segment it took over lets this one drop its old copy.
        view.onChange(refresh)
        const fanout = new ShareClient({ data, placement, view, nodeId, log: log.child({ role: 'delegator' }) })
        closers.push(async () => fanout.close())
        const root = new RootCoord({ catalog, hooks: noHooks(), tso, log })
        const segmentHolders = (c: bigint) => {
          const m = new Map<string, string[]>()
          for (const n of view.nodes('querynode')) for (const s of n.serving?.segments?.[c.toString()] ?? []) m.set(s, [...(m.get(s) ?? []), n.serverId ?? '0'])
          return m
        }
        const svc = new MilvusService({ root, data, indexes, log, metrics, version, deployMode: 'CLUSTER', syncCatalog: () => catalog.sync(), role: 'QueryNode', fanout, segmentHolders, nodeId: () => session?.info.serverId, channelOf: (id) => dmlChannelOf(id, n) })
        grpcPort = await serveMilvus(svc, [shareService((r) => svc.readShare(r))])
        published = JSON.stringify(servingNow())
        session = await register(`${advertise}:${grpcPort}`, servingNow())
        setState('serving', true)
        break
      }
      case 'indexnode': {
        const objects = await openObjects()
        const session = await register('')
        const catalog = await loadCatalog()
        const pool = new IndexBuildPool({ size: cfg.indexBuildThreads || undefined })
        const indexes = new IndexService({ catalog, objects, pool, log, claim: (task) => session.claim(task) })
        closers.push(() => indexes.close())
        catalog.follow((changes) => void indexes.applyCatalogChanges(changes).catch((e: unknown) => log.error({ err: e }, 'index scheduling failed')))
        indexes.schedule()
        // Claims of a dead node lapse with its lease; a periodic pass picks their tasks up.
        const timer = setInterval(() => indexes.schedule(), 3000)
        timer.unref()
        closers.push(async () => clearInterval(timer))
        setState('serving', true)
        break
      }
    }
    log.info({ role, nodeId, grpc: grpcPort ? `${cfg.host}:${grpcPort}` : undefined, metrics: `${cfg.host}:${metricsPort}`, version }, `Harrier ${role} serving${grpcPort ? ` on ${cfg.host}:${grpcPort}` : ''}, health/metrics on :${metricsPort}`)
    let stopped: Promise<void> | undefined
    return { role, grpcPort, metricsPort, lost, stop: () => (stopped ??= closeAll()) }
  } catch (e) {
    await closeAll()
    throw e
  }
}

function isDdl(c: CatalogChange): boolean {
  return c.kind === 'collection'
}
