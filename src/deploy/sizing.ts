/**
 * `harrier sizing`: memory, CPU and disk per role for a collection, a suggested host plan, and the
 * formulas behind every number.
 *
 * The memory model is Harrier's as built today, not Milvus's: a query node keeps each sealed
 * segment's vector column in memory (search results are re-scored exactly from it, and growing
 * segments and filters scan it). HNSW on float, float16, bfloat16 and int8 vectors is Harrier's
 * column graph (src/index/column-graph.ts): neighbour lists only, distances read the column in
 * place, plus 8 bytes a row (the row list and a per-row norm or MIPS coordinate), so one copy of
 * the vectors as in knowhere. HNSW on binary vectors keeps usearch's own copy (bits) beside the
 * column. IVF_FLAT keeps a
 * list-ordered copy of the rows; IVF_SQ8/IVF_PQ add codes next to the raw column
 * (src/index/README.md). The Milvus figure is printed alongside for comparison.
 *
 * Query nodes are counted with a spare (default 1): when a query node dies, its segments are
 * loaded by the others, which works only if the others have room for them at the fill target.
 *
 * Anchors: usearch's node layout, which the column graph shares (8-byte key, level byte(s), per level a 4-byte count and 4-byte
 * neighbour slots: 2M on level 0, M above, a node reaching level l with probability M^-l); the HNSW
 * build rate measured by src/index/hnsw.bench.ts (50k x 128, M=16, efConstruction=200 in 5.0 s on 2
 * threads, about 5,000 rows/s per core, cost proportional to dim x efConstruction); Milvus's rule of
 * 1 vCPU per 4 GiB of memory on query nodes; MinIO's default parity (EC:2 for 4-5 drives, EC:3 for
 * 6-7, EC:4 for 8 or more).
 */
import { invalid } from '../common/errors.js'
import { stringify } from 'yaml'
import { type HostPlan, hostsRunning, type PlanService } from './plan.js'
import { formatBytes, formatCount, GiB, MiB, parseBytes, parseCount, parseDurationSeconds } from './units.js'

export const SIZED_INDEXES = ['FLAT', 'HNSW', 'AUTOINDEX', 'IVF_FLAT', 'IVF_SQ8', 'IVF_PQ'] as const
export type SizedIndex = (typeof SIZED_INDEXES)[number]
export const VECTOR_TYPES = ['float', 'float16', 'bfloat16', 'int8', 'binary'] as const
export type VectorKind = (typeof VECTOR_TYPES)[number]

export interface HostShape {
  readonly cpus: number
  readonly memoryBytes: number
}

export interface SizingInput {
  readonly vectors: number
  readonly dim: number
  readonly vectorType: VectorKind
  readonly index: SizedIndex
  readonly M: number
  readonly efConstruction: number
  readonly nlist: number
  readonly pqM: number
  /** In-memory replicas of the collection (Milvus's replica_number). */
  readonly replicas: number
  /** Average bytes of the user's scalar fields per row (the PK and timestamp are counted already). */
  readonly scalarBytes: number
  readonly shards: number
  readonly segmentBytes: number
  readonly queryHost: HostShape
  readonly indexHost: HostShape
  /** Fraction of a query host's memory (after the reserve) that loaded segments may fill. */
  readonly fill: number
  /** Per host: OS, the Node.js runtime, cAdvisor. */
  readonly reserveBytes: number
  /** Rebuild every index within this many seconds with all index nodes. */
  readonly buildWindowSec: number
  /** Sustained insert rate (vectors/s): sizes the WAL broker's disk. */
  readonly insertRate: number
  /** Extra WAL history to keep beyond what is flushed (seconds). */
  readonly walRetentionSec: number
  readonly minioHosts: number
  /** Query nodes beyond what memory needs, so a lost node's segments fit on the others. */
  readonly spare: number
}

export const SIZING_DEFAULTS: Omit<SizingInput, 'vectors' | 'dim'> = {
  vectorType: 'float',
  index: 'HNSW',
  M: 16,
  efConstruction: 200,
  nlist: 1024,
  pqM: 0,
  replicas: 1,
  scalarBytes: 0,
  shards: 2,
  segmentBytes: 512 * MiB,
  queryHost: { cpus: 16, memoryBytes: 64 * GiB },
  indexHost: { cpus: 8, memoryBytes: 16 * GiB },
  fill: 0.8,
  reserveBytes: 2 * GiB,
  buildWindowSec: 1800,
  insertRate: 10_000,
  walRetentionSec: 0,
  minioHosts: 4,
  spare: 1,
}

