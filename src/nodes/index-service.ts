/**
 * Index coordinator and index node of standalone: builds each vector index for each flushed
 * segment off the event loop, stores the index files in the object store, records them in the
 * catalog, and attaches them to the in-memory segment so searches use them. Segments without a
 * built index (growing ones, or while a build runs) are searched exactly, so results never wait.
 *
 * FLAT and BIN_FLAT need no build: exact search over the segment's column *is* the index.
 */
import type { Catalog, CatalogChange } from '../catalog/catalog.js'
import type { CollectionInfo, IndexInfo, SegmentIndexInfo, SegmentInfo } from '../catalog/model.js'
import type { Logger } from '../common/log.js'
import type { ObjectStore } from '../infra/index.js'
import { isColumnCopyFile, loadVectorIndex, type IndexBuildPool, type MetricType } from '../index/index.js'
import type { VectorColumn } from '../schema/columns.js'
import { isVectorType } from '../schema/types.js'
import type { CollectionRuntime } from '../segment/collection-runtime.js'
import type { Segment } from '../segment/segment.js'
import { decodeInsertLog } from '../storage/binlog.js'
import type { DataAccess } from './data-plane.js'

/** Index types served by exact search over the column: nothing to build. */
const EXACT_TYPES = new Set(['FLAT', 'BIN_FLAT'])

export function needsBuild(indexType: string): boolean {
  return !EXACT_TYPES.has(indexType)
}

export interface IndexServiceDeps {
  readonly catalog: Catalog
  readonly objects: ObjectStore
  /** The replica whose segments get indexes attached (absent on a cluster index node). */
  readonly data?: DataAccess
  /** Builds run here only with a pool (absent on a cluster query node, which only attaches). */
  readonly pool?: IndexBuildPool
  /**
   * Cluster index nodes share the work: a build runs only after claiming its task (an etcd key
   * under a lease, so a dead node's claims lapse); resolves to a release function, or undefined
   * when another node holds it.
   */
  readonly claim?: (task: string) => Promise<(() => Promise<void>) | undefined>
  readonly log: Logger
}

interface Task {
  readonly collectionId: bigint
  readonly indexId: bigint
  readonly segment: SegmentInfo
}

export interface IndexProgress {
  readonly indexedRows: number
  readonly totalRows: number
  readonly pendingRows: number
  readonly failReason: string
}

export class IndexService {
  private readonly d: IndexServiceDeps
  private readonly queued = new Set<string>()
  private queue: Task[] = []
  private running = 0
  private readonly concurrency: number
  private readonly failures = new Map<string, string>()
  private closed = false
  private idle: { resolve(): void }[] = []

  constructor(deps: IndexServiceDeps, opts: { concurrency?: number } = {}) {
    this.d = deps
    this.concurrency = Math.max(1, opts.concurrency ?? 1)
    deps.data?.onFlushed(() => this.schedule())
    deps.data?.setSegmentLoader((rt, seg) => this.attach(rt, seg))
  }

  /**
   * Cluster: reacts to catalog changes made elsewhere. Index nodes queue builds for new segments
   * and new indexes; query nodes attach newly built index files to the segments they hold and
   * detach dropped ones.
   */
  async applyCatalogChanges(changes: readonly CatalogChange[]): Promise<void> {
    if (this.d.pool && changes.some((c) => c.kind === 'segment' || c.kind === 'collection')) this.schedule()
    const data = this.d.data
    if (!data) return
    for (const ch of changes) {
      if (ch.kind !== 'segment_index') continue
      let rt: CollectionRuntime
      try {
        rt = data.runtime(ch.collectionId)
      } catch {
        continue
      }
      for (const sh of rt.shards) {
        const seg = sh.segments.get(ch.segmentId)
        if (!seg || seg.state !== 'flushed') continue
        if (ch.next) await this.attach(rt, seg, ch.next)
        else for (const [field, a] of seg.indexes) if (a.indexId === ch.indexId) seg.indexes.delete(field)
      }
    }
  }

