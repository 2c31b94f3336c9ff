/**
 * One entry point from a Milvus index_type to a built VectorIndex, and from index files back to
 * one. Which engine serves which type lives in index-params.ts (indexTypeSpec).
 */
import { DbError } from '../common/errors.js'
import type { VectorColumn } from '../schema/columns.js'
import { buildFlatIndex, loadFlatIndex } from './flat-index.js'
import { buildHnswIndex, HNSW_META_FILE, type HnswOptions, loadHnswIndex } from './hnsw-index.js'
import { indexTypeSpec } from './index-params.js'
import { buildIvfIndex, IVF_META_FILE, loadIvfIndex } from './ivf-index.js'
import { checkMetric, type MetricType } from './metric.js'
import { buildSparseIndex, loadSparseIndex, SPARSE_META_FILE } from './sparse-inverted-index.js'
import type { VectorIndex } from './vector-index.js'

/** Header of a FLAT-engine index built for another index_type (BIN_FLAT; SPARSE_* files written before the inverted index). */
const INDEX_META_FILE = 'index.meta.json'
const FLAT_META_FILE = 'flat.meta.json'

interface IndexMeta {
  readonly version: 1
  readonly engine: 'FLAT'
  readonly indexType: string
  readonly params: Record<string, string>
}

export type BuildOptions = Pick<HnswOptions, 'threads' | 'onProgress' | 'shouldStop' | 'searchThreads' | 'filterExactRows'>

/**
 * Builds the index a client asked for over one segment's vector column:
 * - FLAT, BIN_FLAT: exact (FLAT engine);
 * - IVF_FLAT, IVF_SQ8, IVF_PQ, BIN_IVF_FLAT: IVF engine (ivf-index.ts);
 * - SPARSE_INVERTED_INDEX, SPARSE_WAND, AUTOINDEX on sparse: inverted index (sparse-inverted-index.ts);
 * - HNSW, AUTOINDEX (M=18, efConstruction=240, as Milvus's autoIndex default): HNSW engine;
 * - IVF_RABITQ, SCANN, HNSW_SQ, HNSW_PQ, HNSW_PRQ, DISKANN: served by the HNSW engine for now (their
 *   own implementations come later); their parameters are validated where Milvus would reject them
 *   (nlist, nprobe, M, efConstruction).
 *
 * @throws DbError ParameterInvalid on bad params or metric, IndexNotSupported for index types
 * Harrier has no engine for (GPU_*, MINHASH_LSH, scalar types), or a type not valid for the field.
 */
export function buildVectorIndex(
  indexType: string,
  data: VectorColumn,
  metric: MetricType,
  params: Readonly<Record<string, string>>,
  opts: BuildOptions = {},
): VectorIndex {
  const spec = indexTypeSpec(indexType, data.type)
  checkMetric(metric, data.type)
  if (spec.engine === 'HNSW') return buildHnswIndex(data, metric, params, { ...opts, indexType: spec.indexType })
  if (spec.engine === 'IVF') return buildIvfIndex(data, metric, params, { ...ivfOpts(opts), indexType: spec.indexType })
  if (spec.engine === 'SPARSE') {
    return buildSparseIndex(data, metric, params, { onProgress: opts.onProgress, shouldStop: opts.shouldStop, indexType: spec.indexType })
  }
  const flat = buildFlatIndex(data, metric)
  opts.onProgress?.(1)
  return spec.indexType === 'FLAT' ? flat : renamedFlat(flat, spec.indexType, params)
}

/** The options the IVF engine takes (it is single-threaded: `threads` does not apply). */
function ivfOpts(opts: BuildOptions): { onProgress?: (f: number) => void; shouldStop?: () => boolean; filterExactRows?: number } {
  return {
    ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }),
    ...(opts.shouldStop === undefined ? {} : { shouldStop: opts.shouldStop }),
    ...(opts.filterExactRows === undefined ? {} : { filterExactRows: opts.filterExactRows }),
  }
}

/** A FLAT index reporting another index_type, with a header so loading keeps the name. */
function renamedFlat(flat: VectorIndex, indexType: string, params: Readonly<Record<string, string>>): VectorIndex {
  const meta: IndexMeta = { version: 1, engine: 'FLAT', indexType, params: { ...params } }
  return {
    indexType,
    metric: flat.metric,
    search: (q, o) => flat.search(q, o),
    serialize: () => {
      const files = flat.serialize()
      files.set(INDEX_META_FILE, new TextEncoder().encode(JSON.stringify(meta)))
      return files
    },
  }
}

/**
 * Files that only repeat the indexed column (HNSW, IVF and sparse indexes store it so their files
 * stand alone). loadVectorIndex never reads them when handed the segment's column, so a loader
 * that has the column can skip downloading them: about one raw copy of the vectors less to fetch
 * and hold while loading. FLAT's files are its column and are always needed.
 */
export function isColumnCopyFile(name: string): boolean {
  return COLUMN_COPY_FILES.has(name)
}

const COLUMN_COPY_FILES: ReadonlySet<string> = new Set(['hnsw.data', 'hnsw.valid', 'ivf.data', 'ivf.valid', 'sparse.data', 'sparse.offsets', 'sparse.valid'])

/**
 * Rebuilds any index from the files its serialize() wrote, dispatching on the header. `data`, the
 * segment's own column, spares decoding the raw rows of an HNSW, IVF or sparse index (their
 * isColumnCopyFile files may then be left out).
 *
 * @throws DbError DataCorrupted on missing or inconsistent files.
 */
export function loadVectorIndex(
  files: ReadonlyMap<string, Uint8Array>,
  data?: VectorColumn,
  opts: Pick<HnswOptions, 'searchThreads' | 'filterExactRows'> = {},
): VectorIndex {
  if (files.has(HNSW_META_FILE)) return loadHnswIndex(files, data, opts)
  if (files.has(IVF_META_FILE)) {
    return loadIvfIndex(files, data, opts.filterExactRows === undefined ? {} : { filterExactRows: opts.filterExactRows })
  }
  if (files.has(SPARSE_META_FILE)) return loadSparseIndex(files, data)
  if (!files.has(FLAT_META_FILE)) {
    throw new DbError('DataCorrupted', `index files: no known header among ${[...files.keys()].join(', ')}`)
  }
  const flat = loadFlatIndex(files)
  const metaBytes = files.get(INDEX_META_FILE)
  if (metaBytes === undefined) return flat
  let meta: IndexMeta
  try {
    meta = JSON.parse(new TextDecoder().decode(metaBytes)) as IndexMeta
  } catch (e) {
    throw new DbError('DataCorrupted', 'index header is not JSON', { cause: e })
  }
  if (meta.version !== 1 || meta.engine !== 'FLAT' || typeof meta.indexType !== 'string' || typeof meta.params !== 'object' || meta.params === null) {
    throw new DbError('DataCorrupted', `index files: unsupported header ${JSON.stringify(meta)}`)
  }
  return renamedFlat(flat, meta.indexType, meta.params)
}