/** Harrier's seal flush interval default (--flush-interval-ms 300000): the most unflushed WAL data. */
const FLUSH_INTERVAL_SEC = 300
/** Primary key (int64) and timestamp (uint64) per row. */
const SYSTEM_BYTES_PER_ROW = 16
/** Measured HNSW build rate at 128 dims, efConstruction 200 (hnsw.bench.ts). */
const HNSW_ROWS_PER_CORE_SEC_128 = 5000
/**
 * IVF builds measured by src/index/ivf.bench.ts (50k x 128, nlist 1024, one thread, clustered data
 * where k-means pruning works best): IVF_FLAT 3.2 s, IVF_SQ8 3.5 s, IVF_PQ (m=32) 8.0 s; 4x the lists
 * cost ~3.2x the time (nlist 256: 1.0 s), i.e. time grows as nlist^0.84.
 */
const IVF_ROWS_PER_CORE_SEC_128: Readonly<Record<'IVF_FLAT' | 'IVF_SQ8' | 'IVF_PQ', number>> = { IVF_FLAT: 50_000 / 3.2, IVF_SQ8: 50_000 / 3.5, IVF_PQ: 50_000 / 8.0 }
const IVF_NLIST_EXPONENT = 0.84
const WAL_REPLICAS = 3

export interface Line {
  readonly label: string
  readonly formula: string
  readonly value: string
}

export interface RoleEstimate {
  readonly role: 'querynode' | 'indexnode' | 'datanode' | 'mixcoord' | 'proxy' | 'etcd' | 'nats' | 'minio'
  readonly count: number
  readonly cpus: number
  readonly memoryBytes: number
  readonly diskBytes: number
  readonly note: string
}

export interface ComparisonRow {
  readonly role: string
  readonly plan: string
  readonly estimate: string
  readonly verdict: 'agrees' | 'more than needed' | 'too small'
}

export interface SizingResult {
  readonly input: SizingInput
  readonly bytes: {
    readonly raw: number
    readonly scalars: number
    readonly indexMemory: number
    readonly milvusIndexMemory: number
    readonly growing: number
    readonly queryTotal: number
    readonly usablePerQueryHost: number
    readonly binlogs: number
    readonly indexFiles: number
    readonly objectStore: number
    readonly wal: number
  }
  readonly queryNodes: number
  readonly milvusQueryNodes: number
  readonly indexNodes: number
  readonly indexBuildThreads: number
  readonly segmentMaxRows: number
  readonly sections: readonly { readonly title: string; readonly lines: readonly Line[] }[]
  readonly roles: readonly RoleEstimate[]
  readonly comparison?: { readonly source: string; readonly rows: readonly ComparisonRow[] }
}

function elementBytes(t: VectorKind, dim: number): number {
  switch (t) {
    case 'float':
      return dim * 4
    case 'float16':
    case 'bfloat16':
      return dim * 2
    case 'int8':
      return dim
    case 'binary':
      return Math.ceil(dim / 8)
  }
}

/**
 * Bytes per vector an HNSW index adds beside the column and graph: the column graph's row list and
 * per-row value for float32, float16, bfloat16 and int8 rows (read in place); usearch's copy, in
 * bits, for binary rows.
 */
export function hnswCopyBytes(t: VectorKind, dim: number): number {
  return t === 'binary' ? Math.ceil(dim / 8) : COLUMN_GRAPH_ROW_BYTES
}

/** The column graph's per-row extras: a 4-byte row number and a 4-byte norm or MIPS coordinate. */
const COLUMN_GRAPH_ROW_BYTES = 8

/** Graph bytes per node: key + level, level 0 (count + 2M slots), expected upper levels. */
export function hnswGraphBytesPerRow(M: number): number {
  return 10 + (4 + 2 * M * 4) + (4 + M * 4) / (M - 1)
}

/** MinIO's default parity for N drives, as the storage overhead factor N / (N - parity). */
export function erasureOverhead(drives: number): number {
  if (drives <= 1) return 1
  const parity = drives >= 8 ? 4 : drives >= 6 ? 3 : drives >= 4 ? 2 : 1
  return drives / (drives - parity)
}

function gib(b: number): string {
  return formatBytes(b)
}

interface IndexModel {
  /** Harrier query-node memory for `rows` rows (vector column included). */
  readonly memory: (rows: number) => number
  readonly milvusMemory: (rows: number) => number
  /** Index files written to the object store. */
  readonly files: (rows: number) => number
  readonly memoryFormula: string
  readonly milvusFormula: string
  readonly filesFormula: string
  /** Core-seconds to build the index over `rows` rows. */
  readonly buildCoreSec: (rows: number) => number
  readonly buildFormula: string
}

