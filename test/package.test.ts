import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repositoryRoot, type startHostProcess } from './helpers/host.js';
import { rawRequest } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';
import { optionalPackages } from '../shared/optional-package.js';

function run(command: string, args: string[], cwd: string, timeout = 1_200_000): Promise<{ code: number; stdout: string; stderr: string }> {
  // Without NODE_TEST_CONTEXT, a `node --test` started here reports as it would for the user, not to this test runner.
  const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0, stdout, stderr }),
    );
  });
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The production install's budget: what `du -s node_modules` reports (hard links counted once). */
const INSTALL_BUDGET_BYTES = 60 * 2 ** 20;

interface FolderSize {
  /** Space taken on disk, as du counts it (allocated blocks; a hard-linked file once). */
  disk: number;
  /** The files' lengths added up. */
  files: number;
}

async function folderSize(folder: string, seen = new Set<string>()): Promise<FolderSize> {
  const total: FolderSize = { disk: 0, files: 0 };
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    const info = await lstat(path);
    const inode = `${info.dev}:${info.ino}`;
    if (!seen.has(inode)) {
      seen.add(inode);
      total.disk += info.blocks * 512;
      if (info.isFile()) total.files += info.size;
    }
    if (entry.isDirectory()) {
      const inner = await folderSize(path, seen);
      total.disk += inner.disk;
      total.files += inner.files;
    }
  }
  return total;
}

