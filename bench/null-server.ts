/**
 * A MilvusService that acknowledges every Insert without doing anything: the ceiling any
 * Milvus-compatible server can reach with the official SDK (whose client-side row conversion,
 * request logging and protobuf encoding cost the same whatever the server does).
 */
import * as grpc from '@grpc/grpc-js'
import { loadMilvusProto } from '../src/schema/milvus-proto.js'
import { encodeCollectionSchema } from '../src/schema/schema-codec.js'
import type { CollectionSchema } from '../src/schema/types.js'

const OK = { error_code: 'Success', code: 0, reason: '' }

/** The SDK describes the collection to turn rows into columns, so the stub must know its schema. */
export async function startNullServer(
  schema: CollectionSchema,
  /** Receives every decoded Search request (the raw-client bench replays the SDK's requests). */
  onSearch?: (request: Record<string, unknown>) => void,
): Promise<{ address: string; stop(): Promise<void> }> {
  const described = { status: OK, schema: encodeCollectionSchema(schema), collectionID: '1', collection_name: schema.name, shards_num: 1, consistency_level: 'Bounded' }
  const proto = loadMilvusProto()
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 512 * 1024 * 1024 })
  const impl: grpc.UntypedServiceImplementation = {}
  for (const [name, def] of Object.entries(proto.service)) {
    if (def.requestStream || def.responseStream) continue
    impl[name] = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const n = Number(call.request.num_rows ?? 0)
      if (name === 'Connect') return cb(null, { status: OK, identifier: '1' })
      if (name === 'Insert') return cb(null, { status: OK, insert_cnt: String(n), IDs: { int_id: { data: [] } } })
      if (name === 'Search') onSearch?.(call.request)
      if (name === 'Search') return cb(null, { status: OK, results: { num_queries: '1', top_k: '10', fields_data: [], scores: [], topks: ['0'], output_fields: [] } })
      cb(null, name === 'DescribeCollection' ? described : OK)
    }
  }
  server.addService(proto.service, impl)
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  )
  return {
    address: `127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  }
}