function indexModel(i: SizingInput): IndexModel {
  const e = elementBytes(i.vectorType, i.dim)
  const d = i.dim
  switch (i.index) {
    case 'FLAT':
      return {
        memory: (n) => n * e,
        milvusMemory: (n) => n * e,
        files: (n) => n * e,
        memoryFormula: 'n x bytes/vector (the column is the index)',
        milvusFormula: 'n x bytes/vector',
        filesFormula: 'n x bytes/vector',
        buildCoreSec: () => 0,
        buildFormula: 'nothing to build',
      }
    case 'HNSW':
    case 'AUTOINDEX': {
      const g = hnswGraphBytesPerRow(i.M)
      const u = hnswCopyBytes(i.vectorType, d)
      const copy = i.vectorType !== 'binary' ? `column graph rows ${u} B` : `usearch copy ${u} B`
      const rate = HNSW_ROWS_PER_CORE_SEC_128 * (128 / d) * (200 / i.efConstruction)
      return {
        memory: (n) => n * (e + u + g),
        milvusMemory: (n) => n * (e + g),
        // The column graph's file is the graph alone; usearch's holds its copy.
        files: (n) => n * ((i.vectorType !== 'binary' ? 0 : u) + g + e),
        memoryFormula: `n x (column ${e} B + ${copy} + graph ${g.toFixed(2)} B), graph = 10 + 4 + 8M + (4M+4)/(M-1), M=${i.M}`,
        milvusFormula: 'n x (vector + graph)',
        filesFormula: i.vectorType !== 'binary' ? 'n x (graph + hnsw.data: the raw rows)' : 'n x (usearch file: copy + graph, plus hnsw.data: the raw rows)',
        buildCoreSec: (n) => n / rate,
        buildFormula: `n / (${HNSW_ROWS_PER_CORE_SEC_128} x 128/dim x 200/efConstruction) = n / ${rate.toFixed(0)} rows per core-second`,
      }
    }
    case 'IVF_FLAT':
    case 'IVF_SQ8':
    case 'IVF_PQ': {
      const centroids = i.nlist * d * 4
      const code = i.index === 'IVF_FLAT' ? e : i.index === 'IVF_SQ8' ? d : i.pqM
      const extra = i.index === 'IVF_SQ8' ? 2 * d * 4 : i.index === 'IVF_PQ' ? 256 * d * 4 : 0
      const milvusCode = i.index === 'IVF_FLAT' ? e : code
      const ivfRate = IVF_ROWS_PER_CORE_SEC_128[i.index] * (128 / d) * (1024 / i.nlist) ** IVF_NLIST_EXPONENT
      const what = i.index === 'IVF_FLAT' ? 'list-ordered copy' : i.index === 'IVF_SQ8' ? '1-byte codes per dim' : `${i.pqM} PQ codes`
      return {
        memory: (n) => n * (e + code + 4) + centroids + extra,
        milvusMemory: (n) => n * (milvusCode + 8) + centroids + extra,
        files: (n) => n * (e + code + 4) + centroids + extra,
        memoryFormula: `n x (column ${e} B + ${what} ${code} B + row id 4 B) + nlist x dim x 4 centroids`,
        milvusFormula: `n x (${i.index === 'IVF_FLAT' ? 'vector' : 'code'} + 8 B id) + centroids`,
        filesFormula: 'payload (centroids, lists, codes) + ivf.data (the raw rows)',
        buildCoreSec: (n) => n / ivfRate,
        buildFormula: `n / (${IVF_ROWS_PER_CORE_SEC_128[i.index].toFixed(0)} x 128/dim x (1024/nlist)^${IVF_NLIST_EXPONENT}) = n / ${ivfRate.toFixed(0)} rows per core-second (measured on clustered data; more on uniform data)`,
      }
    }
  }
}

