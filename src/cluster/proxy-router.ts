/**
 * The cluster proxy: MilvusService on :19530 that forwards each call, as raw protobuf bytes, to
 * the role that owns it, found in the live cluster view (etcd sessions and elections):
 *
 *   writes (Insert/Upsert/Delete/Flush/compaction, AllocTimestamp)  -> the data node owning the
 *                                                                      collection's WAL channel
 *   reads  (Search/Query/HybridSearch, statistics, segment info)     -> query nodes, round robin
 *   everything else (DDL, Describe*, List*, indexes, load state)      -> the active coordinator
 *
 * Only the names are read from most requests, so the proxy is cheap and stateless (any number
 * behind nginx). Writes that span channels are split (Flush of collections on different
 * channels) or sent to every owner (FlushAll), and their answers merged.
 * A backend that cannot be reached is skipped or waited for (elections settle in seconds), up to
 * the failover window; then the client gets a Milvus ServiceUnavailable status, not a hang.
 */
import * as grpc from '@grpc/grpc-js'
import protobuf from 'protobufjs'
import { DbError } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import type { Metrics } from '../access/metrics.js'
import { errorStatus } from '../access/status.js'
import { loadMilvusProto } from '../schema/milvus-proto.js'
import type { ClusterView, SessionInfo } from './session.js'

const WRITES = new Set([
  'Insert',
  'Upsert',
  'Delete',
  'Flush',
  'FlushAll',
  'GetFlushState',
  'GetFlushAllState',
  'ManualCompaction',
  'GetCompactionState',
  'GetCompactionStateWithPlans',
  'AllocTimestamp',
  'GetPersistentSegmentInfo',
])
const READS = new Set(['Search', 'Query', 'HybridSearch', 'GetCollectionStatistics', 'GetPartitionStatistics', 'GetQuerySegmentInfo'])

/** Safe to send twice: the second copy changes nothing (upsert and delete are keyed). */
const IDEMPOTENT = new Set([...READS, 'Upsert', 'Delete', 'Flush', 'FlushAll', 'GetFlushState', 'GetFlushAllState', 'GetCompactionState', 'GetCompactionStateWithPlans', 'GetPersistentSegmentInfo', 'AllocTimestamp'])

export type Target = 'coordinator' | 'datanode' | 'querynode'

export function targetOf(method: string): Target {
  if (WRITES.has(method)) return 'datanode'
  if (READS.has(method)) return 'querynode'
  return 'coordinator'
}

export interface ProxyRouterOptions {
  readonly view: ClusterView
  /**
   * Which query nodes serve a collection, from the request's db and collection name; undefined
   * when unknown (then any query node is tried, and it answers from its own catalog).
   */
  readonly servingNodes?: (db: string, collection: string) => Promise<readonly string[] | undefined>
  /**
   * Where writes go: the election (`channel/<name>`) of a collection's WAL channel, by db and
   * name or by id (undefined: unknown collection), and every channel's, for writes of none.
   */
  readonly channels: {
    all(): readonly string[]
    of(db: string, collection: string): Promise<string | undefined>
    ofId(id: bigint): string
  }
  readonly host: string
  readonly port: number
  readonly log: Logger
  readonly metrics: Metrics
  /** How long a call waits for a backend to appear (failover window). Default 20 s. */
  readonly failoverMs?: number
}

const raw = (b: Buffer): Buffer => b

/**
 * Fields 2 (db name) and 3 (collection name) of a read request, read without decoding the rest
 * (the query vectors): every routed read request of MilvusService numbers them so.
 */
/**
 * Whether a reply is a query node's "collection ... is not served by this query node": its status
 * (field 1 of every read response; its field 3 is the code) has code 101 and that reason. Only the status is decoded.
 */
export function notServedHere(res: Buffer): boolean {
  const s = replyStatus(res)
  return s.code === 101 && s.reason.includes('not served by this query node')
}

/**
 * Whether a reply is a data node's "does not own WAL channel": refused before anything was
 * written (the channel moved while the request travelled), so any write may be sent again.
 */
export function notOwnedHere(res: Buffer): boolean {
  const s = replyStatus(res)
  return s.code === 2 && s.reason.includes('does not own WAL channel')
}

/** Code and reason of a reply's status (field 1; code is its field 3, reason field 2); only they are decoded. */
function replyStatus(res: Buffer): { code: number; reason: string } {
  let code = 0
  let reason = ''
  try {
    const r = new protobuf.Reader(res)
    if (r.len === 0) return { code, reason }
    const tag = r.uint32()
    if (tag >>> 3 !== 1 || (tag & 7) !== 2) return { code, reason }
    const end = r.uint32() + r.pos
    while (r.pos < end) {
      const t = r.uint32()
      const f = t >>> 3
      if (f === 3 && (t & 7) === 0) code = r.int32()
      else if (f === 2 && (t & 7) === 2) reason = r.string()
      else r.skipType(t & 7)
    }
  } catch {
    // unreadable: no status
  }
  return { code, reason }
}

