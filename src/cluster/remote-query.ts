/**
 * A data node's own queries to a query node. A cluster data node holds only growing rows, so a
 * delete by a general filter asks a query node serving the collection which primary keys match
 * (a Strong query, as Milvus's proxy does before it deletes by key).
 */
import * as grpc from '@grpc/grpc-js'
import { DbError } from '../common/errors.js'
import { loadMilvusProto } from '../schema/milvus-proto.js'

export interface KeyQuery {
  readonly db: string
  readonly collection: string
  readonly pkField: string
  readonly expr: string
  readonly partitionNames: readonly string[]
  readonly templateValues?: unknown
}

export class RemoteQuery {
  private readonly clients = new Map<string, grpc.Client>()

  /** Primary keys matching `q` on the query node at `address`. */
  async primaryKeys(address: string, q: KeyQuery): Promise<bigint[] | string[]> {
    const def = loadMilvusProto().service.Query!
    let client = this.clients.get(address)
    if (!client) {
      client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 512 * 1024 * 1024 })
      this.clients.set(address, client)
    }
    const req = {
      db_name: q.db,
      collection_name: q.collection,
      expr: q.expr,
      output_fields: [q.pkField],
      partition_names: [...q.partitionNames],
      consistency_level: 'Strong',
      use_default_consistency: false,
      ...(q.templateValues ? { expr_template_values: q.templateValues } : {}),
    }
    const res = await new Promise<Record<string, unknown>>((resolve, reject) => {
      client.makeUnaryRequest(def.path, def.requestSerialize as (v: unknown) => Buffer, def.responseDeserialize as (b: Buffer) => Record<string, unknown>, req, new grpc.Metadata(), { deadline: Date.now() + 60_000 }, (err, r) => {
        if (err) reject(new DbError('ServiceUnavailable', `query node ${address}: ${err.message}`, { cause: err }))
        else resolve(r!)
      })
    })
    const status = res.status as { code?: number; reason?: string } | undefined
    if (status && status.code) throw new DbError('ServiceUnavailable', `query node ${address} could not match the delete filter: ${status.reason ?? ''}`)
    const fields = (res.fields_data ?? []) as { field_name?: string; scalars?: { long_data?: { data?: string[] }; string_data?: { data?: string[] } } }[]
    const f = fields.find((x) => x.field_name === q.pkField)
    if (f?.scalars?.long_data) return (f.scalars.long_data.data ?? []).map((v) => BigInt(v))
    return f?.scalars?.string_data?.data ?? []
  }

  close(): void {
    for (const c of this.clients.values()) c.close()
  }
}