/** Computes the estimate; with a plan, compares the plan's hosts with it. */
export function computeSizing(input: SizingInput, plan?: HostPlan): SizingResult {
  const i = input
  if (i.index === 'IVF_PQ' && (i.pqM <= 0 || i.dim % i.pqM !== 0)) throw invalid(`IVF_PQ: --pq-m ${i.pqM} must divide dim ${i.dim}`)
  if (i.vectorType === 'binary' && i.index !== 'FLAT' && i.index !== 'HNSW' && i.index !== 'AUTOINDEX') throw invalid(`${i.index} is for float vectors; size binary vectors as FLAT or HNSW`)
  const n = i.vectors
  const e = elementBytes(i.vectorType, i.dim)
  const model = indexModel(i)
  const raw = n * e
  const scalarPerRow = SYSTEM_BYTES_PER_ROW + i.scalarBytes
  const scalars = n * scalarPerRow
  const indexMemory = model.memory(n)
  const milvusIndexMemory = model.milvusMemory(n)
  // Every Harrier query node follows the whole channel, so each holds all growing rows (at most a
  // segment per shard before it is flushed); Milvus keeps them on one delegator per replica.
  const growing = i.shards * i.segmentBytes
  const sealed = (indexMemory + scalars) * i.replicas
  const usable = (i.queryHost.memoryBytes - i.reserveBytes) * i.fill
  if (!(usable > growing)) throw invalid(`--query-host memory must exceed the ${gib(i.reserveBytes)} reserve plus ${gib(growing)} of growing segments`)
  const memNodes = Math.ceil(sealed / (usable - growing))
  const queryTotal = sealed + growing * memNodes
  const milvusTotal = (milvusIndexMemory + scalars) * i.replicas + growing * i.replicas
  const queryNodes = Math.max(i.replicas, memNodes) + i.spare
  const milvusQueryNodes = Math.max(i.replicas, Math.ceil(milvusTotal / usable)) + i.spare
  const segmentMaxRows = Math.max(1, Math.floor(i.segmentBytes / (e + scalarPerRow)))

  // Index nodes: build throughput over the window, memory per concurrent build.
  const buildCoreSec = model.buildCoreSec(n)
  const indexCores = Math.max(1, i.indexHost.cpus)
  const indexNodes = Math.max(1, Math.ceil(buildCoreSec / (indexCores * i.buildWindowSec)))
  const perBuild = model.memory(segmentMaxRows) + model.files(segmentMaxRows)
  const indexBase = 1 * GiB
  const threadsByMemory = Math.floor((i.indexHost.memoryBytes - i.reserveBytes - indexBase) / perBuild)
  const indexBuildThreads = Math.max(1, Math.min(indexCores - 1 || 1, threadsByMemory))

  // Object store: binlogs + index files, compaction/GC headroom, erasure coding.
  const binlogs = n * (e + scalarPerRow)
  const indexFiles = model.files(n)
  const logical = (binlogs + indexFiles) * 1.25
  const ec = erasureOverhead(i.minioHosts)
  const objectStore = logical * ec

  // WAL: what is not flushed yet (or retained), replicated.
  const rowBytes = e + scalarPerRow
  const unflushed = Math.max(i.insertRate * rowBytes * FLUSH_INTERVAL_SEC, i.shards * i.segmentBytes)
  const retained = i.insertRate * rowBytes * i.walRetentionSec
  const wal = (unflushed + retained) * WAL_REPLICAS * 2
  const natsServers = 3

  const datanodes = i.shards >= 2 ? 2 : 1
  const datanodeMem = Math.ceil(((i.shards * i.segmentBytes * 2) / datanodes + 2 * GiB) / GiB) * GiB
  const segments = Math.ceil(n / segmentMaxRows)
  const perNodeAfterLoss = queryNodes > 1 ? sealed / (queryNodes - 1) + growing : Number.POSITIVE_INFINITY
  const lossShare = perNodeAfterLoss / (i.queryHost.memoryBytes - i.reserveBytes)
  const afterLoss = lossShare <= i.fill ? 'fits' : lossShare <= 1 ? `fits at ${(lossShare * 100).toFixed(0)}% (over the fill)` : 'does not fit (add --spare 1)'
  const queryCpus = Math.max(4, Math.round(i.queryHost.memoryBytes / (4 * GiB)))

  const sections: { title: string; lines: Line[] }[] = [
    {
      title: 'Data',
      lines: [
        { label: 'raw vectors', formula: `n x ${i.vectorType === 'binary' ? 'dim/8' : `dim x ${e / i.dim}`} = ${formatCount(n)} x ${e} B`, value: gib(raw) },
        { label: 'scalars', formula: `n x (8 B pk + 8 B timestamp + ${i.scalarBytes} B fields)`, value: gib(scalars) },
        { label: 'segments', formula: `segment ${gib(i.segmentBytes)} / ${rowBytes} B per row = ${formatCount(segmentMaxRows)} rows (--segment-max-rows)`, value: formatCount(segments) },
      ],
    },
    {
      title: `Query nodes (${i.index}${i.index === 'HNSW' || i.index === 'AUTOINDEX' ? `, M=${i.M}` : ''}, ${i.replicas} replica${i.replicas === 1 ? '' : 's'})`,
      lines: [
        { label: 'index in memory', formula: model.memoryFormula, value: gib(indexMemory) },
        { label: 'growing segments', formula: `shards x segment size = ${i.shards} x ${gib(i.segmentBytes)}, on every query node (each follows the whole channel)`, value: gib(growing) },
        { label: 'usable per host', formula: `(${gib(i.queryHost.memoryBytes)} - ${gib(i.reserveBytes)} reserve) x ${i.fill} fill`, value: gib(usable) },
        { label: 'query nodes', formula: `max(replicas, ceil((index + scalars) x replicas / (usable - growing))) = ceil(${gib(sealed)} / ${gib(usable - growing)}), + ${i.spare} spare (a lost node's segments reload on the others)`, value: String(queryNodes) },
        { label: 'total', formula: `(index + scalars) x replicas + growing x ${memNodes} nodes`, value: gib(queryTotal) },
        { label: 'CPU per node', formula: '1 vCPU per 4 GiB of memory (Milvus\'s ratio)', value: `${queryCpus} vCPU` },
        { label: 'after losing one', formula: `${gib(sealed)} / ${queryNodes - 1} nodes + growing = ${gib(perNodeAfterLoss)} each of ${gib(i.queryHost.memoryBytes - i.reserveBytes)}`, value: afterLoss },
        { label: 'Milvus (knowhere)', formula: `${model.milvusFormula}: ${gib(milvusIndexMemory)} + scalars + growing on one delegator per replica`, value: `${gib(milvusTotal)}, ${milvusQueryNodes} nodes` },
      ],
    },
    {
      title: 'Index nodes',
      lines: [
        { label: 'build work', formula: model.buildFormula, value: `${(buildCoreSec / 3600).toFixed(1)} core-hours` },
        { label: 'index nodes', formula: `ceil(core-hours / (${indexCores} cores x ${(i.buildWindowSec / 60).toFixed(0)} min window))`, value: String(indexNodes) },
        { label: 'memory per build', formula: `one segment's index in memory + its files = ${formatCount(segmentMaxRows)} rows`, value: gib(perBuild) },
        { label: 'build threads', formula: `min(cores - 1, (${gib(i.indexHost.memoryBytes)} - ${gib(i.reserveBytes)} - 1 GiB) / per build) (--index-build-threads)`, value: String(indexBuildThreads) },
      ],
    },
    {
      title: 'Storage',
      lines: [
        { label: 'binlogs', formula: 'n x (vector + pk + timestamp + fields)', value: gib(binlogs) },
        { label: 'index files', formula: model.filesFormula, value: gib(indexFiles) },
        { label: 'object store', formula: `(binlogs + index files) x 1.25 compaction/GC headroom x ${ec.toFixed(2)} erasure coding (${i.minioHosts} drives)`, value: `${gib(objectStore)}, ${gib(objectStore / Math.max(1, i.minioHosts))} per MinIO host` },
        { label: 'WAL (NATS)', formula: `max(rate x row x ${FLUSH_INTERVAL_SEC} s flush interval, shards x segment)${i.walRetentionSec > 0 ? ' + rate x row x retention' : ''} x ${WAL_REPLICAS} replicas x 2`, value: `${gib(wal)}, ${gib(wal / natsServers)} per server` },
        { label: 'etcd', formula: `catalog of ${formatCount(segments)} segments (~2 KiB each) under a 4 GiB quota`, value: `${gib(Math.max(segments * 2048, MiB))}; give each member a 20 GiB SSD` },
      ],
    },
  ]
  const roles: RoleEstimate[] = [
    { role: 'querynode', count: queryNodes, cpus: queryCpus, memoryBytes: i.queryHost.memoryBytes, diskBytes: 100 * GiB, note: `${gib(queryTotal / queryNodes)} of segments each` },
    { role: 'indexnode', count: indexNodes, cpus: i.indexHost.cpus, memoryBytes: i.indexHost.memoryBytes, diskBytes: 100 * GiB, note: `--index-build-threads ${indexBuildThreads}` },
    { role: 'datanode', count: datanodes, cpus: 4, memoryBytes: datanodeMem, diskBytes: 50 * GiB, note: 'buffers growing segments of its channels until flush' },
    { role: 'mixcoord', count: 2, cpus: 4, memoryBytes: 8 * GiB, diskBytes: 20 * GiB, note: 'active + standby (etcd election)' },
    { role: 'proxy', count: 3, cpus: 8, memoryBytes: 16 * GiB, diskBytes: 20 * GiB, note: 'behind nginx; on the 3 Swarm managers' },
    { role: 'etcd', count: 3, cpus: 4, memoryBytes: 8 * GiB, diskBytes: 20 * GiB, note: 'a majority survives one failure' },
    { role: 'nats', count: natsServers, cpus: 4, memoryBytes: 8 * GiB, diskBytes: Math.max(50 * GiB, wal / natsServers), note: `JetStream R${WAL_REPLICAS}` },
    { role: 'minio', count: i.minioHosts, cpus: 8, memoryBytes: 32 * GiB, diskBytes: objectStore / Math.max(1, i.minioHosts), note: `EC overhead ${ec.toFixed(2)}` },
  ]
  const result: SizingResult = {
    input: i,
    bytes: { raw, scalars, indexMemory, milvusIndexMemory, growing, queryTotal, usablePerQueryHost: usable, binlogs, indexFiles, objectStore, wal },
    queryNodes,
    milvusQueryNodes,
    indexNodes,
    indexBuildThreads,
    segmentMaxRows,
    sections,
    roles,
  }
  return plan ? { ...result, comparison: compare(result, plan) } : result
}

