/**
 * Images for the Swarm test, built locally because no registry is reachable here: each is
 * `FROM scratch` plus files copied from this machine (Debian packages) and the shared libraries
 * `ldd` lists for every ELF file among them. The Harrier image comes from deploy/local-image.sh.
 *
 * The third-party images stand in for the ones the generated stack names (quay.io/coreos/etcd,
 * nats:alpine, nginx, minio/minio) and honour the same contract as the generated services use it:
 * the command's first word is on PATH (`etcd ...`, `nats-server ...`), the healthcheck's tool is
 * there (etcdctl, wget, curl), nginx runs in the foreground with /etc/nginx/nginx.conf. There is no
 * MinIO here, so the "minio" image runs Ceph RGW (ceph-rgw-entrypoint.sh).
 */
import { execFile } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The repository root (this file compiles to dist/tests/swarm/images.js). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url))
/** The sources of tests/swarm (entrypoint script, plan), which tsc does not copy to dist/. */
export const SWARM_SRC = join(REPO, 'tests', 'swarm')

export const LOCAL_IMAGES = {
  etcd: 'harrier-swarm-test/etcd:local',
  nats: 'harrier-swarm-test/nats:local',
  nginx: 'harrier-swarm-test/nginx:local',
  minio: 'harrier-swarm-test/ceph-rgw:local',
} as const

export interface ImageSpec {
  readonly tag: string
  /** Absolute paths of files or directories to copy (directories recursively). */
  readonly paths: readonly string[]
  /** Extra files to write: path in the image -> content (mode 0755 when `exec`). */
  readonly write?: Readonly<Record<string, { content: string; exec?: boolean }>>
  /** Empty directories to create (mode 1777 for /tmp). */
  readonly dirs?: readonly string[]
  /** Dockerfile lines after `FROM scratch` and `COPY rootfs/ /`. */
  readonly dockerfile: readonly string[]
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n'
const GROUP = 'root:x:0:\nnogroup:x:65534:\nwww-data:x:33:\n'
const BASE_WRITE: Readonly<Record<string, { content: string; exec?: boolean }>> = {
  '/etc/nsswitch.conf': { content: 'passwd: files\ngroup: files\nhosts: files dns\n' },
  '/etc/passwd': { content: PASSWD },
  '/etc/group': { content: GROUP },
}
const PATH_ENV = 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export function imageSpecs(): ImageSpec[] {
  const entry = readFileSync(join(SWARM_SRC, 'ceph-rgw-entrypoint.sh'), 'utf8')
  return [
    {
      tag: LOCAL_IMAGES.etcd,
      paths: ['/usr/bin/etcd', '/usr/bin/etcdctl'],
      dockerfile: [PATH_ENV, 'ENV ETCD_UNSUPPORTED_ARCH=', 'CMD ["etcd"]'],
    },
    {
      tag: LOCAL_IMAGES.nats,
      paths: ['/usr/sbin/nats-server', '/usr/bin/wget'],
      dockerfile: [PATH_ENV, 'CMD ["nats-server", "--jetstream", "--store_dir=/data"]'],
    },
    {
      tag: LOCAL_IMAGES.nginx,
      paths: ['/usr/sbin/nginx', '/usr/bin/curl'],
      dirs: ['/var/lib/nginx', '/var/log/nginx', '/run', '/etc/nginx'],
      dockerfile: [PATH_ENV, 'STOPSIGNAL SIGQUIT', 'CMD ["nginx", "-g", "daemon off;"]'],
    },
    {
      tag: LOCAL_IMAGES.minio,
      paths: [
        '/bin/sh', '/bin/cat', '/bin/mkdir', '/bin/rm', '/bin/sleep', '/bin/kill', '/usr/bin/curl',
        '/usr/bin/ceph-mon', '/usr/bin/ceph-osd', '/usr/bin/radosgw', '/usr/bin/radosgw-admin',
        '/usr/bin/ceph-authtool', '/usr/bin/monmaptool', '/usr/bin/ceph', '/usr/bin/python3.11',
        '/usr/lib/python3.11', '/usr/lib/python3/dist-packages/rados.cpython-311-x86_64-linux-gnu.so',
        '/usr/lib/python3/dist-packages/ceph_argparse.py', '/usr/lib/python3/dist-packages/ceph_daemon.py',
        '/usr/lib/python3/dist-packages/prettytable', '/usr/lib/python3/dist-packages/prettytable-3.6.0.dist-info',
        '/usr/lib/python3/dist-packages/wcwidth', '/usr/lib/python3/dist-packages/wcwidth-0.2.5.egg-info', '/etc/os-release',
        '/usr/lib/x86_64-linux-gnu/ceph', '/usr/lib/x86_64-linux-gnu/rados-classes',
      ],
      write: {
        '/usr/local/bin/ceph-rgw-entrypoint': { content: entry, exec: true },
      },
      dirs: ['/tmp', '/data', '/var/run/ceph', '/var/log/ceph', '/var/lib/ceph'],
      dockerfile: [PATH_ENV, 'EXPOSE 9000', 'ENTRYPOINT ["/usr/local/bin/ceph-rgw-entrypoint"]'],
    },
  ]
}

/** ELF files get their `ldd` closure copied too; anything else is copied as is. */
function isElf(path: string): boolean {
  try {
    const fd = readFileSync(path, { flag: 'r' }).subarray(0, 4)
    return fd.length === 4 && fd[0] === 0x7f && fd[1] === 0x45 && fd[2] === 0x4c && fd[3] === 0x46
  } catch {
    return false
  }
}

async function libsOf(path: string): Promise<string[]> {
  const { stdout } = await run('ldd', [path]).catch(() => ({ stdout: '' }))
  const libs: string[] = []
  for (const line of stdout.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line)
    if (arrow) libs.push(arrow[1]!)
    else {
      const loader = /^\s*(\/\S*ld-linux\S*)/.exec(line)
      if (loader) libs.push(loader[1]!)
    }
  }
  return libs
}

