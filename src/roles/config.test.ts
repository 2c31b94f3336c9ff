import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { it } from 'node:test'
import { isDbError } from '../common/errors.js'
import { DEFAULTS, loadConfig } from './config.js'

it('uses defaults, then the config file, then env vars, then flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'harrier-cfg-'))
  try {
    const file = join(dir, 'h.yaml')
    writeFileSync(file, 'port: 1111\nmetricsPort: 2222\ndataDir: /tmp/from-file\nlogLevel: warn\n')
    assert.deepEqual(loadConfig([], {}), { ...DEFAULTS, dataDir: resolve('./data') })
    const c = loadConfig(['--config', file, '--port=3333'], { HARRIER_METRICS_PORT: '4444', HARRIER_DATA_DIR: '/tmp/from-env' })
    assert.equal(c.port, 3333)
    assert.equal(c.metricsPort, 4444)
    assert.equal(c.dataDir, '/tmp/from-env')
    assert.equal(c.logLevel, 'warn')
    const flags = loadConfig(['--data-dir', '/tmp/x', '--port', '29530', '--metrics-port', '29091', '--host', '0.0.0.0'], {})
    assert.deepEqual([flags.dataDir, flags.port, flags.metricsPort, flags.host], ['/tmp/x', 29530, 29091, '0.0.0.0'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

it('refuses unknown options and bad values with a message naming the source', () => {
  const bad = (argv: string[], env: NodeJS.ProcessEnv = {}, re: RegExp) =>
    assert.throws(() => loadConfig(argv, env), (e) => isDbError(e, 'ParameterInvalid') && re.test(e.message))
  bad(['--prot', '1'], {}, /unknown option --prot/)
  bad(['--port', '70000'], {}, /flag --port/)
  bad(['--port'], {}, /needs a value/)
  bad([], { HARRIER_PORT: 'abc' }, /env HARRIER_PORT/)
  bad(['--log-level', 'loud'], {}, /debug\|info/)
  bad(['stray'], {}, /unexpected argument/)
})
