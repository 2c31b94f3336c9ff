/**
 * Query coordination in a cluster: which query nodes hold each loaded collection.
 *
 *   harrier/placement/{collectionId}   {"replicas": [[nodeId, ...], ...]}   written by the active coordinator
 *
 * A collection loaded with replica_number R gets R replicas, and the live query nodes are split
 * among them (Milvus's replica node groups): every node holds a share of every loaded collection.
 * Within a replica each flushed segment has one owner, picked by rendezvous hashing of the
 * segment id over the replica's nodes (`segmentOwner`), so every process computes the same
 * assignment without a per-segment record, and a node joining or leaving a replica moves only
 * the segments it gains or loses. Every query node follows the whole WAL, so the growing rows are
 * everywhere and any node of a replica can take a read: it searches its growing rows and its
 * share, and asks the owners of the other segments for theirs (the delegator).
 *
 * Handover without a gap: a node keeps a segment it no longer owns until the new owner reports
 * that it holds it (query nodes publish their loaded segments in their session). The coordinator
 * reconciles placement against the live sessions (checker -> change, as Milvus's querycoord does):
 *
 *  - a node that died leaves its replica; the others take over its segments;
 *  - a new node joins the smallest replica and takes its share there;
 *  - replica sizes are kept within one node of each other;
 *  - released or dropped collections lose their placement, and nodes release them.
 */
import type { Catalog } from '../catalog/catalog.js'
import { DbError } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import type { Compare, MetaStore, Watcher } from '../infra/index.js'
import type { ClusterView, SessionInfo } from './session.js'

export const PLACEMENT_PREFIX = 'harrier/placement/'

interface Placement {
  readonly replicas: readonly (readonly string[])[]
}

function parsePlacement(text: string): Placement {
  const p = JSON.parse(text) as { replicas?: string[][]; nodes?: string[] }
  // Before replicas had several nodes, each placed node held a whole replica.
  return { replicas: p.replicas ?? (p.nodes ?? []).map((n) => [n]) }
}

/** FNV-1a over the text: a stable, well-spread 32-bit hash (not for security). */
function hash32(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  return h >>> 0
}

/** The node of `replica` that owns a flushed segment (highest random weight; ties by node id). */
export function segmentOwner(replica: readonly string[], segmentId: bigint | string): string | undefined {
  let best: string | undefined
  let bestScore = -1
  const seg = segmentId.toString()
  for (const n of replica) {
    const score = hash32(`${n}/${seg}`)
    if (score > bestScore || (score === bestScore && best !== undefined && n < best)) {
      best = n
      bestScore = score
    }
  }
  return best
}

/** Every process's view of the placement (query nodes load by it, proxies route by it). */
export class PlacementView {
  private readonly map = new Map<string, Placement>()
  private watcher: Watcher | undefined
  private readonly listeners: (() => void)[] = []

  static async open(store: MetaStore): Promise<PlacementView> {
    const v = new PlacementView()
    const rev = await store.currentRevision()
    for (const kv of await store.scan(PLACEMENT_PREFIX)) v.map.set(kv.key.slice(PLACEMENT_PREFIX.length), parsePlacement(kv.value))
    v.watcher = store.watch(PLACEMENT_PREFIX, { fromRevision: rev }, (events) => {
      for (const e of events) {
        const id = e.kv.key.slice(PLACEMENT_PREFIX.length)
        if (e.type === 'put') v.map.set(id, parsePlacement(e.kv.value))
        else v.map.delete(id)
      }
      for (const fn of v.listeners) fn()
    })
    return v
  }

  /** Every node holding a share of the collection, in any replica. */
  nodesOf(collectionId: bigint | string): readonly string[] {
    return this.replicasOf(collectionId).flat()
  }

  replicasOf(collectionId: bigint | string): readonly (readonly string[])[] {
    return this.map.get(collectionId.toString())?.replicas ?? []
  }

  /** The replica (its nodes) that `nodeId` belongs to for the collection. */
  replicaOf(collectionId: bigint | string, nodeId: string): readonly string[] | undefined {
    return this.replicasOf(collectionId).find((r) => r.includes(nodeId))
  }

  entries(): [string, readonly (readonly string[])[]][] {
    return [...this.map].map(([k, p]) => [k, p.replicas])
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn)
  }

  close(): void {
    this.watcher?.cancel()
  }
}

