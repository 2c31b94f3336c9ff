// Builds native/harrier_graph.node with node-gyp (run by `npm ci` as the install script, or
// `npm run build:native`). Against this node's own headers when they are installed beside it
// (<prefix>/include/node), so that no header download is ever needed; node-gyp otherwise.
// HARRIER_SKIP_NATIVE=1 skips the build: float32 HNSW then keeps a bf16 copy in usearch instead.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

if (process.argv.includes('--help')) {
  process.stdout.write('node native/build.mjs: builds native/build/Release/harrier_graph.node (HARRIER_SKIP_NATIVE=1 skips)\n')
  process.exit(0)
}
if (process.env.HARRIER_SKIP_NATIVE === '1') {
  process.stderr.write('harrier: HARRIER_SKIP_NATIVE=1, not building the native graph addon\n')
  process.exit(0)
}
const here = dirname(fileURLToPath(import.meta.url))
const prefix = dirname(dirname(process.execPath))
const args = ['rebuild', `--directory=${here}`]
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`)
// npm names its bundled node-gyp in npm_config_node_gyp for install scripts.
const gyp = process.env.npm_config_node_gyp
const r = gyp ? spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' }) : spawnSync('node-gyp', args, { stdio: 'inherit', shell: process.platform === 'win32' })
if (r.status !== 0) {
  process.stderr.write('harrier: building the native graph addon failed (see above); HARRIER_SKIP_NATIVE=1 skips it\n')
  process.exit(r.status ?? 1)
}
