/**
 * Settings the whole cluster must agree on, fixed in etcd by the first process that starts:
 *
 *   harrier/config/dml-channels   number of WAL channels (pchannels)
 *
 * Collections map onto channels by hashing their id, so the count cannot change once data was
 * written; a process started later with another value keeps the stored one and says so.
 */
import { Catalog } from '../catalog/catalog.js'
import { DbError } from '../common/errors.js'
import type { Logger } from '../common/log.js'
import type { MetaStore } from '../infra/index.js'

const DML_CHANNELS_KEY = 'harrier/config/dml-channels'
/** Milvus caps rootCoord.dmlChannelNum the same way (one stream and consumer per channel). */
export const MAX_DML_CHANNELS = 256

export async function dmlChannelCount(store: MetaStore, wanted: number, log: Logger): Promise<number> {
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > MAX_DML_CHANNELS) throw new DbError('ParameterInvalid', `--dml-channels must be an integer 1-${MAX_DML_CHANNELS}, got ${wanted}`)
  // A cluster from before channels were configurable wrote every collection through one channel,
  // and its checkpoints are offsets in that channel: it keeps one.
  if (!(await store.get(DML_CHANNELS_KEY)) && wanted !== 1 && (await Catalog.hasCollections(store))) {
    log.warn({ asked: wanted }, 'this cluster already holds collections written through one WAL channel; it keeps one (--dml-channels applies to new clusters)')
    wanted = 1
  }
  await store.txn({ compare: [{ key: DML_CHANNELS_KEY, target: 'createRevision', op: '=', value: 0 }], success: [{ type: 'put', key: DML_CHANNELS_KEY, value: String(wanted) }] })
  const kv = await store.get(DML_CHANNELS_KEY)
  const n = Number(kv?.value)
  if (!Number.isInteger(n) || n < 1 || n > MAX_DML_CHANNELS) throw new DbError('DataCorrupted', `${DML_CHANNELS_KEY} in etcd holds ${JSON.stringify(kv?.value)}, not a channel count`)
  if (n !== wanted) log.warn({ stored: n, asked: wanted }, `this cluster was started with --dml-channels ${n}; keeping it (the count cannot change once collections are written)`)
  return n
}
