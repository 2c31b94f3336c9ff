/**
 * Prometheus metrics with Milvus's metric names where the meaning matches, so existing Milvus
 * dashboards and alerts work against Harrier. One registry per server instance (no globals).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export class Metrics {
  readonly registry = new Registry()
  private readonly reqCount: Counter<'node_id' | 'function_name' | 'status'>
  private readonly reqLatency: Histogram<'node_id' | 'function_name'>
  private readonly searchVectors: Counter<'node_id'>
  private readonly insertVectors: Counter<'node_id'>
  private readonly mutationCount: Counter<'node_id' | 'msg_type'>
  private readonly sqLatency: Histogram<'node_id' | 'query_type'>
  readonly walAppendLatency: Histogram<'channel'>
  readonly growingRows: Gauge<'node_id'>
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
      help: 'durable WAL append latency in seconds (including fsync)',
      labelNames: ['channel'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
      registers,
    })
    this.growingRows = new Gauge({ name: 'milvus_querynode_entity_num', help: 'rows held in memory by the query node', labelNames: ['node_id'], registers })
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
