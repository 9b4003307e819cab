import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repositoryRoot, type startHostProcess } from './helpers/host.js';
import { rawRequest } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

function run(command: string, args: string[], cwd: string, timeout = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  // Without NODE_TEST_CONTEXT, a `node --test` started here reports as it would for the user, not to this test runner.
  const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0, stdout, stderr }),
    );
  });
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/**
 * The package as a user gets it: `npm pack`, then `npm install` of the tarball into an empty
 * folder. `npm install` compiles better-sqlite3 there, which takes about a minute, so CI runs this
 * file once (ORC_SKIP_PACKAGE_TEST=1 skips it in the other runs).
 */
describe('the packed tarball, installed into an empty folder', { timeout: 600_000, skip: process.env.ORC_SKIP_PACKAGE_TEST === '1' }, () => {
  let folder: string;
  let orthanc: TestOrthanc;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-package-'));
    // dist/ is already built (npm test builds first); --ignore-scripts keeps `prepare` from rebuilding it under running tests.
    const packed = await run(npm, ['pack', '--ignore-scripts', '--pack-destination', folder], repositoryRoot);
    assert.equal(packed.code, 0, packed.stderr);
    const tarball = (await readdir(folder)).find((name) => name.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack made no tarball');
    await writeFile(join(folder, 'package.json'), JSON.stringify({ name: 'a-pacs-site', private: true, type: 'module' }));
    const installed = await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', `./${tarball}`], folder);
    assert.equal(installed.code, 0, installed.stderr);
    orthanc = await startTestOrthanc();
  });

  after(async () => {
    await orthanc?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('npx orthanc-recipes list names the bundled recipes', async () => {
    const listed = await run(npm, ['exec', '--', 'orthanc-recipes', 'list'], folder);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^hello +Hello: /m);
  });

  it('new, check and run an external recipe with the installed host, then test it with the test kit', async () => {
    const created = await run(npm, ['exec', '--', 'orthanc-recipes', 'new', 'site-recipe', '--dir', '.'], folder);
    assert.equal(created.code, 0, created.stderr);
    // A README still as the template wrote it is flagged; once the author has written their own, check passes.
    const unchanged = await run(npm, ['exec', '--', 'orthanc-recipes', 'check', 'site-recipe'], folder);
    assert.notEqual(unchanged.code, 0);
    assert.match(unchanged.stdout + unchanged.stderr, /README\.md is still the template's/);
    const readmeFile = join(folder, 'site-recipe', 'README.md');
    await writeFile(readmeFile, (await readFile(readmeFile, 'utf8')).replace(/^A recipe of orthanc-recipes.*$/m, 'Tells the last stored instance.'));
    const checked = await run(npm, ['exec', '--', 'orthanc-recipes', 'check', 'site-recipe'], folder);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);

    // The installed package's own test kit, so that the host is the installed CLI, not this repository's.
    const kit = (await import(join(folder, 'node_modules', 'orthanc-recipes', 'dist', 'test', 'helpers', 'index.js'))) as { startHostProcess: typeof startHostProcess };
    const host = await kit.startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { 'site-recipe': { Enabled: true, Module: './site-recipe' }, dashboard: { Enabled: true } } }, folder);
    try {
      assert.deepEqual(JSON.parse((await rawRequest(`${host.url}/recipes/site-recipe`)).body.toString()), { Greeting: 'Hello', LastInstance: null });
      // The dashboard's static files are in the package too.
      for (const file of ['', 'app.js', 'style.css']) assert.equal((await rawRequest(`${host.url}/recipes/ui/${file}`)).status, 200, file || 'index.html');
    } finally {
      await host.stop();
    }

    // The generated tests import orthanc-recipes/testing: the RecipeTester's table on a fake
    // Orthanc (4 cases), then a real Orthanc and the installed CLI (2).
    const tests = ['site-recipe/test/site-recipe.test.ts', 'site-recipe/test/site-recipe.orthanc.test.ts'];
    const tested = await run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', ...tests], folder);
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /^# pass 6$/m);
  });
});
