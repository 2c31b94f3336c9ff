import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { REFERENCE_PLAN, REPO, run, tempDir } from './deploy-test-kit.js'
import { type CliIo, defaultImage, deployMain, sizingMain } from './cli.js'

function capture(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = ''
  let err = ''
  return {
    out: (s) => {
      out += s
    },
    err: (s) => {
      err += s
    },
    version: 'v0.1.0-harrier',
    stdout: () => out,
    stderr: () => err,
  }
}

const plan = join(REPO, REFERENCE_PLAN)

describe('harrier deploy / sizing: exit codes and help', () => {
  it('every command has --help (exit 0); no target is a usage error (exit 2)', () => {
    for (const argv of [['--help'], ['swarm', '--help'], ['compose', '-h'], ['k8s', '--help']]) {
      const io = capture()
      assert.equal(deployMain(argv, io), 0, argv.join(' '))
      assert.match(io.stdout(), /^Usage: harrier deploy/)
    }
    const io = capture()
    assert.equal(sizingMain(['--help'], io), 0)
    assert.match(io.stdout(), /^Usage: harrier sizing/)
    const none = capture()
    assert.equal(deployMain([], none), 2)
    assert.match(none.stderr(), /Usage: harrier deploy/)
  })

  const usage: readonly [string, string[], RegExp][] = [
    ['unknown target', ['helm'], /unknown deploy target "helm"/],
    ['missing --plan', ['swarm', '--out', '/tmp/x'], /--plan FILE is required/],
    ['missing --out', ['swarm', '--plan', plan], /--out DIR is required/],
    ['unknown option', ['swarm', '--plan', plan, '--out', '/tmp/x', '--force'], /unknown option --force/],
    ['option without value', ['swarm', '--plan'], /option --plan needs a value/],
    ['missing plan file', ['swarm', '--plan', '/nonexistent/plan.yaml', '--out', '/tmp/x'], /plan file \/nonexistent\/plan\.yaml does not exist/],
    ['bad profile', ['compose', '--out', '/tmp/x', '--profile', 'big'], /--profile must be standalone, cluster or all/],
    ['bad namespace', ['k8s', '--out', '/tmp/x', '--namespace', 'Bad_NS'], /not a valid namespace name/],
  ]
  for (const [what, argv, message] of usage) {
    it(`usage error: ${what} (exit 2)`, () => {
      const io = capture()
      assert.equal(deployMain(argv, io), 2)
      assert.match(io.stderr(), message)
      assert.equal(io.stdout(), '')
    })
  }

  it('an invalid plan exits 2 with the validation message', () => {
    const tmp = tempDir('cli-plan')
    try {
      writeFileSync(join(tmp.dir, 'p.yaml'), 'hosts:\n  - { name: a, address: 10.0.0.1, services: [querynod] }\n')
      const io = capture()
      assert.equal(deployMain(['swarm', '--plan', join(tmp.dir, 'p.yaml'), '--out', join(tmp.dir, 'out')], io), 2)
      assert.match(io.stderr(), /unknown service "querynod"/)
      assert.equal(existsSync(join(tmp.dir, 'out')), false)
    } finally {
      tmp.remove()
    }
  })

  it('writes the files and exits 0; the default image is harrier:<version>', () => {
    assert.equal(defaultImage('v0.1.0-harrier'), 'harrier:0.1.0')
    const tmp = tempDir('cli-out')
    try {
      for (const argv of [
        ['swarm', '--plan', plan, '--out', join(tmp.dir, 'swarm')],
        ['compose', '--out', join(tmp.dir, 'compose')],
        ['k8s', '--plan', plan, '--out', join(tmp.dir, 'k8s')],
      ]) {
        const io = capture()
        assert.equal(deployMain(argv, io), 0, io.stderr())
        assert.match(io.stdout(), /^wrote \d+ files to /)
      }
      assert.match(readFileSync(join(tmp.dir, 'swarm/harrier-stack.yml'), 'utf8'), /image: harrier:0\.1\.0\n/)
      assert.ok(existsSync(join(tmp.dir, 'compose/docker-compose.cluster.yml')))
      assert.ok(existsSync(join(tmp.dir, 'k8s/overlays/harrier/placement.yaml')))
      const io = capture()
      assert.equal(sizingMain(['--vectors', '30m', '--dim', '1024', '--json', '--out-plan', join(tmp.dir, 'suggested.yaml')], io), 0, io.stderr())
      assert.equal((JSON.parse(io.stdout()) as { queryNodes: number }).queryNodes, 4)
      const suggested = readFileSync(join(tmp.dir, 'suggested.yaml'), 'utf8')
      assert.match(suggested, /name: query4\n/)
      assert.doesNotMatch(suggested, /name: query5\n/)
      const bad = capture()
      assert.equal(sizingMain(['--vectors', 'lots', '--dim', '8'], bad), 2)
      assert.match(bad.stderr(), /--vectors: expected a count such as 100k, 30m or 1\.5b/)
    } finally {
      tmp.remove()
    }
  })

  it('the harrier command dispatches deploy and sizing (real process, exit codes)', () => {
    const cli = join(REPO, 'dist/src/roles/cli.js')
    const help = run(process.execPath, [cli, '--help'])
    assert.match(help.stdout, /harrier deploy <swarm\|compose\|k8s>/)
    assert.match(help.stdout, /harrier sizing --vectors N --dim D/)
    const sizing = run(process.execPath, [cli, 'sizing', '--vectors', '30m', '--dim', '1024', '--plan', plan])
    assert.equal(sizing.status, 0, sizing.stderr)
    assert.match(sizing.stdout, /querynode +5 x 16 CPU 64\.00 GiB/)
    assert.equal(run(process.execPath, [cli, 'sizing', '--dim', '4']).status, 2)
    assert.equal(run(process.execPath, [cli, 'deploy', 'swarm', '--help']).status, 0)
    assert.equal(run(process.execPath, [cli, 'deploy', 'nomad']).status, 2)
  })
})
