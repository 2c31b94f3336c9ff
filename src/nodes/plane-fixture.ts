/** Test fixtures for data-plane tests: a small collection (id, 2-dim vector) and row batches of it. */
import type { CollectionInfo } from '../catalog/model.js'
import type { RowBatch } from './data-plane.js'

export function fixtureCollection(id: bigint): CollectionInfo {
  const field = (fieldId: number, name: string, dataType: 'Int64' | 'FloatVector', extra: object) => ({
    fieldId, name, description: '', dataType, isPrimaryKey: dataType === 'Int64', autoId: false, typeParams: {}, nullable: false,
    isDynamic: false, isPartitionKey: false, isClusteringKey: false, ...extra,
  })
  return {
    id, dbId: 1n, name: `c${id}`, shardsNum: 1, consistencyLevel: 'Strong', properties: {}, createdTs: 1n, updateTs: 1n,
    partitions: [{ id: id + 1n, name: '_default', createdTs: 1n }], indexes: [], numPartitions: 0,
    schema: { name: `c${id}`, description: '', enableDynamicField: false, functions: [], fields: [field(100, 'id', 'Int64', {}), field(101, 'v', 'FloatVector', { dim: 2 })] },
  } as unknown as CollectionInfo
}

/** `n` rows with ids `from`.. and zero vectors. */
export function fixtureRows(from: number, n: number): RowBatch {
  const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(from + i))
  return { numRows: n, primaryKeys: ids, columns: new Map([['id', { type: 'Int64', data: ids }], ['v', { type: 'FloatVector', dim: 2, data: new Float32Array(n * 2) }]]) }
}
