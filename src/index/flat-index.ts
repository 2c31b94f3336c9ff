import { DbError } from '../common/errors.js'
import type { SparseRow, VectorColumn } from '../schema/columns.js'
import { columnRows } from '../schema/columns.js'
import { isVectorType } from '../schema/types.js'
import { bruteForceSearch } from './brute-force.js'
import { exactSearch } from './native-exact.js'
import { checkMetric, type MetricType } from './metric.js'
import type { IndexSearchOptions, VectorIndex } from './vector-index.js'

const META_FILE = 'flat.meta.json'
const DATA_FILE = 'flat.data'
const VALID_FILE = 'flat.valid'
const OFFSETS_FILE = 'flat.offsets'

interface FlatMeta {
  readonly version: 1
  readonly indexType: 'FLAT'
  readonly metric: MetricType
  readonly vectorType: VectorColumn['type']
  readonly dim: number
  readonly rows: number
}

/**
 * FLAT: the raw vectors, searched exactly. Always available (no native addon needed).
 *
 * @throws DbError ParameterInvalid if the metric does not apply to the column's vector type.
 */
export function buildFlatIndex(data: VectorColumn, metric: MetricType): VectorIndex {
  checkMetric(metric, data.type)
  return {
    indexType: 'FLAT',
    metric,
    search: (queries: VectorColumn, opts: IndexSearchOptions) =>
      bruteForceSearch(data, queries, { ...opts, metric }),
    // Large float32 scans run on the native threads (same results, see native-exact.ts).
    searchBatched: (queries: VectorColumn, opts: IndexSearchOptions) => exactSearch(data, queries, { ...opts, metric }),
    serialize: () => serializeFlat(data, metric),
  }
}

/**
 * File layout (little-endian): `flat.meta.json`; `flat.data` with the dense rows' raw elements, or
 * for sparse the concatenated (uint32 index, float32 value) pairs of Milvus's sparse row format;
 * `flat.offsets` (sparse only) with rows+1 uint32 pair offsets; `flat.valid` for nullable fields.
 */
function serializeFlat(data: VectorColumn, metric: MetricType): Map<string, Uint8Array> {
  const rows = columnRows(data)
  const meta: FlatMeta = {
    version: 1,
    indexType: 'FLAT',
    metric,
    vectorType: data.type,
    dim: data.type === 'SparseFloatVector' ? 0 : data.dim,
    rows,
  }
  const files = new Map<string, Uint8Array>()
  files.set(META_FILE, new TextEncoder().encode(JSON.stringify(meta)))
  if (data.type === 'SparseFloatVector') {
    const offsets = new Uint32Array(rows + 1)
    for (let r = 0; r < rows; r++) offsets[r + 1] = offsets[r]! + data.data[r]!.indices.length
    const bytes = new Uint8Array(offsets[rows]! * 8)
    const view = new DataView(bytes.buffer)
    for (let r = 0; r < rows; r++) {
      const { indices, values } = data.data[r]!
      let p = offsets[r]! * 8
      for (let i = 0; i < indices.length; i++, p += 8) {
        view.setUint32(p, indices[i]!, true)
        view.setFloat32(p + 4, values[i]!, true)
      }
    }
    files.set(DATA_FILE, bytes)
    files.set(OFFSETS_FILE, leBytes(offsets))
  } else {
    files.set(DATA_FILE, leBytes(data.data))
  }
  if (data.valid !== undefined) files.set(VALID_FILE, data.valid)
  return files
}

/** A view of the array's bytes; every platform Node runs on here is little-endian. */
function leBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}

/**
 * Rebuilds a FLAT index from the files serialize() wrote. Bytes are copied, so the inputs may be
 * unaligned slices of a larger download.
 *
 * @throws DbError DataCorrupted if files are missing or inconsistent.
 */
export function loadFlatIndex(files: ReadonlyMap<string, Uint8Array>): VectorIndex {
  const metaBytes = files.get(META_FILE)
  const bytes = files.get(DATA_FILE)
  if (metaBytes === undefined || bytes === undefined) throw corrupted('missing files')
  let meta: FlatMeta
  try {
    meta = JSON.parse(new TextDecoder().decode(metaBytes)) as FlatMeta
  } catch (e) {
    throw new DbError('DataCorrupted', 'FLAT index meta is not JSON', { cause: e })
  }
  if (
    meta.version !== 1 ||
    meta.indexType !== 'FLAT' ||
    !isVectorType(meta.vectorType) ||
    !isCount(meta.dim) ||
    !isCount(meta.rows) ||
    !isMetric(meta.metric)
  ) {
    throw corrupted(`unsupported meta ${JSON.stringify(meta)}`)
  }
  const validBytes = files.get(VALID_FILE)
  if (validBytes !== undefined && validBytes.length !== meta.rows) {
    throw corrupted('valid length mismatch')
  }
  const v = validBytes === undefined ? {} : { valid: validBytes.slice() }
  const { dim, rows } = meta
  const copy = (): ArrayBuffer => bytes.slice().buffer
  let col: VectorColumn
  switch (meta.vectorType) {
    case 'FloatVector':
      expectLength(bytes, rows * dim * 4)
      col = { type: 'FloatVector', dim, data: new Float32Array(copy()), ...v }
      break
    case 'Float16Vector':
    case 'BFloat16Vector':
      expectLength(bytes, rows * dim * 2)
      col = { type: meta.vectorType, dim, data: new Uint16Array(copy()), ...v }
      break
    case 'Int8Vector':
      expectLength(bytes, rows * dim)
      col = { type: 'Int8Vector', dim, data: new Int8Array(copy()), ...v }
      break
    case 'BinaryVector':
      expectLength(bytes, (rows * dim) / 8)
      col = { type: 'BinaryVector', dim, data: bytes.slice(), ...v }
      break
    case 'SparseFloatVector': {
      const offBytes = files.get(OFFSETS_FILE)
      if (offBytes === undefined) throw corrupted('missing sparse offsets')
      expectLength(offBytes, (rows + 1) * 4)
      const offsets = new Uint32Array(offBytes.slice().buffer)
      expectLength(bytes, offsets[rows]! * 8)
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      const data: SparseRow[] = new Array(rows)
      for (let r = 0; r < rows; r++) {
        const start = offsets[r]!
        const n = offsets[r + 1]! - start
        if (n < 0 || start + n > offsets[rows]!) throw corrupted('sparse offsets not ascending')
        const indices = new Uint32Array(n)
        const values = new Float32Array(n)
        for (let i = 0; i < n; i++) {
          indices[i] = view.getUint32((start + i) * 8, true)
          values[i] = view.getFloat32((start + i) * 8 + 4, true)
        }
        data[r] = { indices, values }
      }
      col = { type: 'SparseFloatVector', data, ...v }
      break
    }
  }
  return buildFlatIndex(col, meta.metric)
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
}

function isMetric(x: unknown): x is MetricType {
  return x === 'L2' || x === 'IP' || x === 'COSINE' || x === 'HAMMING' || x === 'JACCARD'
}

function expectLength(b: Uint8Array, n: number): void {
  if (b.length !== n) throw corrupted(`expected ${n} bytes, got ${b.length}`)
}

function corrupted(detail: string): DbError {
  return new DbError('DataCorrupted', `FLAT index files: ${detail}`)
}
