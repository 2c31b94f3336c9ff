/**
 * Worker-thread body of IndexBuildPool: builds one index at a time, synchronously (usearch's API
 * is synchronous), and replies with the serialized files. Loaded by URL from index-build-pool.ts,
 * so it must stay a module of its own that tsc emits next to the pool.
 */
import { parentPort } from 'node:worker_threads'
import { toDbError } from '../common/errors.js'
import {
  type BuildRequestMessage,
  filesToWire,
  fromWire,
  type WorkerReply,
} from './index-build-wire.js'
import { buildVectorIndex } from './index-factory.js'

/** Progress is posted at most this often (fractions), so a big build does not flood the port. */
const PROGRESS_STEP = 0.01

const port = parentPort
if (port !== null) {
  port.on('message', (req: BuildRequestMessage) => {
    const reply = (m: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer)
    try {
      let last = -1
      const index = buildVectorIndex(req.indexType, fromWire(req.column), req.metric, req.params, {
        threads: req.threads,
        shouldStop: () => Atomics.load(req.stop, 0) !== 0,
        onProgress: (fraction) => {
          if (fraction - last >= PROGRESS_STEP || fraction === 1) {
            last = fraction
            reply({ id: req.id, kind: 'progress', fraction })
          }
        },
      })
      const { files, transfer } = filesToWire(index.serialize())
      reply({ id: req.id, kind: 'done', files }, transfer)
    } catch (e) {
      const err = toDbError(e)
      reply({ id: req.id, kind: 'error', errorKind: err.kind, message: err.message })
    }
  })
}
