/**
 * Share reads between query nodes: a delegator asks the other holders of a spread collection for
 * their shares (access/shares.ts). Carried as one internal gRPC method on each query node's port,
 * beside MilvusService, with Harrier's own framing:
 *
 *   message = u32 part count, then per part: u32 length + bytes (little endian)
 *   request parts: JSON header, [client's Search/QueryRequest protobuf], [query vectors binlog]
 *   reply parts:   JSON header, scores (float32), one column binlog per asked field
 *
 * The client's request travels as its original protobuf, so the holder parses it with the same
 * code as the delegator did; columns travel in the segment binlog encoding (storage/binlog.ts).
 *
 * Routing: each segment goes to its owner in this node's replica when the owner reports holding
 * it; else to any node of the replica that holds it; else to a holder in another replica; else to
 * the owner, which is then still reading it in. A holder that fails a call is avoided for a few
 * seconds while the read is planned again.
 */
import * as grpc from '@grpc/grpc-js'
import type { SegmentFanout, ShareReply, ShareRequest, ShareTarget } from '../access/shares.js'
import { DbError, ERRORS, isDbError, type ErrorKind } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import type { DataPlane } from '../nodes/data-plane.js'
import type { Column, VectorColumn } from '../schema/columns.js'
import { loadMilvusProto } from '../schema/milvus-proto.js'
import { decodeInsertLog, encodeInsertLog } from '../storage/binlog.js'
import { segmentOwner, type PlacementView } from './query-coord.js'
import type { ClusterView, SessionInfo } from './session.js'

const PATH = '/harrier.internal.QueryNode/ReadShare'
const CALL_DEADLINE_MS = 30_000
/** How long a holder that failed a call is avoided. */
const SUSPECT_MS = 3000

type Keys = { int?: string[]; str?: string[] }

interface RequestHeader {
  op: ShareRequest['op']
  collectionId: string
  ts: string
  segments: string[]
  partitionIds?: string[]
  fields: string[]
  limit?: number
  page?: { bound?: number; includeBound: boolean; returned: Keys }
  pks?: Keys
  keep?: { field: string; values: (number | string | null | { b: string })[] }
  /** Index of the part holding the client's request, and of the query vectors. */
  request?: number
  queries?: number
}

interface ReplyHeader {
  error?: { kind: string; message: string }
  count?: number
  topks?: number[]
  numRows: number
  fields: string[]
}

function encodeKeys(keys: readonly (bigint | string)[]): Keys {
  return keys.length > 0 && typeof keys[0] === 'string' ? { str: keys as string[] } : { int: keys.map(String) }
}

function decodeKeys(k: Keys | undefined): bigint[] | string[] {
  if (!k) return []
  return k.str ?? (k.int ?? []).map((v) => BigInt(v))
}

export function encodeParts(parts: readonly Uint8Array[]): Buffer {
  const size = 4 + parts.reduce((a, p) => a + 4 + p.length, 0)
  const out = Buffer.allocUnsafe(size)
  out.writeUInt32LE(parts.length, 0)
  let at = 4
  for (const p of parts) {
    out.writeUInt32LE(p.length, at)
    out.set(p, at + 4)
    at += 4 + p.length
  }
  return out
}

export function decodeParts(buf: Uint8Array): Uint8Array[] {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  const bad = () => new DbError('ParameterInvalid', 'malformed share read message')
  if (view.length < 4) throw bad()
  const n = view.readUInt32LE(0)
  const parts: Uint8Array[] = []
  let at = 4
  for (let i = 0; i < n; i++) {
    if (at + 4 > view.length) throw bad()
    const len = view.readUInt32LE(at)
    if (at + 4 + len > view.length) throw bad()
    parts.push(view.subarray(at + 4, at + 4 + len))
    at += 4 + len
  }
  if (at !== view.length) throw bad()
  return parts
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v))
const parseJson = <T>(b: Uint8Array | undefined): T => {
  if (!b) throw new DbError('ParameterInvalid', 'malformed share read message: no header')
  return JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as T
}

function requestMethod(op: ShareRequest['op']): 'Search' | 'Query' | undefined {
  return op === 'search' || op === 'hybrid' || op === 'iterator' ? 'Search' : op === 'query' || op === 'count' ? 'Query' : undefined
}

export function encodeShareRequest(r: ShareRequest): Buffer {
  const parts: Uint8Array[] = []
  const h: RequestHeader = {
    op: r.op,
    collectionId: r.collectionId.toString(),
    ts: r.ts.toString(),
    segments: r.segments.map(String),
    partitionIds: r.partitionIds?.map(String),
    fields: [...r.fields],
    limit: r.limit,
    page: r.page && { bound: r.page.bound, includeBound: r.page.includeBound, returned: encodeKeys(r.page.returned) },
    pks: r.pks && encodeKeys(r.pks),
    keep: r.keep && { field: r.keep.field, values: r.keep.values.map((v) => (typeof v === 'bigint' ? { b: v.toString() } : v)) },
  }
  const method = requestMethod(r.op)
  if (method && r.request) {
    const def = loadMilvusProto().service[method]!
    h.request = parts.length + 1
    parts.push((def.requestSerialize as (v: unknown) => Buffer)(r.request))
  }
  if (r.queries) {
    h.queries = parts.length + 1
    parts.push(encodeInsertLog(r.queries))
  }
  return encodeParts([json(h), ...parts])
}