  /** Queues a build for every (flushed segment, buildable index) pair that has none. */
  schedule(): void {
    if (this.closed || !this.d.pool) return
    const { catalog } = this.d
    for (const c of catalog.allCollections()) {
      const built = new Set(catalog.segmentIndexesOf(c.id).map((i) => `${i.segmentId}/${i.indexId}`))
      for (const index of c.indexes) {
        if (!needsBuild(index.indexType) || !this.isVectorIndex(c, index)) continue
        for (const segment of catalog.segmentsOf(c.id)) {
          const key = `${segment.id}/${index.id}`
          if (built.has(key) || this.queued.has(key) || this.failures.has(key)) continue
          this.queued.add(key)
          this.queue.push({ collectionId: c.id, indexId: index.id, segment })
        }
      }
    }
    this.pump()
  }

  private isVectorIndex(c: CollectionInfo, index: IndexInfo): boolean {
    const f = c.schema.fields.find((x) => x.fieldId === index.fieldId)
    return !!f && isVectorType(f.dataType)
  }

  private pump(): void {
    while (!this.closed && this.running < this.concurrency && this.queue.length > 0) {
      const task = this.queue.shift()!
      this.running++
      this.build(task)
        .catch((e: unknown) => {
          const reason = e instanceof Error ? e.message : String(e)
          this.failures.set(`${task.segment.id}/${task.indexId}`, reason)
          this.d.log.error({ err: e, segment: task.segment.id.toString(), indexId: task.indexId.toString() }, 'index build failed')
        })
        .finally(() => {
          this.queued.delete(`${task.segment.id}/${task.indexId}`)
          this.running--
          this.pump()
          if (this.running === 0 && this.queue.length === 0) for (const w of this.idle.splice(0)) w.resolve()
        })
    }
  }