function compare(r: SizingResult, plan: HostPlan): { source: string; rows: ComparisonRow[] } {
  const rows: ComparisonRow[] = []
  const byRole = new Map(r.roles.map((x) => [x.role, x]))
  const describe = (hosts: ReturnType<typeof hostsRunning>) => {
    const mem = hosts.map((h) => h.resources.memoryBytes).filter((m): m is number => m !== undefined)
    const cpu = hosts.map((h) => h.resources.cpus).filter((c): c is number => c !== undefined)
    const shape = mem.length === hosts.length && cpu.length === hosts.length && new Set(mem).size === 1 && new Set(cpu).size === 1 ? ` x ${cpu[0]} CPU ${gib(mem[0]!)}` : ''
    return `${hosts.length}${shape}`
  }
  for (const role of ['querynode', 'indexnode', 'datanode', 'mixcoord', 'proxy', 'etcd', 'nats', 'minio'] as const) {
    const est = byRole.get(role)!
    const service: PlanService = role
    const hosts = hostsRunning(plan, service)
    if (role === 'mixcoord' && hosts.length === 0) continue
    let verdict: ComparisonRow['verdict'] = hosts.length === est.count ? 'agrees' : hosts.length > est.count ? 'more than needed' : 'too small'
    let estimate = `${est.count}`
    if (role === 'querynode') {
      // Capacity, not just the count: the plan's hosts may be bigger or smaller than assumed.
      // With a spare, the plan must hold everything after losing its largest hosts.
      const usable = hosts
        .map((h) => Math.max(0, ((h.resources.memoryBytes ?? r.input.queryHost.memoryBytes) - r.input.reserveBytes) * r.input.fill))
        .sort((x, y) => x - y)
        .slice(0, Math.max(0, hosts.length - r.input.spare))
        .reduce((s, u) => s + u, 0)
      estimate = `${est.count} x ${est.cpus} CPU ${gib(est.memoryBytes)} (needs ${gib(r.bytes.queryTotal)}; plan gives ${gib(usable)}${r.input.spare > 0 ? ` without ${r.input.spare} host${r.input.spare === 1 ? '' : 's'}` : ''})`
      if (usable < r.bytes.queryTotal) verdict = 'too small'
    }
    if (role === 'minio') {
      const disk = hosts.reduce((s, h) => s + (h.resources.dataDiskBytes ?? 0), 0)
      estimate = `${est.count}, ${gib(r.bytes.objectStore)} of disk (plan: ${disk > 0 ? gib(disk) : 'unknown'})`
      if (disk > 0 && disk < r.bytes.objectStore) verdict = 'too small'
      else if (hosts.length >= 4 && verdict !== 'too small') verdict = hosts.length === est.count ? 'agrees' : 'more than needed'
    }
    if (role === 'nats') {
      const disk = hosts.reduce((s, h) => s + (h.resources.dataDiskBytes ?? 0), 0)
      estimate = `${est.count}, ${gib(r.bytes.wal)} of disk (plan: ${disk > 0 ? gib(disk) : 'unknown'})`
      if (disk > 0 && disk < r.bytes.wal) verdict = 'too small'
    }
    rows.push({ role, plan: describe(hosts), estimate, verdict })
  }
  return { source: plan.source, rows }
}

