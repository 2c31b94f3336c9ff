/** The Dockerfile, its build context, and the FROM scratch image that deploy/local-image.sh assembles. */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { REPO, requireTool, run, tempDir } from './deploy-test-kit.js'
import { HARRIER_HEALTHCHECK_SCRIPT } from './services.js'

const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8')
const ENTRYPOINT = 'ENTRYPOINT ["/usr/local/bin/node", "/harrier/dist/src/roles/cli.js"]'

/** Instructions of a Dockerfile, continuation lines joined, comments dropped. */
function instructions(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
}

describe('Dockerfile', () => {
  it('builds in one stage and runs in a slim one, with the roles CLI as entrypoint', () => {
    const ins = instructions(dockerfile)
    assert.deepEqual(ins.filter((l) => l.startsWith('FROM ')), ['FROM node:20-bookworm-slim AS build', 'FROM node:20-bookworm-slim'])
    const build = ins.slice(0, ins.indexOf('FROM node:20-bookworm-slim'))
    assert.ok(build.includes('RUN npm ci --no-audit --no-fund'))
    // The native graph addon is compiled by npm ci, so its sources and a compiler come first.
    assert.ok(build.indexOf('COPY native ./native') < build.indexOf('RUN npm ci --no-audit --no-fund'))
    assert.ok(build.some((l) => l.startsWith('RUN apt-get') && /\bg\+\+/.test(l) && /\bmake\b/.test(l) && /\bpython3\b/.test(l)))
    assert.ok(ins.includes('COPY --from=build /harrier/native/build/Release/harrier_graph.node ./native/build/Release/harrier_graph.node'))
    assert.ok(build.some((l) => l.startsWith('RUN npx tsc -p .') && l.includes('npm prune --omit=dev')))
    assert.ok(ins.includes(ENTRYPOINT))
    assert.ok(ins.includes('CMD ["run", "standalone"]'))
    assert.ok(ins.includes('USER node'))
    // The image healthcheck is the same probe the generated stacks use.
    assert.ok(dockerfile.includes(JSON.stringify(HARRIER_HEALTHCHECK_SCRIPT)))
  })

  it('everything the build COPYs from the context exists and is not excluded by .dockerignore', () => {
    const ignored = readFileSync(join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'))
    const sources = instructions(dockerfile)
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1))
    assert.deepEqual(sources.sort(), ['bench', 'native', 'package-lock.json', 'package.json', 'src', 'tests', 'tsconfig.json'])
    for (const s of sources) {
      assert.ok(existsSync(join(REPO, s)), s)
      assert.ok(!ignored.includes(s), `${s} is in .dockerignore`)
    }
    // tsconfig compiles exactly the folders copied in.
    const tsconfig = JSON.parse(readFileSync(join(REPO, 'tsconfig.json'), 'utf8')) as { include: string[] }
    for (const inc of tsconfig.include) assert.ok(sources.includes(inc), `tsconfig includes ${inc}, which the Dockerfile does not copy`)
    assert.ok(ignored.includes('node_modules') && ignored.includes('dist') && ignored.includes('native/build'))
  })
})

describe('deploy/local-image.sh (FROM scratch)', () => {
  it('assembles a rootfs in which node runs the Harrier CLI with nothing from the host', (t) => {
    if (!existsSync(join(REPO, 'dist/src/roles/cli.js'))) return t.skip('needs a built tree')
    if (process.getuid?.() !== 0) return t.skip('chroot needs root')
    const chroot = requireTool('chroot', t)
    if (!chroot) return
    const tmp = tempDir('image')
    try {
      const r = run('sh', [join(REPO, 'deploy/local-image.sh'), '--out', tmp.dir, '--no-build'], { timeoutMs: 180_000 })
      assert.equal(r.status, 0, r.stderr)
      const rootfs = join(tmp.dir, 'rootfs')
      const df = readFileSync(join(tmp.dir, 'Dockerfile.scratch'), 'utf8')
      assert.match(df, /^FROM scratch$/m)
      assert.ok(df.includes(ENTRYPOINT))
      assert.equal(statSync(join(rootfs, 'tmp')).mode & 0o7777, 0o1777)
      // Production dependencies only: the dev-only TypeScript compiler is gone, the runtime's are there.
      assert.equal(existsSync(join(rootfs, 'harrier/node_modules/typescript')), false)
      for (const dep of ['usearch', 'etcd3', 'nats', '@grpc/grpc-js', '@zilliz/milvus2-sdk-node']) assert.ok(existsSync(join(rootfs, 'harrier/node_modules', dep)), dep)
      assert.equal(existsSync(join(rootfs, 'harrier/dist/src/roles/cli.test.js')), false)
      // Only the copied binary and libraries exist inside: run the CLI and load the native HNSW addon.
      const env = { PATH: '/usr/local/bin' }
      const version = run(chroot, ['--userspec=1000:1000', rootfs, '/usr/local/bin/node', '/harrier/dist/src/roles/cli.js', 'version'], { env })
      assert.equal(version.status, 0, version.stderr)
      assert.match(version.stdout, /^v\d+\.\d+\.\d+-harrier$/m)
      const addon = run(chroot, [rootfs, '/usr/local/bin/node', '-e', "const U=require('/harrier/node_modules/usearch');const i=new U.Index({dimensions:2,metric:'l2sq',connectivity:4});i.add(1n,new Float32Array([1,2]));process.stdout.write(String(i.size()))"], { env })
      assert.equal(addon.status, 0, addon.stderr)
      assert.equal(addon.stdout, '1')
      const graph = run(chroot, [rootfs, '/usr/local/bin/node', '-e', "const {ColumnGraph}=require('/harrier/native/build/Release/harrier_graph.node');const g=new ColumnGraph(new Float32Array([1,2,3,4]),2,'l2',4,8,null,1);g.add(0,2,1);process.stdout.write(String(g.search(new Float32Array([3,4]),1,1,null,0).keys[0]))"], { env })
      assert.equal(graph.status, 0, graph.stderr)
      assert.equal(graph.stdout, '1')
    } finally {
      tmp.remove()
    }
  })
})
