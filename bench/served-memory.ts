/**
 * Child process of the search bench: the memory a Harrier server holds for a loaded collection.
 * Runs standalone in this process on the data directory argv[2]; with a collection name argv[3]
 * and its row count argv[4], waits until that collection serves indexed searches (every row
 * indexed, one search done).
 * Then collects garbage (run with --expose-gc) so the figures hold live data only, and prints
 * process.memoryUsage() as JSON. The bench runs it on an empty directory and on the collection's
 * and subtracts: what the collection costs, split into the JS heap, ArrayBuffers (the segment's
 * columns) and the rest (native: the usearch index).
 */
import { startServer } from '../tests/e2e/server.js'

const [dataDir, collection, rowsText] = process.argv.slice(2)
const server = await startServer({ dataDir: dataDir! })
try {
  // The SDK client lives in this process too: both runs create one and call the server, so that
  // the difference holds only what the collection costs the server.
  const client = server.client()
  const listed = await client.showCollections()
  if (listed.status.error_code !== 'Success') throw new Error(listed.status.reason)
  if (collection) {
    for (;;) {
      const d = (await client.describeIndex({ collection_name: collection, field_name: 'v' })).index_descriptions[0]
      if (d && d.state === 'Finished' && Number(d.indexed_rows) >= Number(rowsText)) break
      await new Promise((r) => setTimeout(r, 100))
    }
    const dim = Number((await client.describeCollection({ collection_name: collection })).schema.fields.find((f) => f.name === 'v')!.dim)
    const res = await client.search({ collection_name: collection, data: [new Array(dim).fill(0.5)], limit: 10 })
    if (res.status.error_code !== 'Success') throw new Error(res.status.reason)
  }
  // Settled, as a server is a second after its last load (the data plane trims the allocator then).
  await new Promise((r) => setTimeout(r, 1000))
  const gc = (globalThis as { gc?: () => void }).gc
  for (let i = 0; i < 3; i++) {
    gc?.()
    await new Promise((r) => setTimeout(r, 50))
  }
  const m = process.memoryUsage()
  process.stdout.write(`${JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers })}\n`)
} finally {
  await server.stop()
}