function table(rows: readonly string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  return rows.map((r) => `  ${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')}`.trimEnd()).join('\n')
}

export function formatSizing(r: SizingResult): string {
  const i = r.input
  const out: string[] = []
  out.push(`Harrier sizing: ${formatCount(i.vectors)} x ${i.dim}-dim ${i.vectorType} vectors, ${i.index}, ${i.replicas} replica${i.replicas === 1 ? '' : 's'}, ${i.shards} shards`)
  for (const s of r.sections) {
    out.push('', s.title)
    out.push(table(s.lines.map((l) => [l.label, l.value, l.formula])))
  }
  out.push('', 'Per role (suggested hosts)')
  out.push(table([['role', 'count', 'vCPU', 'memory', 'disk', 'note'], ...r.roles.map((x) => [x.role, String(x.count), String(x.cpus), gib(x.memoryBytes), gib(x.diskBytes), x.note])]))
  const hosts = suggestedGroups(r)
  out.push('', `Suggested host plan (${hosts.reduce((s, g) => s + g.count, 0)} hosts; --out-plan FILE writes it as a host plan)`)
  out.push(table([['hosts', 'count', 'shape', 'services'], ...hosts.map((g) => [g.name, String(g.count), `${g.cpus} CPU ${gib(g.memoryBytes)}, data ${gib(g.dataBytes)}`, g.services.join(', ')])]))
  if (r.comparison) {
    out.push('', `Compared with ${r.comparison.source}`)
    out.push(table([['role', 'plan', 'estimate', 'verdict'], ...r.comparison.rows.map((c) => [c.role, c.plan, c.estimate, c.verdict])]))
  } else {
    out.push('', 'Compare with a plan: --plan deploy/examples/reference-26-hosts.yaml (the reference guide\'s 26 hosts).')
  }
  out.push('', `Set --segment-max-rows ${r.segmentMaxRows} on the roles so segments are ~${gib(i.segmentBytes)}.`)
  return `${out.join('\n')}\n`
}

interface HostGroup {
  readonly name: string
  readonly count: number
  readonly cpus: number
  readonly memoryBytes: number
  readonly dataBytes: number
  readonly services: readonly PlanService[]
}

