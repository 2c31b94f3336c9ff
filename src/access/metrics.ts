/**
 * Prometheus metrics with Milvus's metric names where the meaning matches, so existing Milvus
 * dashboards and alerts work against Harrier. One registry per server instance (no globals).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface SegmentStat {
  readonly collectionId: string
  /** Growing, Sealed or Flushed, as Milvus labels segment states. */
  readonly state: string
  readonly segments: number
  readonly rows: number
}

export class Metrics {
  readonly registry = new Registry()
  private readonly reqCount: Counter<'node_id' | 'function_name' | 'status'>
  private readonly reqLatency: Histogram<'node_id' | 'function_name'>
  private readonly searchVectors: Counter<'node_id'>
  private readonly insertVectors: Counter<'node_id'>
  private readonly mutationCount: Counter<'node_id' | 'msg_type'>
  private readonly sqLatency: Histogram<'node_id' | 'query_type'>
  private readonly walAppendLatency: Histogram<'node_id'>
  private readonly flushOps: Counter<'node_id' | 'status'>
  private readonly flushLatency: Histogram<'node_id'>
  private readonly flushedRows: Counter<'node_id'>
  private segmentSource: (() => readonly SegmentStat[]) | undefined
  private readonly nodeId: string

  constructor(nodeId = '1') {
    this.nodeId = nodeId
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.reqCount = new Counter({ name: 'milvus_proxy_req_count', help: 'count of operation executed', labelNames: ['node_id', 'function_name', 'status'], registers })
    this.reqLatency = new Histogram({
      name: 'milvus_proxy_req_latency',
      help: 'latency of each request in seconds',
      labelNames: ['node_id', 'function_name'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
      registers,
    })
    this.searchVectors = new Counter({ name: 'milvus_proxy_search_vectors_count', help: 'counter of vectors successfully searched', labelNames: ['node_id'], registers })
    this.insertVectors = new Counter({ name: 'milvus_proxy_insert_vectors_count', help: 'counter of vectors successfully inserted', labelNames: ['node_id'], registers })
    this.mutationCount = new Counter({ name: 'milvus_proxy_mutation_count', help: 'rows written by mutation type', labelNames: ['node_id', 'msg_type'], registers })
    this.sqLatency = new Histogram({
      name: 'milvus_querynode_sq_req_latency',
      help: 'latency of search or query requests on the query node, in seconds',
      labelNames: ['node_id', 'query_type'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    })
    this.walAppendLatency = new Histogram({
      name: 'milvus_wal_append_latency',
      help: 'durable WAL append latency in seconds (fsync locally, broker ack in a cluster)',
      labelNames: ['node_id'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
      registers,
    })
    this.flushOps = new Counter({ name: 'milvus_datanode_flush_buffer_op_count', help: 'flushes of growing data to the object store, by outcome', labelNames: ['node_id', 'status'], registers })
    this.flushLatency = new Histogram({
      name: 'milvus_datanode_save_latency',
      help: 'seconds to write a flush (binlogs, deltalogs) and commit it to the catalog',
      labelNames: ['node_id'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30],
      registers,
    })
    this.flushedRows = new Counter({ name: 'milvus_datanode_flushed_data_rows', help: 'rows written to the object store by flushes', labelNames: ['node_id'], registers })
    // Segment counts and rows are read when scraped, from whatever holds the segments here.
    const stats = () => this.segmentSource?.() ?? []
    new Gauge({
      name: 'milvus_querynode_segment_num',
      help: 'segments held in memory, by collection and state',
      labelNames: ['node_id', 'collection_id', 'segment_state'],
      registers,
      collect() {
        this.reset()
        for (const s of stats()) this.set({ node_id: nodeId, collection_id: s.collectionId, segment_state: s.state }, s.segments)
      },
    })
    new Gauge({
      name: 'milvus_querynode_entity_num',
      help: 'rows held in memory, by collection and segment state',
      labelNames: ['node_id', 'collection_id', 'segment_state'],
      registers,
      collect() {
        this.reset()
        for (const s of stats()) this.set({ node_id: nodeId, collection_id: s.collectionId, segment_state: s.state }, s.rows)
      },
    })
  }

  /** Where segment gauges read from (the replica of this process). */
  setSegmentSource(fn: () => readonly SegmentStat[]): void {
    this.segmentSource = fn
  }

  walAppended(seconds: number): void {
    this.walAppendLatency.observe({ node_id: this.nodeId }, seconds)
  }

  flushed(outcome: 'success' | 'fail', seconds: number, rows: number): void {
    this.flushOps.inc({ node_id: this.nodeId, status: outcome })
    if (outcome === 'success') {
      this.flushLatency.observe({ node_id: this.nodeId }, seconds)
      this.flushedRows.inc({ node_id: this.nodeId }, rows)
    }
  }

  observeRequest(method: string, outcome: string, seconds: number): void {
    this.reqCount.inc({ node_id: this.nodeId, function_name: method, status: outcome })
    this.reqLatency.observe({ node_id: this.nodeId, function_name: method }, seconds)
  }

  searched(nq: number, seconds: number): void {
    this.searchVectors.inc({ node_id: this.nodeId }, nq)
    this.sqLatency.observe({ node_id: this.nodeId, query_type: 'search' }, seconds)
  }

  mutations(kind: 'insert' | 'upsert' | 'delete', rows: number): void {
    this.mutationCount.inc({ node_id: this.nodeId, msg_type: kind }, rows)
    if (kind !== 'delete') this.insertVectors.inc({ node_id: this.nodeId }, rows)
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
