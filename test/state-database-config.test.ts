import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cliPath } from './helpers/host.js';

function validate(config: unknown): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    mkdtemp(join(tmpdir(), 'orthanc-recipes-config-'))
      .then(async (folder) => {
        const file = join(folder, 'cluster.json');
        await writeFile(file, JSON.stringify(config));
        execFile(process.execPath, [cliPath, 'validate', '--config', file], (error, _stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
        );
      })
      .catch(reject);
  });
}

describe('StateDatabase in the configuration', () => {
  it('refuses PostgreSQL without a connection string, and a schema name that is not an identifier: exit code 2 with the pointer', async () => {
    const missing = await validate({ StateDatabase: { Engine: 'PostgreSQL' } });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /host: \/StateDatabase\/ConnectionString: is required with "Engine": "PostgreSQL"/);
    const schema = await validate({
      StateDatabase: { Engine: 'PostgreSQL', ConnectionString: 'postgres://x@127.0.0.1/db', Schema: 'bad; DROP' },
    });
    assert.equal(schema.code, 2);
    assert.match(schema.stderr, /host: \/StateDatabase\/Schema: must match pattern/);
    const engine = await validate({ StateDatabase: { Engine: 'MySQL' } });
    assert.equal(engine.code, 2);
    assert.match(engine.stderr, /\/StateDatabase\/Engine/);
  });

  it('accepts the SQLite default and a complete PostgreSQL section', async () => {
    assert.equal((await validate({})).code, 0);
    assert.equal(
      (
        await validate({
          StateDatabase: {
            Engine: 'PostgreSQL',
            ConnectionString: 'postgres://recipes@db.example:5432/orthanc',
            PasswordFile: 'pg-password',
            LeaseSeconds: 10,
          },
        })
      ).code,
      0,
    );
  });
});