/** The code of a reply's status, 0 when absent or unreadable. */
export function statusCode(res: Buffer): number {
  return replyStatus(res).code
}

export function collectionOf(body: Buffer): { db: string; collection: string } {
  let db = ''
  let collection = ''
  const r = new protobuf.Reader(body)
  try {
    while (r.pos < r.len) {
      const tag = r.uint32()
      const field = tag >>> 3
      if ((field === 2 || field === 3) && (tag & 7) === 2) {
        const v = r.string()
        if (field === 2) db = v
        else collection = v
        if (collection && db) break
      } else r.skipType(tag & 7)
    }
  } catch {
    // A malformed request: routed anywhere, the query node answers with a proper error.
  }
  return { db, collection }
}

export class ProxyRouter {
  private readonly o: ProxyRouterOptions
  private readonly server: grpc.Server
  private readonly clients = new Map<string, grpc.Client>()
  private rr = 0
  private boundPort = 0

  constructor(o: ProxyRouterOptions) {
    this.o = o
    this.server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 512 * 1024 * 1024 })
    const proto = loadMilvusProto()
    const svc = proto.root.lookupService('milvus.proto.milvus.MilvusService')
    const def: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {}
    const impl: grpc.UntypedServiceImplementation = {}
    for (const [name, m] of Object.entries(proto.service)) {
      def[name] = { path: m.path, requestStream: m.requestStream, responseStream: m.responseStream, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw, originalName: m.originalName }
      if (m.requestStream || m.responseStream) {
        impl[name] = (call: grpc.ServerWritableStream<unknown, unknown>) => call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: `RPC ${name} is not implemented by Harrier yet` })
        continue
      }
      const bare = svc.methods[name]?.resolvedResponseType?.fullName === '.milvus.proto.common.Status'
      const failure = (e: unknown): Buffer => {
        const status = errorStatus(e)
        return m.responseSerialize(bare ? status : { status }) as Buffer
      }
      impl[name] = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const started = performance.now()
        this.forward(name, m.path, call.request, call.metadata).then(
          (res) => {
            this.o.metrics.observeRequest(name, 'success', (performance.now() - started) / 1000)
            cb(null, res)
          },
          (e: unknown) => {
            this.o.metrics.observeRequest(name, 'fail', (performance.now() - started) / 1000)
            cb(null, failure(e))
          },
        )
      }
    }
    this.server.addService(def as grpc.ServiceDefinition, impl)
  }

  /** The channel elections a write goes to, in the order to try them. */
  private async writeElections(method: string, body: Buffer, md: grpc.Metadata): Promise<readonly string[]> {
    const ch = this.o.channels
    const dbOf = (db: string) => db || (md.get('dbname')[0]?.toString() ?? '') || 'default'
    switch (method) {
      case 'Insert':
      case 'Upsert':
      case 'Delete':
      case 'GetPersistentSegmentInfo': {
        const { db, collection } = collectionOf(body)
        const e = collection ? await ch.of(dbOf(db), collection) : undefined
        // Unknown: any owner answers with the proper "collection not found".
        return e ? [e] : ch.all().slice(0, 1)
      }
      case 'ManualCompaction': {
        const r = this.decode('ManualCompaction', body)
        const id = String(r.collectionID ?? '0')
        const e = r.collection_name ? await ch.of(dbOf(String(r.db_name ?? '')), String(r.collection_name)) : id !== '0' ? ch.ofId(BigInt(id)) : undefined
        return e ? [e] : ch.all().slice(0, 1)
      }
      default:
        // GetCompactionState: the owner that ran it knows it; the rest: any owner.
        return ch.all()
    }
  }

  private decode(method: string, body: Buffer): Record<string, unknown> {
    try {
      return loadMilvusProto().service[method]!.requestDeserialize(body) as Record<string, unknown>
    } catch {
      return {}
    }
  }

  /** Backends for `target`, in the order to try them. */
  private async candidates(target: Target, body?: Buffer, md?: grpc.Metadata, elections?: readonly string[]): Promise<SessionInfo[]> {
    if (target === 'coordinator') {
      // A newly elected holder publishes its address only once it serves: until then, wait.
      const l = this.o.view.leader('mixcoord')
      return l?.address ? [l] : []
    }
    if (target === 'datanode') {
      const out: SessionInfo[] = []
      for (const e of elections ?? []) {
        const l = this.o.view.leader(e)
        if (l?.address && !out.some((x) => x.nodeId === l.nodeId && x.address === l.address)) out.push(l)
      }
      return out
    }
    let nodes = this.o.view.nodes('querynode').filter((n) => n.address)
    if (body && this.o.servingNodes) {
      const { db, collection } = collectionOf(body)
      const mdDb = md?.get('dbname')[0]
      const placed = collection ? await this.o.servingNodes(db || (mdDb ? mdDb.toString() : '') || 'default', collection) : undefined
      if (placed && placed.length > 0) {
        const set = new Set(placed)
        const serving = nodes.filter((n) => set.has(n.nodeId))
        if (serving.length > 0) nodes = serving
      }
    }
    if (nodes.length === 0) return []
    const start = this.rr++ % nodes.length
    return [...nodes.slice(start), ...nodes.slice(0, start)]
  }

  /** Whether `c` still holds one of `elections` (or is still the coordinator). */
  private stillElected(target: Target, c: SessionInfo, elections: readonly string[] | undefined): boolean {
    if (target === 'coordinator') return this.o.view.leader('mixcoord')?.nodeId === c.nodeId
    return (elections ?? []).some((e) => this.o.view.leader(e)?.nodeId === c.nodeId)
  }

  private async forward(method: string, path: string, body: Buffer, md: grpc.Metadata, only?: readonly string[]): Promise<Buffer> {
    const target = targetOf(method)
    if (target === 'datanode' && !only && (method === 'Flush' || method === 'FlushAll')) return this.spreadWrite(method, path, body, md)
    const deadline = Date.now() + (this.o.failoverMs ?? 20_000)
    let last: unknown
    let delay = 100
    for (;;) {
      const elections = target === 'datanode' ? (only ?? (await this.writeElections(method, body, md))) : undefined
      const cands = await this.candidates(target, body, md, elections)
      for (const c of cands) {
        try {
          // A backend whose session lapses mid-call (killed, its host gone: the connection may
          // never be reset) is given up on; an elected one also when it loses its election.
          const alive = () => this.o.view.all().some((x) => x.nodeId === c.nodeId)
          const res = await this.call(c.address, path, body, md, target === 'querynode' ? alive : () => alive() && this.stillElected(target, c, elections))
          // A query node that does not (or no longer) hold the collection says so; another may.
          if (target === 'querynode' && cands.length > 1 && notServedHere(res)) {
            last = new DbError('CollectionNotLoaded', `${c.address} does not serve the collection`)
            continue
          }
          // The channel moved on the way (nothing was written): wait for its new owner.
          if (target === 'datanode' && notOwnedHere(res)) {
            last = new DbError('ServiceUnavailable', `${c.address} no longer owns the WAL channel`)
            continue
          }
          // A compaction is known only to the data node that ran it: ask the next one.
          if ((method === 'GetCompactionState' || method === 'GetCompactionStateWithPlans') && c !== cands[cands.length - 1] && statusCode(res) !== 0) continue
          return res
        } catch (e) {
          last = e
          // Only transport failures move on. An insert is retried only when it surely never
          // reached the backend (no connection): one cut mid-call may have been applied, and a
          // second copy would duplicate its rows.
          const err = e as grpc.ServiceError
          if (err.code === grpc.status.CANCELLED) {
            // A read is safe to send to the next node; a write's outcome is unknown.
            if (target === 'querynode') {
              this.o.log.debug({ method, backend: c.address }, 'backend went away during a read; trying the next')
              continue
            }
            throw new DbError('ServiceUnavailable', `${method}: ${target} ${c.address} went away or lost its election during the call; the outcome is unknown, retry`)
          }
          const unsent = /No connection established|ECONNREFUSED/.test(err.details ?? err.message)
          if (err.code !== grpc.status.UNAVAILABLE || (!unsent && !IDEMPOTENT.has(method))) {
            throw new DbError(err.code === grpc.status.UNAVAILABLE ? 'ServiceUnavailable' : 'ServiceInternal', `${target} ${c.address}: ${err.message}`, { cause: e })
          }
          this.o.log.debug({ method, backend: c.address }, 'backend unavailable; trying the next')
        }
      }
      if (Date.now() >= deadline) {
        const why = cands.length === 0 ? `no ${target} is registered` : `every ${target} is unreachable (${(last as Error | undefined)?.message ?? ''})`
        throw new DbError('ServiceUnavailable', `${method}: ${why}`)
      }
      await new Promise((r) => setTimeout(r, delay))
      delay = Math.min(delay * 2, 1000)
    }
  }

  /**
   * Flush and FlushAll over several channel owners: Flush is split by the owner of each named
   * collection, FlushAll goes to every owner; the answers are merged (the first failure wins).
   */
  private async spreadWrite(method: 'Flush' | 'FlushAll', path: string, body: Buffer, md: grpc.Metadata): Promise<Buffer> {
    const def = loadMilvusProto().service[method]!
    const enc = (v: unknown) => def.requestSerialize(v) as Buffer
    const dec = (b: Buffer) => def.responseDeserialize(b) as Record<string, unknown>
    const failed = (r: Record<string, unknown>) => Number((r.status as { code?: number } | undefined)?.code ?? 0) !== 0
    if (method === 'FlushAll') {
      // Once per owner (an owner flushes all its channels); unowned channels wait for an owner.
      const byOwner = new Map<string, string[]>()
      for (const e of this.o.channels.all()) {
        const owner = this.o.view.leader(e)?.nodeId ?? `none:${e}`
        byOwner.set(owner, [...(byOwner.get(owner) ?? []), e])
      }
      const replies = (await Promise.all([...byOwner.values()].map((es) => this.forward(method, path, body, md, es)))).map(dec)
      const bad = replies.find(failed)
      if (bad) return def.responseSerialize(bad) as Buffer
      const ts = replies.reduce((a, r) => (BigInt(String(r.flush_all_ts ?? '0')) > a ? BigInt(String(r.flush_all_ts ?? '0')) : a), 0n)
      return def.responseSerialize({ ...replies[0], flush_all_ts: ts.toString() }) as Buffer
    }
    const req = this.decode(method, body)
    const names = ((req.collection_names as string[] | undefined) ?? []).map(String)
    const db = String(req.db_name ?? '') || (md.get('dbname')[0]?.toString() ?? '') || 'default'
    const groups = new Map<string, string[]>()
    for (const n of names) {
      const e = (await this.o.channels.of(db, n)) ?? this.o.channels.all()[0]!
      groups.set(e, [...(groups.get(e) ?? []), n])
    }
    if (groups.size <= 1) return this.forward(method, path, body, md, groups.size === 1 ? [...groups.keys()] : this.o.channels.all().slice(0, 1))
    const replies = (await Promise.all([...groups].map(([e, ns]) => this.forward(method, path, enc({ ...req, collection_names: ns }), md, [e])))).map(dec)
    const bad = replies.find(failed)
    if (bad) return def.responseSerialize(bad) as Buffer
    const merged: Record<string, unknown> = { ...replies[0] }
    for (const k of ['coll_segIDs', 'flush_coll_segIDs', 'coll_seal_times', 'coll_flush_ts', 'channel_cps']) {
      merged[k] = Object.assign({}, ...replies.map((r) => (r[k] as object | undefined) ?? {}))
    }
    return def.responseSerialize(merged) as Buffer
  }

  /**
   * One attempt. `stillCurrent` (elected backends) is polled while the call runs: a holder that
   * lost its election (paused, partitioned) may never answer, so the call is cancelled and
   * reported as unavailable rather than left hanging until its deadline.
   */
  private call(address: string, path: string, body: Buffer, md: grpc.Metadata, stillCurrent?: () => boolean): Promise<Buffer> {
    let client = this.clients.get(address)
    if (!client) {
      client = new grpc.Client(address, grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': 512 * 1024 * 1024,
        'grpc.max_send_message_length': 64 * 1024 * 1024,
        // Fail fast on a dead backend so the next candidate is tried within the failover window.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      })
      this.clients.set(address, client)
    }
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const call = client.makeUnaryRequest(path, raw, raw, body, md, { deadline: Date.now() + 120_000 }, (err, res) => {
        if (timer) clearInterval(timer)
        if (err) reject(err)
        else resolve(res!)
      })
      if (stillCurrent) {
        timer = setInterval(() => {
          if (stillCurrent()) return
          clearInterval(timer)
          timer = undefined
          call.cancel()
        }, 200)
        timer.unref()
      }
    })
  }

  async start(): Promise<number> {
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${this.o.host}:${this.o.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) reject(new DbError('ServiceUnavailable', `cannot listen on ${this.o.host}:${this.o.port}: ${err.message}`, { cause: err }))
        else resolve(port)
      })
    })
    return this.boundPort
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown()
        resolve()
      }, 2000)
      this.server.tryShutdown(() => {
        clearTimeout(t)
        resolve()
      })
    })
    for (const c of this.clients.values()) c.close()
  }
}
