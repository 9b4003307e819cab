import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkRecipeFolder, standardHeadings, templateReadmeMarker } from '../cli/check-recipe.js';
import { catalogueEntries, catalogueJson, catalogueMarkdown } from '../cli/catalogue.js';
import { newRecipe, templateDirectory } from '../cli/new-recipe.js';
import { bundledRecipes } from '../host/index.js';
import { repositoryRoot } from './helpers/host.js';

const recipesDirectory = join(repositoryRoot, 'recipes');

describe('the catalogue, honest by construction', () => {
  it('has one registry entry per recipe folder, and no other', async () => {
    const folders = (await readdir(recipesDirectory, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    assert.deepEqual(Object.keys(bundledRecipes).sort(), folders.sort());
  });

  for (const id of Object.keys(bundledRecipes)) {
    it(`recipes/${id} has its README (standard headings, a valid example), schema (descriptions, defaults) and test`, async () => {
      const problems = await checkRecipeFolder(join(recipesDirectory, id), await bundledRecipes[id]!());
      assert.deepEqual(problems, []);
    });
  }

  it('catalogue.json and CATALOGUE.md are as the recipes make them (run `npm run build` to refresh)', async () => {
    const entries = await catalogueEntries(bundledRecipes);
    assert.equal(await readFile(join(repositoryRoot, 'catalogue.json'), 'utf8'), catalogueJson(entries));
    assert.equal(await readFile(join(repositoryRoot, 'CATALOGUE.md'), 'utf8'), catalogueMarkdown(entries));
    const markdown = catalogueMarkdown(entries);
    for (const id of Object.keys(bundledRecipes)) assert.match(markdown, new RegExp(`\\(\`${id}\`\\)`));
  });
});

describe('orthanc-recipes check', () => {
  it("accepts the template as `new` makes it, once its README is the author's own", async () => {
    const parent = await mkdtemp(join(tmpdir(), 'orthanc-recipes-check-'));
    const { folder } = await newRecipe('fresh-one', parent, []);
    const recipe = {
      meta: { id: 'fresh-one', title: 'Fresh One', description: 'd', routes: [], events: [], destructive: false },
      schema: JSON.parse(await readFile(join(folder, 'schema.json'), 'utf8')),
      setup() {},
    };
    assert.deepEqual(await checkRecipeFolder(folder, recipe), [
      "README.md is still the template's: say what this recipe does, its options, routes and failure modes",
    ]);
    const readme = join(folder, 'README.md');
    await writeFile(readme, (await readFile(readme, 'utf8')).replace(templateReadmeMarker, 'written by its author'));
    assert.deepEqual(await checkRecipeFolder(folder, recipe), []);
    await rm(parent, { recursive: true });
  });

  it('rejects a broken recipe with every reason', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'orthanc-recipes-check-'));
    const { folder } = await newRecipe('broken-one', parent, []);
    const schema = {
      type: 'object',
      properties: { Greeting: { type: 'string' }, Count: { type: 'integer', description: 'n', default: 1 } },
    };
    await writeFile(join(folder, 'schema.json'), JSON.stringify(schema));
    const readme = (await readFile(join(folder, 'README.md'), 'utf8'))
      .replace('## Failure modes', '## Caveats')
      .replace('"Greeting": "Hello"', '"Greeting": 3')
      .replace(templateReadmeMarker, 'written by its author');
    await writeFile(join(folder, 'README.md'), readme);
    await rm(join(folder, 'test'), { recursive: true });
    const recipe = {
      meta: { id: 'other-id', title: 'T', description: 'd', routes: [], events: [], destructive: false },
      schema,
      setup() {},
    };
    assert.deepEqual(
      (await checkRecipeFolder(folder, recipe)).sort(),
      [
        'README.md lacks the heading "## Failure modes"',
        'README.md, JSON example 1: /Greeting: must be string',
        'meta.id is "other-id", not the folder\'s name "broken-one"',
        'schema.json: option "Greeting" has no "default"',
        'schema.json: option "Greeting" has no "description"',
        'schema.json: set "additionalProperties": false, so that a typo in a configuration is an error',
        'test/ is missing',
      ].sort(),
    );
    await rm(parent, { recursive: true });
  });

  it('names the standard headings that the template README has', async () => {
    const readme = await readFile(join(templateDirectory, 'README.md'), 'utf8');
    for (const heading of standardHeadings) assert.match(readme, new RegExp(`^## ${heading}$`, 'm'));
  });
});

describe('orthanc-recipes new', () => {
  it('inside this repository layout: relative imports and one registry line', async () => {
    const root = await mkdtemp(join(tmpdir(), 'orthanc-recipes-repo-'));
    await mkdir(join(root, 'host'), { recursive: true });
    await mkdir(join(root, 'shared'));
    await mkdir(join(root, 'recipes'));
    await writeFile(join(root, 'shared', 'recipe.ts'), '');
    const registry = await readFile(join(repositoryRoot, 'host', 'registry.ts'), 'utf8');
    await writeFile(join(root, 'host', 'registry.ts'), registry);
    const created = await newRecipe('made-here', join(root, 'recipes'), []);
    assert.equal(created.bundled, true);
    assert.deepEqual(created.files, [
      'README.md',
      'index.ts',
      'options.generated.ts',
      'schema.json',
      'test/made-here.orthanc.test.ts',
      'test/made-here.test.ts',
    ]);
    const index = await readFile(join(created.folder, 'index.ts'), 'utf8');
    assert.match(index, /from '\.\.\/\.\.\/shared\/recipe\.js'/);
    assert.match(index, /id: 'made-here',\n\s+title: 'Made Here',/);
    assert.doesNotMatch(index + (await readFile(join(created.folder, 'test/made-here.test.ts'), 'utf8')), /__[A-Z_]+__/);
    const updated = await readFile(join(root, 'host', 'registry.ts'), 'utf8');
    assert.equal(updated.replace("  'made-here': async () => (await import('../recipes/made-here/index.js')).default,\n", ''), registry);
    assert.equal(existsSync(join(created.folder, 'package.json')), false);
    await rm(root, { recursive: true });
  });

  it('refuses an id that is not kebab-case, taken, or a folder that exists', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'orthanc-recipes-new-'));
    await assert.rejects(newRecipe('Not_Kebab', parent, []), /not a kebab-case id/);
    await assert.rejects(newRecipe('hello', parent, ['hello']), /taken by a bundled recipe/);
    await mkdir(join(parent, 'there'));
    await assert.rejects(newRecipe('there', parent, []), /exists already/);
    await rm(parent, { recursive: true });
  });
});