/** Host groups like the reference guide's table: one kind of machine per group. */
export function suggestedGroups(r: SizingResult): HostGroup[] {
  const role = (x: RoleEstimate['role']) => r.roles.find((y) => y.role === x)!
  const round = (b: number) => Math.ceil(b / (50 * GiB)) * 50 * GiB
  const coordServices: PlanService[] = ['mixcoord', 'datanode']
  return [
    { name: 'query', count: role('querynode').count, cpus: role('querynode').cpus, memoryBytes: role('querynode').memoryBytes, dataBytes: 250 * GiB, services: ['querynode'] },
    { name: 'index', count: role('indexnode').count, cpus: role('indexnode').cpus, memoryBytes: role('indexnode').memoryBytes, dataBytes: 250 * GiB, services: ['indexnode'] },
    { name: 'coord', count: 2, cpus: 8, memoryBytes: Math.max(16 * GiB, role('datanode').memoryBytes + 8 * GiB), dataBytes: 100 * GiB, services: coordServices },
    { name: 'etcd', count: 3, cpus: 4, memoryBytes: 8 * GiB, dataBytes: 50 * GiB, services: ['etcd'] },
    { name: 'broker', count: role('nats').count, cpus: 4, memoryBytes: 8 * GiB, dataBytes: round(role('nats').diskBytes), services: ['nats'] },
    { name: 'manager', count: 3, cpus: 8, memoryBytes: 16 * GiB, dataBytes: 100 * GiB, services: ['proxy', 'nginx'] },
    { name: 'minio', count: role('minio').count, cpus: 8, memoryBytes: 32 * GiB, dataBytes: round(role('minio').diskBytes), services: ['minio'] },
  ]
}

/** The suggested hosts as a host plan `harrier deploy swarm` accepts (documentation addresses). */
export function sizingPlanYaml(r: SizingResult): string {
  const hosts: Record<string, unknown>[] = []
  let addr = 10
  for (const g of suggestedGroups(r)) {
    for (let k = 1; k <= g.count; k++) {
      const services: string[] = [...g.services]
      if (g.name === 'manager' && k === 1) services.push('prometheus', 'grafana')
      hosts.push({
        name: `${g.name}${k}`,
        address: `192.0.2.${addr++}`,
        ...(g.name === 'manager' ? { manager: true } : {}),
        services,
        resources: { cpus: g.cpus, memory: `${Math.round(g.memoryBytes / GiB)}GiB`, dataDisk: `${Math.round(g.dataBytes / GiB)}GiB` },
      })
    }
  }
  const i = r.input
  return `# Suggested by: harrier sizing --vectors ${i.vectors} --dim ${i.dim} --index ${i.index} --replicas ${i.replicas} --spare ${i.spare}
# Addresses are placeholders (192.0.2.0/24 is reserved for documentation): put your hosts' in.
${stringify({ cluster: { name: 'harrier' }, hosts }, { lineWidth: 0 })}`
}

export const SIZING_HELP = `Usage: harrier sizing --vectors N --dim D [options]

Estimates memory, CPU and disk per role for one collection and suggests a host plan, printing the
formula behind every number. Counts take suffixes: 100k, 30m, 1.5b.

Options:
  --vectors N            number of vectors (required), e.g. 30m
  --dim D                vector dimension (required)
  --index TYPE           FLAT, HNSW (default), AUTOINDEX, IVF_FLAT, IVF_SQ8, IVF_PQ
  --vector-type T        float (default), float16, bfloat16, int8, binary
  --replicas N           in-memory replicas (load replica_number), default 1
  --m M                  HNSW M, default 16 (Harrier's default when an index omits it: 30)
  --ef-construction E    HNSW efConstruction, default 200 (server default: 360)
  --nlist N              IVF lists, default 1024
  --pq-m M               IVF_PQ sub-quantizers (must divide dim), default dim/8
  --scalar-bytes B       average bytes of scalar fields per row, default 0
  --shards N             shards (vchannels) per collection, default 2
  --segment-size SIZE    sealed segment size, default 512MiB
  --query-host SHAPE     query host, CPUs and memory: default 16c64g (the reference guide's)
  --index-host SHAPE     index host, default 8c16g
  --fill F               share of (memory - reserve) loaded segments may use, default 0.8
  --reserve SIZE         memory kept for the OS and runtime per host, default 2GiB
  --build-window DUR     rebuild all indexes within this time, default 30m
  --insert-rate N        sustained inserts per second (WAL disk), default 10k
  --wal-retention DUR    extra WAL history to keep, default 0s
  --minio-hosts N        MinIO hosts (erasure coding overhead), default 4
  --spare N              query nodes beyond what memory needs, so a lost node's segments reload
                         on the others, default 1
  --plan FILE            compare with a host plan (its hosts' resources)
  --out-plan FILE        write the suggested hosts as a host plan (YAML)
  --json                 print the result as JSON
  --help                 this text

Example (the reference guide's cluster):
  harrier sizing --vectors 30m --dim 1024 --index HNSW --plan deploy/examples/reference-26-hosts.yaml
`

