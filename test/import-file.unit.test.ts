import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { importFile } from '../shared/import-file.js';

describe('importFile: JavaScript and TypeScript files by path', () => {
  it("imports a TypeScript file with no package.json above it (CommonJS by Node's rules), once", async () => {
    const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-import-'));
    const file = join(folder, 'task.ts');
    await writeFile(
      file,
      `interface Counter { loads: number }
const global = globalThis as unknown as { importFileLoads?: Counter };
global.importFileLoads ??= { loads: 0 };
global.importFileLoads.loads += 1;
export default (n: number): number => n * 2;
`,
    );
    const first = await importFile(file);
    const second = await importFile(file);
    // CommonJS through tsx: the namespace's default is module.exports, whose default is the function.
    const exported = (first.default as { default: (n: number) => number }).default;
    assert.equal(exported(21), 42);
    assert.equal(second, first);
    assert.equal((globalThis as unknown as { importFileLoads: { loads: number } }).importFileLoads.loads, 1);
  });

  it('imports an ES module TypeScript file (.mts) and a JavaScript one', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-import-'));
    await writeFile(join(folder, 'a.mts'), 'export default (s: string): string => s.toUpperCase();\n');
    await writeFile(join(folder, 'b.mjs'), 'export default (s) => s + "!";\n');
    assert.equal(((await importFile(join(folder, 'a.mts'))).default as (s: string) => string)('x'), 'X');
    assert.equal(((await importFile(join(folder, 'b.mjs'))).default as (s: string) => string)('x'), 'x!');
  });
});
