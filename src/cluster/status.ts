/**
 * `harrier status`: the cluster as etcd sees it — every registered process with its health, the
 * elected coordinator and channel owner, the WAL checkpoints, and what each query node serves.
 * Read-only: it opens the catalog and the session keys, probes each /healthz, and changes nothing.
 */
import { Catalog } from '../catalog/catalog.js'
import type { MetaStore } from '../infra/index.js'
import { PlacementView } from './query-coord.js'
import { ClusterView, type SessionInfo } from './session.js'

export interface ProcessStatus extends SessionInfo {
  readonly health: string
  readonly healthy: boolean
  /** Elections this process holds (`mixcoord`, `channel/<name>`). */
  readonly holds: readonly string[]
}

export interface CollectionStatus {
  readonly db: string
  readonly name: string
  readonly id: string
  readonly shards: number
  readonly loaded: boolean
  readonly flushedSegments: number
  readonly flushedRows: number
  readonly indexedSegments: number
  readonly checkpoints: readonly { shard: number; offset: string }[]
  /** Query nodes that report serving it. */
  readonly servedBy: readonly string[]
  /** The coordinator's placement: each replica's query nodes. */
  readonly replicas: readonly (readonly string[])[]
  /** Per query node: the flushed segments and rows of this collection it holds. */
  readonly held: Readonly<Record<string, { segments: number; rows: number }>>
}

export interface ClusterStatus {
  readonly processes: readonly ProcessStatus[]
  readonly leaders: Readonly<Record<string, string>>
  readonly collections: readonly CollectionStatus[]
}

async function probe(address: string, timeoutMs: number): Promise<{ healthy: boolean; health: string }> {
  try {
    const r = await fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(timeoutMs) })
    const body = (await r.text()).trim()
    return { healthy: r.status === 200, health: body.slice(0, 120) }
  } catch (e) {
    return { healthy: false, health: `unreachable: ${e instanceof Error ? e.message : String(e)}` }
  }
}

export async function clusterStatus(meta: MetaStore, opts: { probeTimeoutMs?: number } = {}): Promise<ClusterStatus> {
  const view = await ClusterView.open(meta)
  const placement = await PlacementView.open(meta)
  try {
    const catalog = new Catalog(meta)
    await catalog.load()
    const leaders: Record<string, string> = {}
    for (const name of ['mixcoord', ...view.leadersWith('channel/').map(([n]) => n)]) {
      const l = view.leader(name)
      if (l) leaders[name] = l.nodeId
    }
    const processes = await Promise.all(
      view
        .all()
        .sort((a, b) => (a.role === b.role ? (a.nodeId < b.nodeId ? -1 : 1) : a.role < b.role ? -1 : 1))
        .map(async (s) => {
          const h = await probe(s.metricsAddress, opts.probeTimeoutMs ?? 2000)
          const holds = Object.entries(leaders)
            .filter(([, id]) => id === s.nodeId)
            .map(([n]) => n)
          // The elected address is where a coordinator or channel owner actually serves.
          const elected = holds.map((n) => view.leader(n)?.address).find((a) => !!a)
          return { ...s, address: s.address || elected || '', ...h, holds }
        }),
    )
    const dbs = new Map(catalog.listDatabases().map((d) => [d.id, d.name]))
    const collections = catalog.allCollections().map((c) => {
      const segs = catalog.segmentsOf(c.id)
      const rowsOf = new Map(segs.map((x) => [x.id.toString(), x.numRows]))
      const held: Record<string, { segments: number; rows: number }> = {}
      for (const n of view.nodes('querynode')) {
        const ids = n.serving?.segments?.[c.id.toString()]
        if (ids) held[n.nodeId] = { segments: ids.length, rows: ids.reduce((a, id) => a + (rowsOf.get(id) ?? 0), 0) }
      }
      const indexed = new Set(catalog.segmentIndexesOf(c.id).map((i) => i.segmentId))
      return {
        db: dbs.get(c.dbId) ?? c.dbId.toString(),
        name: c.name,
        id: c.id.toString(),
        shards: c.shardsNum,
        loaded: !!c.load,
        flushedSegments: segs.length,
        flushedRows: segs.reduce((a, s) => a + s.numRows, 0),
        indexedSegments: segs.filter((s) => indexed.has(s.id)).length,
        checkpoints: Array.from({ length: c.shardsNum }, (_, shard) => ({ shard, offset: (catalog.checkpoint(c.id, shard)?.offset ?? 0n).toString() })),
        servedBy: view
          .nodes('querynode')
          .filter((n) => n.serving?.collections?.includes(c.id.toString()))
          .map((n) => n.nodeId),
        replicas: placement.replicasOf(c.id),
        held,
      }
    })
    return { processes, leaders, collections }
  } finally {
    view.close()
    placement.close()
  }
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')
}

export function formatStatus(s: ClusterStatus): string {
  const out: string[] = []
  out.push(`Processes (${s.processes.length}):`)
  if (s.processes.length === 0) out.push('  none registered')
  else
    out.push(
      table([
        ['ROLE', 'NODE', 'ADDRESS', 'METRICS', 'HEALTH', 'HOLDS', 'SERVES (collection:held segments/rows)'],
        ...s.processes.map((p) => [
          p.role,
          p.nodeId,
          p.address || '-',
          p.metricsAddress,
          `${p.healthy ? 'ok' : 'DOWN'} ${p.health}`,
          p.holds.join(',') || '-',
          (p.serving?.collections ?? [])
            .map((id) => {
              const c = s.collections.find((x) => x.id === id)
              const h = c?.held[p.nodeId]
              return c ? `${c.name}:${h?.segments ?? 0}/${h?.rows ?? 0}` : id
            })
            .join(' ') || '-',
        ]),
      ])
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    )
  out.push('')
  out.push('Elected:')
  out.push(`  coordinator    ${s.leaders.mixcoord ?? 'NONE (no mixcoord is active)'}`)
  for (const [name, id] of Object.entries(s.leaders)) if (name.startsWith('channel/')) out.push(`  ${name.padEnd(14)} ${id}`)
  if (!Object.keys(s.leaders).some((n) => n.startsWith('channel/'))) out.push('  channel owner  NONE (no datanode owns the WAL channel)')
  out.push('')
  out.push(`Collections (${s.collections.length}):`)
  if (s.collections.length > 0)
    out.push(
      table([
        ['DB', 'COLLECTION', 'LOADED', 'SEGMENTS', 'ROWS(FLUSHED)', 'INDEXED', 'CHECKPOINTS', 'REPLICAS (query nodes)'],
        ...s.collections.map((c) => [
          c.db,
          c.name,
          c.loaded ? 'yes' : 'no',
          String(c.flushedSegments),
          String(c.flushedRows),
          `${c.indexedSegments}/${c.flushedSegments}`,
          c.checkpoints.map((p) => `${p.shard}:${p.offset}`).join(' '),
          c.replicas.length > 0 ? c.replicas.map((r) => `[${r.map((n) => (c.servedBy.includes(n) ? n : `${n}(loading)`)).join(',')}]`).join(' ') : '-',
        ]),
      ])
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    )
  return out.join('\n')
}