function copyOne(src: string, root: string): string | undefined {
  const dest = join(root, src)
  if (existsSync(dest)) return undefined
  mkdirSync(dirname(dest), { recursive: true })
  copyFileSync(realpathSync(src), dest)
  chmodSync(dest, statSync(src).mode & 0o7777)
  return dest
}

function walk(path: string, out: string[]): void {
  const st = lstatSync(path)
  if (st.isDirectory()) {
    for (const e of readdirSync(path)) {
      if (e === '__pycache__' || e === 'test' || e === 'idlelib' || e === 'tkinter') continue
      walk(join(path, e), out)
    }
  } else if (st.isFile() || (st.isSymbolicLink() && existsSync(path))) out.push(path)
}

/** Writes DIR/rootfs and DIR/Dockerfile for one image. */
export async function writeRootfs(spec: ImageSpec, dir: string): Promise<void> {
  const root = join(dir, 'rootfs')
  mkdirSync(root, { recursive: true })
  const files: string[] = []
  for (const p of spec.paths) walk(p, files)
  const seen = new Set<string>()
  for (const f of files) {
    copyOne(f, root)
    if (!isElf(f)) continue
    for (const lib of await libsOf(f)) {
      if (seen.has(lib)) continue
      seen.add(lib)
      copyOne(lib, root)
    }
  }
  for (const d of spec.dirs ?? []) {
    mkdirSync(join(root, d), { recursive: true })
    if (d === '/tmp') chmodSync(join(root, d), 0o1777)
  }
  for (const [p, w] of Object.entries({ ...BASE_WRITE, ...spec.write })) {
    mkdirSync(dirname(join(root, p)), { recursive: true })
    writeFileSync(join(root, p), w.content, { mode: w.exec ? 0o755 : 0o644 })
  }
  // /usr/bin/ceph starts with #!/usr/bin/python3, a symlink on the host.
  if (spec.paths.includes('/usr/bin/python3.11')) copyFileSync(join(root, '/usr/bin/python3.11'), join(root, '/usr/bin/python3'))
  writeFileSync(join(dir, 'Dockerfile'), ['# Generated by tests/swarm/images.ts', 'FROM scratch', 'COPY rootfs/ /', ...spec.dockerfile, ''].join('\n'))
}