const megabytes = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** The installed packages (node_modules/X and node_modules/@scope/X), largest first. */
async function packageSizes(modules: string): Promise<Array<[string, FolderSize]>> {
  const names: string[] = [];
  for (const entry of await readdir(modules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    if (entry.name.startsWith('@')) for (const inner of await readdir(join(modules, entry.name))) names.push(`${entry.name}/${inner}`);
    else names.push(entry.name);
  }
  const sizes = await Promise.all(names.map(async (name) => [name, await folderSize(join(modules, name))] as [string, FolderSize]));
  return sizes.sort((a, b) => b[1].disk - a[1].disk);
}

describe('package.json: what ships, what installs', () => {
  it('lists as optional peer dependencies exactly the optional packages the code names', async () => {
    const manifest = JSON.parse(await readFile(join(repositoryRoot, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(manifest.peerDependencies ?? {}).sort(), Object.keys(optionalPackages).sort());
    for (const name of Object.keys(optionalPackages)) {
      assert.deepEqual(manifest.peerDependenciesMeta?.[name], { optional: true }, name);
      assert.equal(
        manifest.devDependencies?.[name],
        manifest.peerDependencies?.[name],
        `${name}: the tests use the version users are told to install`,
      );
      assert.equal(manifest.dependencies?.[name], undefined, name);
    }
    // Tests only.
    assert.equal(manifest.dependencies?.['playwright-core'], undefined);
  });
});

/**
 * The package as a user gets it: `npm pack`, then `npm install` of the tarball into an empty
 * folder. `npm install` compiles better-sqlite3 there, which takes about a minute, so CI runs this
 * file once (ORC_SKIP_PACKAGE_TEST=1 skips it in the other runs).
 */
describe(
  'the packed tarball, installed into an empty folder',
  { timeout: 2_400_000, skip: process.env.ORC_SKIP_PACKAGE_TEST === '1' },
  () => {
    let folder: string;
    let orthanc: TestOrthanc;
    let packedFiles: string[] = [];

    before(async () => {
      folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-package-'));
      // dist/ is already built (npm test builds first); --ignore-scripts keeps `prepare` from rebuilding it under running tests.
      const packed = await run(npm, ['pack', '--ignore-scripts', '--pack-destination', folder], repositoryRoot);
      assert.equal(packed.code, 0, packed.stderr);
      const tarball = (await readdir(folder)).find((name) => name.endsWith('.tgz'));
      assert.ok(tarball, 'npm pack made no tarball');
      await writeFile(join(folder, 'package.json'), JSON.stringify({ name: 'a-pacs-site', private: true, type: 'module' }));
      const listed = await run('tar', ['-tzf', join(folder, tarball)], folder);
      packedFiles = listed.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => line.replace(/^package\//, ''));
      const installed = await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', `./${tarball}`], folder);
      assert.equal(installed.code, 0, installed.stderr);
      orthanc = await startTestOrthanc();
    });

    after(async () => {
      await orthanc?.stop();
      if (folder) await rm(folder, { recursive: true, force: true });
    });

    it('packs no compiled test and no stale file: every compiled file has its source', async () => {
      const compiled = packedFiles.filter((file) => file.startsWith('dist/'));
      assert.ok(compiled.includes('dist/host/index.js'), 'the host is packed');
      assert.deepEqual(
        compiled.filter((file) => /^dist\/(recipes\/[^/]+\/test\/|test\/(?!helpers\/)|bench\/)/.test(file)),
        [],
      );
      const sourceless: string[] = [];
      for (const file of compiled) {
        const source = file.replace(/^dist\//, '').replace(/\.d\.ts$|\.js\.map$|\.js$/, '.ts');
        if (source.endsWith('.ts')) await lstat(join(repositoryRoot, source)).catch(() => sourceless.push(file));
      }
      assert.deepEqual(sourceless, [], 'compiled files whose source is gone (the build cleans dist/)');
    });

    it(`a production install holds only what runs: under ${megabytes(INSTALL_BUDGET_BYTES)}`, async (t) => {
      const modules = join(folder, 'node_modules');
      const size = await folderSize(modules);
      const largest = (await packageSizes(modules)).slice(0, 8);
      t.diagnostic(`production install (npm install of the tarball): ${megabytes(size.disk)} on disk, ${megabytes(size.files)} of files`);
      t.diagnostic(`largest: ${largest.map(([name, each]) => `${name} ${megabytes(each.disk)}`).join(', ')}`);
      for (const name of [...Object.keys(optionalPackages), 'playwright-core', 'esbuild', 'core-js-pure', 'typescript']) {
        await assert.rejects(lstat(join(modules, name)), `${name} is not installed`);
      }
      assert.ok(size.disk < INSTALL_BUDGET_BYTES, `${megabytes(size.disk)} installed, more than ${megabytes(INSTALL_BUDGET_BYTES)}`);
    });

    it('without an optional package: the test kit imports, and a recipe that needs it says which package to install', async () => {
      const kit = (await import(join(folder, 'node_modules', 'orthanc-recipes', 'dist', 'test', 'helpers', 'index.js'))) as {
        startHostProcess: typeof startHostProcess;
        generateStudy: (spec: object) => unknown;
      };
      assert.throws(
        () => kit.generateStudy({ series: [{ modality: 'CT', instances: 1 }] }),
        /the optional package dcmjs, needed by .*, is not installed: install it beside orthanc-recipes \("npm install dcmjs"/,
      );
      const host = await kit.startHostProcess(
        {
          Orthanc: { Url: orthanc.url },
          Recipes: { hello: { Enabled: true }, 'dicom-dump': { Enabled: true }, thumbnails: { Enabled: true } },
        },
        folder,
      );
      try {
        await host.log.waitFor(/dicom-dump\] .*the optional package dcmjs, needed by the dicom-dump recipe[^,]*, is not installed/, 20_000);
        await host.log.waitFor(/thumbnails\] .*the optional package sharp, needed by the thumbnails recipe, is not installed/, 20_000);
        assert.equal((await rawRequest(`${host.url}/tata`)).status, 200, 'the other recipes run');
      } finally {
        await host.stop();
      }
    });

    it('npx orthanc-recipes list names the bundled recipes', async () => {
      const listed = await run(npm, ['exec', '--', 'orthanc-recipes', 'list'], folder);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^hello +Hello: /m);
    });

    it('new, check and run an external recipe with the installed host, then test it with the test kit', async () => {
      // A TypeScript recipe and its test need tsx and dcmjs, as the README's install section says.
      const manifest = JSON.parse(await readFile(join(repositoryRoot, 'package.json'), 'utf8')) as {
        peerDependencies: Record<string, string>;
      };
      const extras = await run(
        npm,
        [
          'install',
          '--no-audit',
          '--no-fund',
          '--prefer-offline',
          '--save-dev',
          ...['tsx', 'dcmjs'].map((name) => `${name}@${manifest.peerDependencies[name]}`),
        ],
        folder,
      );
      assert.equal(extras.code, 0, extras.stderr);
      const created = await run(npm, ['exec', '--', 'orthanc-recipes', 'new', 'site-recipe', '--dir', '.'], folder);
      assert.equal(created.code, 0, created.stderr);
      // A README still as the template wrote it is flagged; once the author has written their own, check passes.
      const unchanged = await run(npm, ['exec', '--', 'orthanc-recipes', 'check', 'site-recipe'], folder);
      assert.notEqual(unchanged.code, 0);
      assert.match(unchanged.stdout + unchanged.stderr, /README\.md is still the template's/);
      const readmeFile = join(folder, 'site-recipe', 'README.md');
      await writeFile(
        readmeFile,
        (await readFile(readmeFile, 'utf8')).replace(/^A recipe of orthanc-recipes.*$/m, 'Tells the last stored instance.'),
      );
      const checked = await run(npm, ['exec', '--', 'orthanc-recipes', 'check', 'site-recipe'], folder);
      assert.equal(checked.code, 0, checked.stdout + checked.stderr);

      // The installed package's own test kit, so that the host is the installed CLI, not this repository's.
      const kit = (await import(join(folder, 'node_modules', 'orthanc-recipes', 'dist', 'test', 'helpers', 'index.js'))) as {
        startHostProcess: typeof startHostProcess;
      };
      const host = await kit.startHostProcess(
        {
          Orthanc: { Url: orthanc.url },
          Recipes: { 'site-recipe': { Enabled: true, Module: './site-recipe' }, dashboard: { Enabled: true } },
        },
        folder,
      );
      try {
        assert.deepEqual(JSON.parse((await rawRequest(`${host.url}/recipes/site-recipe`)).body.toString()), {
          Greeting: 'Hello',
          LastInstance: null,
        });
        // The dashboard's static files are in the package too.
        for (const file of ['', 'app.js', 'style.css'])
          assert.equal((await rawRequest(`${host.url}/recipes/ui/${file}`)).status, 200, file || 'index.html');
      } finally {
        await host.stop();
      }

      // The generated tests import orthanc-recipes/testing: the RecipeTester's table on a fake
      // Orthanc (5 cases), then a real Orthanc and the installed CLI (2).
      const tests = ['site-recipe/test/site-recipe.test.ts', 'site-recipe/test/site-recipe.orthanc.test.ts'];
      const tested = await run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', ...tests], folder);
      assert.equal(tested.code, 0, tested.stdout + tested.stderr);
      assert.match(tested.stdout, /^# pass 7$/m);
    });
  },
);
