import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { repositoryRoot } from './helpers/host.js';

/**
 * The layers import only downwards: `shared/binding/` → `shared/` → `recipes/<id>/` → `host/` →
 * `cli/`. Read from the sources' import statements (static, `export … from`, dynamic `import()`,
 * type-only ones too), so that an arrow running back up fails here in milliseconds. A recipe's
 * own `test/` folder is test code: it may use the test kit, which starts hosts.
 */

type Layer = 'binding' | 'shared' | 'recipes' | 'host' | 'cli' | 'other';

const layerOf = (file: string): Layer => {
  const parts = relative(repositoryRoot, file).split(sep);
  if (parts[0] === 'shared') return parts[1] === 'binding' ? 'binding' : 'shared';
  if (parts[0] === 'recipes' || parts[0] === 'host' || parts[0] === 'cli') return parts[0];
  return 'other';
};

const recipeOf = (file: string): string | undefined => {
  const parts = relative(repositoryRoot, file).split(sep);
  return parts[0] === 'recipes' ? parts[1] : undefined;
};

/** What each layer must never import. */
const forbidden: Record<Layer, readonly Layer[]> = {
  binding: ['shared', 'recipes', 'host', 'cli'],
  shared: ['recipes', 'host', 'cli'],
  recipes: ['host', 'cli'],
  host: ['cli'],
  // The CLI reaches recipes through the host's registry (`introspect` included), never by a deep import.
  cli: ['recipes'],
  other: [],
};

const importPattern =
  /(?:\bimport\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?|\bexport\s+(?:type\s+)?[^'";]*?\s+from\s+|\bimport\s*\(\s*)['"]([^'"]+)['"]/g;

/** The module specifiers a source file names (comments included: a commented import still reads as one, on purpose). */
export function importsOf(source: string): string[] {
  return [...source.matchAll(importPattern)].map((match) => match[1]!);
}

async function sourceFiles(folder: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'test' || entry.name === 'node_modules' || entry.name === 'static') continue;
      files.push(...(await sourceFiles(path)));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      files.push(path);
    }
  }
  return files;
}

/** Every import of ours that runs back up a layer, or from one recipe into another: `file → target`. */
export async function upwardImports(root: string = repositoryRoot): Promise<string[]> {
  const found: string[] = [];
  const files = (await Promise.all(['shared', 'recipes', 'host', 'cli'].map((folder) => sourceFiles(join(root, folder))))).flat();
  for (const file of files) {
    const from = layerOf(file);
    for (const specifier of importsOf(await readFile(file, 'utf8'))) {
      // A template (`../recipes/${id}/index.js`, which `new` writes into the registry) is text, not an import.
      if (!specifier.startsWith('.') || specifier.includes('${')) continue;
      const target = resolve(dirname(file), specifier);
      const to = layerOf(target);
      const name = `${relative(root, file)} → ${relative(root, target)}`;
      if (forbidden[from].includes(to)) found.push(name);
      else if (from === 'recipes' && to === 'recipes' && recipeOf(target) !== recipeOf(file)) found.push(name);
    }
  }
  return found.sort();
}

describe('layers: imports only point down', () => {
  it('reads static, re-exported, type-only and dynamic imports', () => {
    const source = [
      "import { a } from '../host/index.js';",
      "import type { B } from '../../cli/main.js';",
      "export { c } from './c.js';",
      "export * from './d.js';",
      "import './side-effect.js';",
      "const e = await import('../recipes/e/index.js');",
      "import {\n  f,\n  g,\n} from '../shared/f.js';",
    ].join('\n');
    assert.deepEqual(importsOf(source), [
      '../host/index.js',
      '../../cli/main.js',
      './c.js',
      './d.js',
      './side-effect.js',
      '../recipes/e/index.js',
      '../shared/f.js',
    ]);
  });

  it('no file in shared/ imports recipes/, host/ or cli/; no recipe imports host/, cli/ or another recipe; host/ never imports cli/; cli/ goes through the registry', async () => {
    assert.deepEqual(await upwardImports(), []);
  });
});