export function decodeShareRequest(buf: Uint8Array): ShareRequest {
  const parts = decodeParts(buf)
  const h = parseJson<RequestHeader>(parts[0])
  const method = requestMethod(h.op)
  if (!method && h.op !== 'rows') throw new DbError('ParameterInvalid', `unknown share read ${String(h.op)}`)
  const reqBytes = h.request !== undefined ? parts[h.request] : undefined
  const request = method && reqBytes ? ((loadMilvusProto().service[method]!.requestDeserialize as (b: Buffer) => Record<string, unknown>)(Buffer.from(reqBytes))) : undefined
  const q = h.queries !== undefined ? parts[h.queries] : undefined
  return {
    op: h.op,
    collectionId: BigInt(h.collectionId),
    ts: BigInt(h.ts),
    segments: h.segments.map((s) => BigInt(s)),
    partitionIds: h.partitionIds?.map((p) => BigInt(p)),
    fields: h.fields,
    limit: h.limit,
    page: h.page && { bound: h.page.bound, includeBound: h.page.includeBound, returned: decodeKeys(h.page.returned) },
    pks: h.pks && decodeKeys(h.pks),
    keep: h.keep && { field: h.keep.field, values: h.keep.values.map((v) => (v !== null && typeof v === 'object' ? BigInt(v.b) : v)) },
    request,
    queries: q ? (decodeInsertLog('share query vectors', q) as VectorColumn) : undefined,
  }
}

export function encodeShareReply(r: ShareReply): Buffer {
  const fields = [...r.columns.keys()]
  const h: ReplyHeader = { count: r.count, topks: r.topks ? [...r.topks] : undefined, numRows: r.numRows, fields }
  const scores = r.scores ? new Uint8Array(r.scores.buffer, r.scores.byteOffset, r.scores.byteLength) : new Uint8Array(0)
  return encodeParts([json(h), scores, ...fields.map((f) => encodeInsertLog(r.columns.get(f)!))])
}

export function encodeShareError(e: unknown): Buffer {
  const kind = isDbError(e) ? e.kind : 'ServiceInternal'
  return encodeParts([json({ error: { kind, message: e instanceof Error ? e.message : String(e) }, numRows: 0, fields: [] } satisfies ReplyHeader)])
}

export function decodeShareReply(buf: Uint8Array, from: string): ShareReply {
  const parts = decodeParts(buf)
  const h = parseJson<ReplyHeader>(parts[0])
  if (h.error) {
    const kind = (h.error.kind in ERRORS ? h.error.kind : 'ServiceInternal') as ErrorKind
    // The holder's message already ends with the kind's text; keep it as it is.
    const err = new DbError(kind, `query node ${from}: ${h.error.message}`)
    throw err
  }
  const raw = parts[1] ?? new Uint8Array(0)
  // A copy: the part is an unaligned view into the message.
  const aligned = new Uint8Array(raw.length)
  aligned.set(raw)
  const scores = new Float32Array(aligned.buffer, 0, raw.length >>> 2)
  const columns = new Map<string, Column>()
  h.fields.forEach((f, i) => columns.set(f, decodeInsertLog(`share column ${f}`, parts[2 + i]!)))
  return { count: h.count, topks: h.topks, scores: h.topks ? scores : undefined, numRows: h.numRows, columns }
}

/** The internal gRPC service a query node serves share reads on. */
export function shareService(read: (r: ShareRequest) => Promise<ShareReply>): { definition: grpc.ServiceDefinition; impl: grpc.UntypedServiceImplementation } {
  const identity = (b: Buffer) => b
  const definition: grpc.ServiceDefinition = {
    ReadShare: { path: PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  }
  const impl: grpc.UntypedServiceImplementation = {
    ReadShare: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      let req: ShareRequest
      try {
        req = decodeShareRequest(call.request)
      } catch (e) {
        cb(null, encodeShareError(e))
        return
      }
      read(req).then(
        (r) => cb(null, encodeShareReply(r)),
        (e: unknown) => cb(null, encodeShareError(e)),
      )
    },
  }
  return { definition, impl }
}

export interface ShareClientDeps {
  readonly data: DataPlane
  readonly placement: PlacementView
  readonly view: ClusterView
  /** This query node. */
  readonly nodeId: string
  readonly log: Logger
}

