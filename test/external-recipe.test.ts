import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { templateReadmeMarker } from '../cli/check-recipe.js';
import { cliPath, repositoryRoot, startHostProcess } from './helpers/host.js';
import { rawRequest } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

function cli(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { cwd }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A JavaScript recipe, as a user writes one outside this repository. */
const javaScriptRecipe = `import { defineRecipe } from 'orthanc-recipes/recipe';
export default defineRecipe({
  meta: { id: 'plain-js', title: 'Plain JS', description: 'Answers its option.', routes: ['GET /plain-js'], events: [], destructive: false },
  schema: { type: 'object', properties: { Word: { type: 'string', description: 'The word.', default: 'plain' } }, additionalProperties: false },
  setup({ orthanc }, options) {
    orthanc.registerRestCallback('/plain-js', (output) => output.answerJson({ Word: options.Word }));
  },
});
`;

/** Replaces the template's README line that `check` flags, as an author does. */
async function ownReadme(folder: string): Promise<void> {
  const file = join(folder, 'README.md');
  await writeFile(file, (await readFile(file, 'utf8')).replace(templateReadmeMarker, 'counts what it sees'));
}

describe('external recipes, from a folder, in TypeScript and JavaScript', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let project: string;

  before(async () => {
    orthanc = await startTestOrthanc();
    // A user's project with the package installed: node_modules/orthanc-recipes is this repository.
    project = await mkdtemp(join(tmpdir(), 'orthanc-recipes-user-'));
    await mkdir(join(project, 'node_modules'));
    await symlink(repositoryRoot, join(project, 'node_modules', 'orthanc-recipes'));
    await symlink(join(repositoryRoot, 'node_modules', 'tsx'), join(project, 'node_modules', 'tsx'));
    await writeFile(join(project, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
    await mkdir(join(project, 'js-recipes', 'plain-js'), { recursive: true });
    await writeFile(join(project, 'js-recipes', 'plain-js', 'index.js'), javaScriptRecipe);
  });

  after(async () => {
    await orthanc?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('new, then check, then a real host runs the TypeScript recipe', async () => {
    const created = await cli(project, 'new', 'my-counter', '--dir', 'my-recipes');
    assert.equal(created.code, 0, created.stderr);
    await ownReadme(join(project, 'my-recipes', 'my-counter'));
    const checked = await cli(project, 'check', 'my-recipes/my-counter');
    assert.equal(checked.code, 0, checked.stderr);
    assert.match(checked.stdout, /ready for the catalogue/);

    const host = await startHostProcess(
      { Orthanc: { Url: orthanc.url }, Recipes: { 'my-counter': { Enabled: true, Module: './my-recipes/my-counter', Greeting: 'Salut' } } },
      project,
    );
    try {
      const answer = await rawRequest(`${host.url}/recipes/my-counter`);
      assert.equal(answer.status, 200);
      assert.deepEqual(JSON.parse(answer.body.toString()), { Greeting: 'Salut', LastInstance: null });
    } finally {
      await host.stop();
    }
  });

  it('a real host runs the JavaScript recipe, with its options validated like a bundled one', async () => {
    const host = await startHostProcess(
      { Orthanc: { Url: orthanc.url }, Recipes: { 'plain-js': { Enabled: true, Module: './js-recipes/plain-js', Word: 'hi' } } },
      project,
    );
    try {
      assert.deepEqual(JSON.parse((await rawRequest(`${host.url}/plain-js`)).body.toString()), { Word: 'hi' });
    } finally {
      await host.stop();
    }
    await writeFile(
      join(project, 'bad-option.json'),
      JSON.stringify({ Recipes: { 'plain-js': { Enabled: true, Module: './js-recipes/plain-js', Word: 3, Extra: 1 } } }),
    );
    const bad = await cli(project, 'validate', '--config', 'bad-option.json');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /recipe "plain-js": \/Recipes\/plain-js\/Word: must be string/);
    assert.match(bad.stderr, /recipe "plain-js": \/Recipes\/plain-js\/Extra: unknown key "Extra"/);
  });

  it('a recipe in a folder with no node_modules anywhere above resolves orthanc-recipes to the running host', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'orthanc-recipes-loose-'));
    try {
      const created = await cli(elsewhere, 'new', 'loose-one', '--dir', '.');
      assert.equal(created.code, 0, created.stderr);
      const host = await startHostProcess(
        { Orthanc: { Url: orthanc.url }, Recipes: { 'loose-one': { Enabled: true, Module: './loose-one' } } },
        elsewhere,
      );
      try {
        assert.deepEqual(JSON.parse((await rawRequest(`${host.url}/recipes/loose-one`)).body.toString()), {
          Greeting: 'Hello',
          LastInstance: null,
        });
      } finally {
        await host.stop();
      }
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('a recipe package that exports only for import (ESM-only) is found by name', async () => {
    const folder = join(project, 'node_modules', 'esm-only-recipe');
    await mkdir(folder, { recursive: true });
    await writeFile(
      join(folder, 'package.json'),
      JSON.stringify({ name: 'esm-only-recipe', type: 'module', exports: { '.': { import: './recipe.js' } } }),
    );
    await writeFile(join(folder, 'recipe.js'), javaScriptRecipe.replaceAll('plain-js', 'esm-only-recipe'));
    const host = await startHostProcess(
      { Orthanc: { Url: orthanc.url }, Recipes: { 'esm-only-recipe': { Enabled: true, Module: 'esm-only-recipe', Word: 'esm' } } },
      project,
    );
    try {
      assert.deepEqual(JSON.parse((await rawRequest(`${host.url}/esm-only-recipe`)).body.toString()), { Word: 'esm' });
    } finally {
      await host.stop();
    }
  });

  it('exits 2 with the reason for a missing module, no default recipe, a bad schema or another id', async () => {
    await mkdir(join(project, 'broken'), { recursive: true });
    await writeFile(join(project, 'broken', 'no-default.js'), 'export const x = 1;\n');
    await writeFile(
      join(project, 'broken', 'bad-schema.js'),
      javaScriptRecipe
        .replace("id: 'plain-js'", "id: 'bad-schema'")
        .replace("type: 'object', properties", "type: 'object', colour: 'blue', properties"),
    );
    await writeFile(join(project, 'broken', 'other-id.js'), javaScriptRecipe);
    const cases: [string, string, RegExp][] = [
      ['missing', './nowhere/at-all', /cannot find the module .*nowhere\/at-all/],
      ['no-default', './broken/no-default.js', /has no default export made by defineRecipe/],
      ['bad-schema', './broken/bad-schema.js', /strict mode: unknown keyword: "colour"/],
      ['other-id', './broken/other-id.js', /the module's recipe is "plain-js", not "other-id"/],
      ['no-package', 'orthanc-recipes-no-such-package', /cannot find the package "orthanc-recipes-no-such-package"/],
    ];
    for (const [id, module, reason] of cases) {
      const file = join(project, `${id}.json`);
      await writeFile(file, JSON.stringify({ Recipes: { [id]: { Enabled: true, Module: module } } }));
      const result = await cli(project, 'validate', '--config', file);
      assert.equal(result.code, 2, id);
      assert.match(result.stderr, new RegExp(`recipe "${id}": /Recipes/${id}/Module: `), id);
      assert.match(result.stderr, reason, id);
    }
  });
});
