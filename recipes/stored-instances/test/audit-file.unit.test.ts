import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AuditFile } from '../audit-file.js';

const lines = async (path: string) =>
  (await readFile(path, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { n: number; pad: string });

describe('the audit file', () => {
  it('keeps every line whole and in order under concurrent appends, rotating by size and keeping N files', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-audit-'));
    const path = join(folder, 'nested', 'audit.jsonl');
    const audit = await AuditFile.open({ path, maxBytes: 2000, keep: 3 });
    await Promise.all(Array.from({ length: 200 }, (_, n) => audit.append({ n, pad: 'x'.repeat(n % 97) })));
    await audit.close();
    assert.deepEqual((await readdir(join(folder, 'nested'))).sort(), ['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2', 'audit.jsonl.3']);
    const kept = [...(await lines(`${path}.3`)), ...(await lines(`${path}.2`)), ...(await lines(`${path}.1`)), ...(await lines(path))];
    assert.deepEqual(
      kept.map((r) => r.n),
      Array.from({ length: kept.length }, (_, i) => 200 - kept.length + i),
    );
    for (const name of ['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2', 'audit.jsonl.3'])
      assert.ok((await stat(join(folder, 'nested', name))).size <= 2000, name);
  });

  it('appends after what the file already holds (O_APPEND), and writes a line larger than the limit whole', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-audit-'));
    const path = join(folder, 'audit.jsonl');
    await writeFile(path, '{"n":-1,"pad":""}\n');
    const audit = await AuditFile.open({ path, maxBytes: 100, keep: 1 });
    await audit.append({ n: 0, pad: 'y'.repeat(500) });
    await audit.append({ n: 1, pad: '' });
    await audit.close();
    assert.deepEqual(
      (await lines(`${path}.1`)).map((r) => r.n),
      [0],
    );
    assert.deepEqual(
      (await lines(path)).map((r) => r.n),
      [1],
    );
  });

  it('drops the old lines at rotation with AuditKeepFiles 0', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-audit-'));
    const path = join(folder, 'audit.jsonl');
    const audit = await AuditFile.open({ path, maxBytes: 30, keep: 0 });
    for (let n = 0; n < 5; n += 1) await audit.append({ n, pad: 'z' });
    await audit.close();
    assert.deepEqual(await readdir(folder), ['audit.jsonl']);
    assert.deepEqual(
      (await lines(path)).map((r) => r.n),
      [4],
    );
  });
});