const VALUE_FLAGS = [
  'vectors',
  'dim',
  'index',
  'vector-type',
  'replicas',
  'm',
  'ef-construction',
  'nlist',
  'pq-m',
  'scalar-bytes',
  'shards',
  'segment-size',
  'query-host',
  'index-host',
  'fill',
  'reserve',
  'build-window',
  'insert-rate',
  'wal-retention',
  'minio-hosts',
  'spare',
  'plan',
  'out-plan',
] as const
const BOOL_FLAGS = ['json'] as const

/** "16c64g" -> 16 CPUs, 64 GiB. */
export function parseHostShape(s: string, what: string): HostShape {
  const m = /^(\d+)c(\d+(?:\.\d+)?)(g|gi|gib)?$/i.exec(s.trim())
  if (!m) throw invalid(`${what}: expected CPUs and GiB of memory such as 16c64g, got ${JSON.stringify(s)}`)
  return { cpus: Number(m[1]), memoryBytes: Math.round(Number(m[2]) * GiB) }
}

function int(s: string, what: string, min: number, max: number): number {
  const n = parseCount(s, what)
  if (n < min || n > max) throw invalid(`${what}: expected ${min}-${max}, got ${s}`)
  return n
}

export interface SizingArgs {
  readonly input: SizingInput
  readonly plan?: string
  readonly outPlan?: string
  readonly json: boolean
}

/**
 * Reads the sizing flags. `parse` is the CLI's flag parser (it reports unknown options as usage
 * errors); `usage` builds the usage error for a missing required flag.
 */
export function parseSizingArgs(
  parse: (names: readonly string[], bools: readonly string[]) => Map<string, string>,
  usage: (msg: string) => Error,
): SizingArgs {
  const f = parse(VALUE_FLAGS, BOOL_FLAGS)
  if (!f.has('vectors')) throw usage('--vectors is required')
  if (!f.has('dim')) throw usage('--dim is required')
  const d = SIZING_DEFAULTS
  const vectors = int(f.get('vectors')!, '--vectors', 1, 1e13)
  const dim = int(f.get('dim')!, '--dim', 1, 32768)
  const index = (f.get('index') ?? d.index).toUpperCase()
  if (!(SIZED_INDEXES as readonly string[]).includes(index)) throw invalid(`--index ${index}: expected one of ${SIZED_INDEXES.join(', ')} (other types are served by HNSW in Harrier today: size them as HNSW)`)
  const vectorType = (f.get('vector-type') ?? d.vectorType).toLowerCase()
  if (!(VECTOR_TYPES as readonly string[]).includes(vectorType)) throw invalid(`--vector-type ${vectorType}: expected one of ${VECTOR_TYPES.join(', ')}`)
  const fill = Number(f.get('fill') ?? d.fill)
  if (!(fill > 0 && fill <= 1)) throw invalid(`--fill: expected a fraction in (0, 1], got ${f.get('fill')}`)
  const autoindex = index === 'AUTOINDEX'
  const M = int(f.get('m') ?? String(autoindex ? 18 : d.M), '--m', 2, 2048)
  return {
    input: {
      vectors,
      dim,
      index: index as SizedIndex,
      vectorType: vectorType as VectorKind,
      M,
      efConstruction: int(f.get('ef-construction') ?? String(autoindex ? 240 : d.efConstruction), '--ef-construction', 1, 1e6),
      nlist: int(f.get('nlist') ?? String(d.nlist), '--nlist', 1, 65536),
      pqM: int(f.get('pq-m') ?? String(Math.max(1, Math.floor(dim / 8))), '--pq-m', 1, 65536),
      replicas: int(f.get('replicas') ?? String(d.replicas), '--replicas', 1, 100),
      scalarBytes: int(f.get('scalar-bytes') ?? String(d.scalarBytes), '--scalar-bytes', 0, 1e9),
      shards: int(f.get('shards') ?? String(d.shards), '--shards', 1, 256),
      segmentBytes: f.has('segment-size') ? parseBytes(f.get('segment-size')!, '--segment-size') : d.segmentBytes,
      queryHost: f.has('query-host') ? parseHostShape(f.get('query-host')!, '--query-host') : d.queryHost,
      indexHost: f.has('index-host') ? parseHostShape(f.get('index-host')!, '--index-host') : d.indexHost,
      fill,
      reserveBytes: f.has('reserve') ? parseBytes(f.get('reserve')!, '--reserve') : d.reserveBytes,
      buildWindowSec: f.has('build-window') ? parseDurationSeconds(f.get('build-window')!, '--build-window') : d.buildWindowSec,
      insertRate: int(f.get('insert-rate') ?? String(d.insertRate), '--insert-rate', 0, 1e9),
      walRetentionSec: f.has('wal-retention') ? parseDurationSeconds(f.get('wal-retention')!, '--wal-retention') : d.walRetentionSec,
      minioHosts: int(f.get('minio-hosts') ?? String(d.minioHosts), '--minio-hosts', 1, 1000),
      spare: int(f.get('spare') ?? String(d.spare), '--spare', 0, 1000),
    },
    plan: f.get('plan'),
    outPlan: f.get('out-plan'),
    json: f.has('json'),
  }
}
