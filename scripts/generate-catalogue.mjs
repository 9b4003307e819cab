// Writes catalogue.json and CATALOGUE.md from the bundled recipes' metadata and schemas (after
// tsc: it reads dist/). CI fails when a committed file is stale, and so does test/catalogue.unit.test.ts.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../', import.meta.url).pathname;
const { bundledRecipes } = await import(join(root, 'dist/host/registry.js'));
const { catalogueEntries, catalogueJson, catalogueMarkdown } = await import(join(root, 'dist/cli/catalogue.js'));
const entries = await catalogueEntries(bundledRecipes);
for (const [file, text] of [
  ['catalogue.json', catalogueJson(entries)],
  ['CATALOGUE.md', catalogueMarkdown(entries)],
]) {
  const path = join(root, file);
  if (!existsSync(path) || readFileSync(path, 'utf8') !== text) writeFileSync(path, text);
}