  /** Resolves when no build is queued or running (tests and benchmarks wait on it). */
  whenIdle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idle.push({ resolve }))
  }

  private async build(task: Task): Promise<void> {
    const { catalog, claim } = this.d
    const c = catalog.collection(task.collectionId)
    const index = c?.indexes.find((i) => i.id === task.indexId)
    if (!c || !index) return // dropped while queued
    if (!claim) return this.buildClaimed(task, c, index)
    const release = await claim(`${task.collectionId}/${task.segment.id}/${task.indexId}`)
    if (!release) return // another index node builds it; its record arrives through the catalog
    try {
      // Built meanwhile by a node that held the claim before us?
      if (catalog.segmentIndexesOf(c.id).some((i) => i.segmentId === task.segment.id && i.indexId === task.indexId)) return
      await this.buildClaimed(task, c, index)
    } finally {
      await release().catch(() => undefined)
    }
  }

  private async buildClaimed(task: Task, c: CollectionInfo, index: IndexInfo): Promise<void> {
    const { catalog, objects, log } = this.d
    const pool = this.d.pool!
    const field = c.schema.fields.find((f) => f.fieldId === index.fieldId)!
    const seg = this.memorySegment(task.collectionId, task.segment)
    let column = seg?.chunks[0]?.columns.get(field.name) as VectorColumn | undefined
    if (!column) {
      const key = task.segment.binlogs[field.name]
      if (!key) return
      column = decodeInsertLog(key, await objects.get(key)) as VectorColumn
    }
    const started = performance.now()
    const files = await pool.build({ indexType: index.indexType, metric: index.metricType as MetricType, params: index.params, data: column })
    const buildMs = performance.now() - started
    const keys: Record<string, string> = {}
    let sizeBytes = 0
    await Promise.all(
      [...files].map(async ([name, bytes]) => {
        const key = `index_files/${c.id}/${task.segment.id}/${index.id}/${name}`
        keys[name] = key
        sizeBytes += bytes.length
        await objects.put(key, bytes)
      }),
    )
    const info: SegmentIndexInfo = {
      collectionId: c.id,
      segmentId: task.segment.id,
      indexId: index.id,
      fieldName: field.name,
      indexType: index.indexType,
      metricType: index.metricType,
      numRows: task.segment.numRows,
      files: keys,
      sizeBytes,
      buildMs,
    }
    if (!(await catalog.putSegmentIndex(info))) {
      await objects.delete(Object.values(keys))
      return
    }
    const live = this.memorySegment(c.id, task.segment)
    const liveColumn = live && live.chunks.length === 1 ? (live.chunks[0]!.columns.get(field.name) as VectorColumn | undefined) : undefined
    if (live && liveColumn) {
      // Handing the segment's own column over keeps one copy of the vectors in memory, not two.
      live.indexes.set(field.name, { indexId: index.id, indexType: index.indexType, metric: index.metricType as MetricType, index: loadVectorIndex(files, liveColumn) })
    }
    log.info({ collection: c.name, segment: task.segment.id.toString(), index: index.name, rows: task.segment.numRows, buildMs: Math.round(buildMs) }, 'segment index built')
  }

  private memorySegment(collectionId: bigint, s: SegmentInfo): Segment | undefined {
    let rt: CollectionRuntime
    try {
      if (!this.d.data) return undefined
      rt = this.d.data.runtime(collectionId)
    } catch {
      return undefined
    }
    const seg = rt.shards[s.shard]?.segments.get(s.id)
    return seg && seg.state === 'flushed' ? seg : undefined
  }

  /** Loads the built indexes of a segment read from storage (load, restart). */
  private async attach(rt: CollectionRuntime, seg: Segment, only?: SegmentIndexInfo): Promise<void> {
    const c = rt.info
    for (const rec of only ? [only] : this.d.catalog.segmentIndexesOf(c.id)) {
      if (rec.segmentId !== seg.id || !c.indexes.some((i) => i.id === rec.indexId)) continue
      const column = seg.chunks.length === 1 ? (seg.chunks[0]!.columns.get(rec.fieldName) as VectorColumn | undefined) : undefined
      // With the segment's column in hand, the files that only repeat it are not fetched: one raw
      // copy of the vectors less to download and hold on every load.
      const wanted = Object.entries(rec.files).filter(([name]) => !column || !isColumnCopyFile(name))
      const files = new Map<string, Uint8Array>(await Promise.all(wanted.map(async ([name, key]) => [name, await this.d.objects.get(key)] as [string, Uint8Array])))
      seg.indexes.set(rec.fieldName, { indexId: rec.indexId, indexType: rec.indexType, metric: rec.metricType as MetricType, index: loadVectorIndex(files, column) })
    }
  }

  /** Forgets an index's builds (DropIndex): detaches them and deletes their files. */
  async dropIndex(collectionId: bigint, index: IndexInfo): Promise<void> {
    for (const key of [...this.queued]) if (key.endsWith(`/${index.id}`)) this.queued.delete(key)
    this.queue = this.queue.filter((t) => t.indexId !== index.id)
    const victims = await this.d.catalog.dropSegmentIndexes(collectionId, index.id)
    try {
      const rt = this.d.data!.runtime(collectionId)
      for (const sh of rt.shards) for (const seg of sh.segments.values()) if (seg.indexes.get(index.fieldName)?.indexId === index.id) seg.indexes.delete(index.fieldName)
    } catch {
      // collection gone: nothing in memory to detach
    }
    const keys = victims.flatMap((v) => Object.values(v.files))
    if (keys.length > 0) await this.d.objects.delete(keys)
  }

  /** Rows covered by the index (DescribeIndex, GetIndexBuildProgress), over flushed and growing data. */
  /** Indexes built for a flushed segment, by the catalog (whether or not loaded anywhere). */
  builtIndexIds(collectionId: bigint, segmentId: bigint): bigint[] {
    return this.d.catalog
      .segmentIndexesOf(collectionId)
      .filter((i) => i.segmentId === segmentId)
      .map((i) => i.indexId)
  }

  progress(c: CollectionInfo, index: IndexInfo): IndexProgress {
    const segments = this.d.catalog.segmentsOf(c.id)
    const flushedRows = segments.reduce((a, s) => a + s.numRows, 0)
    let growingRows = 0
    try {
      for (const sh of this.d.data?.runtime(c.id).shards ?? []) for (const s of sh.segments.values()) if (s.state !== 'flushed') growingRows += s.numRows
    } catch {
      growingRows = 0
    }
    let indexedRows = flushedRows
    let failReason = ''
    if (needsBuild(index.indexType) && this.isVectorIndex(c, index)) {
      const built = new Set(this.d.catalog.segmentIndexesOf(c.id).filter((i) => i.indexId === index.id).map((i) => i.segmentId))
      indexedRows = segments.filter((s) => built.has(s.id)).reduce((a, s) => a + s.numRows, 0)
      for (const s of segments) failReason ||= this.failures.get(`${s.id}/${index.id}`) ?? ''
    }
    return { indexedRows, totalRows: flushedRows + growingRows, pendingRows: flushedRows - indexedRows, failReason }
  }

  async close(): Promise<void> {
    this.closed = true
    this.queue = []
    await this.d.pool?.close()
  }
}
