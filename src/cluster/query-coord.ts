/**
 * Query coordination in a cluster: which query nodes hold each loaded collection.
 *
 *   harrier/placement/{collectionId}   {"nodes": [nodeId, ...]}   written by the active coordinator
 *
 * A collection loaded with replica_number R is placed on R query nodes (the least loaded, by rows),
 * each holding all of its flushed segments; every query node follows the whole WAL, so growing data
 * is everywhere and a node placed later only reads flushed segments. The coordinator reconciles
 * placement against the live sessions (checker -> change, as Milvus's querycoord does):
 *
 *  - a node that died is replaced by another live node (complete results again once it has loaded);
 *  - a new node takes collections from the most loaded node: it is added first, and the old
 *    holder is removed only once the new one reports serving (no window without a replica);
 *  - released or dropped collections lose their placement, and nodes release them.
 *
 * Placement is per collection, so capacity grows with the number of collections, not within one.
 */
import type { Catalog } from '../catalog/catalog.js'
import { DbError } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import type { Compare, MetaStore, Watcher } from '../infra/index.js'
import type { ClusterView, SessionInfo } from './session.js'

export const PLACEMENT_PREFIX = 'harrier/placement/'

interface Placement {
  readonly nodes: readonly string[]
}

/** Every process's view of the placement (query nodes load by it, proxies route by it). */
export class PlacementView {
  private readonly map = new Map<string, Placement>()
  private watcher: Watcher | undefined
  private readonly listeners: (() => void)[] = []

  static async open(store: MetaStore): Promise<PlacementView> {
    const v = new PlacementView()
    const rev = await store.currentRevision()
    for (const kv of await store.scan(PLACEMENT_PREFIX)) v.map.set(kv.key.slice(PLACEMENT_PREFIX.length), JSON.parse(kv.value) as Placement)
    v.watcher = store.watch(PLACEMENT_PREFIX, { fromRevision: rev }, (events) => {
      for (const e of events) {
        const id = e.kv.key.slice(PLACEMENT_PREFIX.length)
        if (e.type === 'put') v.map.set(id, JSON.parse(e.kv.value) as Placement)
        else v.map.delete(id)
      }
      for (const fn of v.listeners) fn()
    })
    return v
  }

  nodesOf(collectionId: bigint | string): readonly string[] {
    return this.map.get(collectionId.toString())?.nodes ?? []
  }

  entries(): [string, readonly string[]][] {
    return [...this.map].map(([k, p]) => [k, p.nodes])
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
    const nodes = this.view.nodes('querynode')
    const alive = new Set(nodes.map((n) => n.nodeId))
    const serves = (nodeId: string, id: string) => !!nodes.find((n) => n.nodeId === nodeId)?.serving?.collections?.includes(id)
    const loaded = this.catalog.allCollections().filter((c) => c.load)
    const rowsOf = new Map(loaded.map((c) => [c.id.toString(), Math.max(1, this.catalog.segmentsOf(c.id).reduce((a, s) => a + s.numRows, 0))]))
    const next = new Map<string, string[]>()
    for (const c of loaded) next.set(c.id.toString(), this.placement.nodesOf(c.id).filter((n) => alive.has(n)))
    const load = (nodeId: string) => [...next].reduce((a, [id, ns]) => a + (ns.includes(nodeId) ? rowsOf.get(id)! : 0), 0)
    // Fill: every collection on min(R, live nodes) nodes, the least loaded first.
    for (const c of loaded) {
      const id = c.id.toString()
      const want = Math.min(c.load!.replicaNumber, alive.size)
      const cur = next.get(id)!
      while (cur.length < want) {
        const pick = [...alive].filter((n) => !cur.includes(n)).sort((a, b) => load(a) - load(b) || (a < b ? -1 : 1))[0]
        if (!pick) break
        cur.push(pick)
      }
      // Surplus from an earlier move: drop the extra holder once the others serve.
      while (cur.length > want && cur.filter((n) => serves(n, id)).length > want) {
        const victim = [...cur].sort((a, b) => load(b) - load(a))[0]!
        cur.splice(cur.indexOf(victim), 1)
      }
    }
    // Balance: move one collection from the most to the least loaded node when that narrows the gap.
    const live = [...alive]
    if (live.length > 1) {
      live.sort((a, b) => load(a) - load(b))
      const low = live[0]!
      const high = live[live.length - 1]!
      const candidates = [...next].filter(([, ns]) => ns.includes(high) && !ns.includes(low)).sort((a, b) => rowsOf.get(a[0])! - rowsOf.get(b[0])!)
      for (const [id, ns] of candidates) {
        const size = rowsOf.get(id)!
        if (load(high) - size < load(low) + size - 0) continue // moving would not narrow the gap
        // Add the new holder now; the surplus rule above removes the old one once it serves.
        ns.push(low)
        this.log.info({ collection: id, from: high, to: low }, 'moving a collection replica to balance query nodes')
        break
      }
    }
    // Write what changed, and forget collections no longer loaded.
    for (const [id, ns] of next) {
      const old = this.placement.nodesOf(id)
      if (old.length === ns.length && old.every((n, i) => n === ns[i])) continue
      await this.write({ type: 'put', key: PLACEMENT_PREFIX + id, value: JSON.stringify({ nodes: ns }) })
      this.log.info({ collection: id, nodes: ns }, 'collection placement')
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