/** Live query nodes that are placed for the collection and report serving it. */
export function servingNodes(view: ClusterView, placement: PlacementView, collectionId: bigint): SessionInfo[] {
  const placed = new Set(placement.nodesOf(collectionId))
  const id = collectionId.toString()
  return view.nodes('querynode').filter((n) => placed.has(n.nodeId) && n.serving?.collections?.includes(id))
}

export class QueryCoord {
  private readonly store: MetaStore
  private readonly catalog: Catalog
  private readonly view: ClusterView
  private readonly placement: PlacementView
  private readonly log: Logger
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> = Promise.resolve()
  private dirty = false
  private readonly fence: readonly Compare[]

  /** `fence`: the coordinator's election guard; placement written by a deposed coordinator is refused. */
  constructor(deps: { store: MetaStore; catalog: Catalog; view: ClusterView; placement: PlacementView; log: Logger; fence: readonly Compare[] }) {
    this.fence = deps.fence
    this.store = deps.store
    this.catalog = deps.catalog
    this.view = deps.view
    this.placement = deps.placement
    this.log = deps.log
  }

  start(): void {
    this.view.onChange(() => this.kick())
    this.timer = setInterval(() => this.kick(), 500)
    this.timer.unref()
    this.kick()
  }

  /** Runs a reconcile pass soon; passes never overlap. */
  kick(): void {
    if (this.dirty) return
    this.dirty = true
    this.running = this.running.then(async () => {
      this.dirty = false
      await this.reconcile().catch((e: unknown) => this.log.warn({ err: e }, 'placement reconcile failed'))
    })
  }

  /** Query nodes placed for the collection that already serve it. */
  serving(collectionId: bigint): SessionInfo[] {
    return servingNodes(this.view, this.placement, collectionId)
  }

  private async reconcile(): Promise<void> {
    const live = this.view
      .nodes('querynode')
      .map((n) => n.nodeId)
      .sort()
    const alive = new Set(live)
    const loaded = this.catalog.allCollections().filter((c) => c.load)
    const next = new Map<string, string[][]>()
    for (const c of loaded) next.set(c.id.toString(), planReplicas(this.placement.replicasOf(c.id), live, alive, c.load!.replicaNumber))
    // Write what changed, and forget collections no longer loaded.
    for (const [id, replicas] of next) {
      if (JSON.stringify(this.placement.replicasOf(id)) === JSON.stringify(replicas)) continue
      await this.write({ type: 'put', key: PLACEMENT_PREFIX + id, value: JSON.stringify({ replicas }) })
      this.log.info({ collection: id, replicas }, 'collection placement')
    }
    for (const [id] of this.placement.entries()) {
      if (!next.has(id)) await this.write({ type: 'delete', key: PLACEMENT_PREFIX + id })
    }
  }

  private async write(op: { type: 'put'; key: string; value: string } | { type: 'delete'; key: string }): Promise<void> {
    const res = await this.store.txn({ compare: this.fence, success: [op] })
    if (!res.succeeded) throw new DbError('ServiceUnavailable', 'this coordinator is no longer active; placement not written')
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
  }
}

/**
 * The next replica groups for one collection: dead nodes leave, every live node belongs to one of
 * min(R, live nodes) replicas, and replica sizes differ by at most one. Nodes stay where they are
 * unless a replica must shrink, so segments move only as far as they must.
 */
export function planReplicas(current: readonly (readonly string[])[], live: readonly string[], alive: ReadonlySet<string>, replicaNumber: number): string[][] {
  const want = Math.min(replicaNumber, live.length)
  const groups = current.map((g) => g.filter((n) => alive.has(n))).filter((g) => g.length > 0)
  const placed = new Set(groups.flat())
  const spare = live.filter((n) => !placed.has(n))
  const smallest = () => groups.reduce((a, g) => (g.length < a.length ? g : a), groups[0]!)
  const largest = () => groups.reduce((a, g) => (g.length > a.length ? g : a), groups[0]!)
  // Too many replicas (replica_number lowered, or nodes lost): fold the smallest into the others.
  while (groups.length > want) {
    const g = smallest()
    groups.splice(groups.indexOf(g), 1)
    spare.push(...g)
  }
  // Too few: new replicas from spare nodes first, then from the largest replica's surplus.
  while (groups.length < want) {
    const from = spare.shift() ?? (largest().length > 1 ? largest().pop() : undefined)
    if (from === undefined) break
    groups.push([from])
  }
  for (const n of spare) smallest().push(n)
  // Even out: a node moves from the largest replica to the smallest while they differ by two or more.
  while (groups.length > 1 && largest().length - smallest().length > 1) smallest().push(largest().pop()!)
  return groups
}