/** The delegator's side: plans which holder reads which segments, and calls them. */
export class ShareClient implements SegmentFanout {
  private readonly d: ShareClientDeps
  private readonly clients = new Map<string, grpc.Client>()
  private readonly suspects = new Map<string, number>()
  /** Segments each node reports holding, per collection; rebuilt lazily after a session change. */
  private readonly held = new Map<string, Set<string>>()

  constructor(deps: ShareClientDeps) {
    this.d = deps
    deps.view.onChange(() => {
      this.held.clear()
      // Connections to nodes that left: close them (a node that comes back gets a new one).
      const live = new Set(deps.view.nodes('querynode').map((n) => n.address))
      for (const [address, c] of this.clients) {
        if (live.has(address)) continue
        c.close()
        this.clients.delete(address)
      }
      const ids = new Set(deps.view.nodes('querynode').map((n) => n.nodeId))
      for (const id of this.suspects.keys()) if (!ids.has(id)) this.suspects.delete(id)
    })
  }

  private heldBy(node: SessionInfo, collectionId: string): Set<string> {
    const key = `${node.nodeId}/${collectionId}`
    let set = this.held.get(key)
    if (!set) this.held.set(key, (set = new Set(node.serving?.segments?.[collectionId] ?? [])))
    return set
  }

  plan(collectionId: bigint, partitionIds?: ReadonlySet<bigint>): ShareTarget[] {
    const segs = this.d.data.otherShares(collectionId, partitionIds)
    if (segs.length === 0) return []
    const id = collectionId.toString()
    const self = this.d.nodeId
    const now = Date.now()
    const nodes = this.d.view.nodes('querynode').filter((n) => n.nodeId !== self && n.address)
    const byId = new Map(nodes.map((n) => [n.nodeId, n]))
    const held = new Map(nodes.map((n) => [n.nodeId, this.heldBy(n, id)]))
    const usable = (n: string) => byId.has(n) && (this.suspects.get(n) ?? 0) < now
    const replica = [...(this.d.placement.replicaOf(id, self) ?? [])].sort()
    const placed = [...this.d.placement.nodesOf(id)].sort()
    const out = new Map<string, bigint[]>()
    for (const s of segs) {
      const sid = s.id.toString()
      const owner = segmentOwner(replica, s.id)
      const holds = (n: string) => usable(n) && held.get(n)!.has(sid)
      let pick: string | undefined
      if (owner && holds(owner)) pick = owner
      pick ??= replica.find(holds) ?? placed.find(holds)
      if (!pick && owner && usable(owner)) pick = owner // still reading it in: it waits before answering
      if (!pick && owner === self) throw new DbError('SegmentNotLoaded', `segment ${sid} is still being loaded on this query node`)
      if (!pick) throw new DbError('ServiceUnavailable', `no reachable query node holds segment ${sid} of collection ${id} yet`)
      let list = out.get(pick)
      if (!list) out.set(pick, (list = []))
      list.push(s.id)
    }
    return [...out].map(([nodeId, segments]) => ({ nodeId, address: byId.get(nodeId)!.address, segments }))
  }

  async read(target: ShareTarget, req: ShareRequest): Promise<ShareReply> {
    let client = this.clients.get(target.address)
    if (!client) {
      client = new grpc.Client(target.address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 512 * 1024 * 1024, 'grpc.max_send_message_length': 512 * 1024 * 1024 })
      this.clients.set(target.address, client)
    }
    const c = client
    const identity = (b: Buffer) => b
    const body = encodeShareRequest(req)
    const reply = await new Promise<Buffer>((resolve, reject) => {
      // A holder whose session lapses mid-call (killed, its host gone: the connection may never
      // be reset) is given up on, so the read is planned again without it.
      const watch = setInterval(() => {
        if (!this.d.view.nodes('querynode').some((n) => n.nodeId === target.nodeId)) call.cancel()
      }, 200)
      watch.unref()
      const call = c.makeUnaryRequest(PATH, identity, identity, body, new grpc.Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS }, (err, r) => {
        clearInterval(watch)
        if (!err) return resolve(r!)
        // Only a node that cannot be reached (or answer in time) is worth avoiding and retrying
        // around; anything else (a message too large, an older node without the method) will not
        // get better by asking again.
        const transient = err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED || err.code === grpc.status.CANCELLED
        if (transient) this.suspects.set(target.nodeId, Date.now() + SUSPECT_MS)
        reject(new DbError(transient ? 'ServiceUnavailable' : 'ServiceInternal', `query node ${target.nodeId} at ${target.address} did not answer a share read: ${err.message}`, { cause: err }))
      })
    })
    return decodeShareReply(reply, target.nodeId)
  }

  retriable(e: unknown): boolean {
    return isDbError(e) && (e.kind === 'ServiceUnavailable' || e.kind === 'SegmentNotFound' || e.kind === 'SegmentNotLoaded' || e.kind === 'CollectionNotLoaded')
  }

  close(): void {
    for (const c of this.clients.values()) c.close()
    this.clients.clear()
  }
}
