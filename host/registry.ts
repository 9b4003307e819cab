import type { AnyRecipe } from '../shared/recipe.js';

/** The bundled recipes, by id; each is imported only when needed (importing runs nothing). */
export const bundledRecipes: Readonly<Record<string, () => Promise<AnyRecipe>>> = {
  autorouting: async () => (await import('../recipes/autorouting/index.js')).default,
  hello: async () => (await import('../recipes/hello/index.js')).default,
  introspection: async () => (await import('../recipes/introspection/index.js')).default,
  dashboard: async () => (await import('../recipes/dashboard/index.js')).default,
  thumbnails: async () => (await import('../recipes/thumbnails/index.js')).default,
  'metadata-find': async () => (await import('../recipes/metadata-find/index.js')).default,
  computation: async () => (await import('../recipes/computation/index.js')).default,
  'stored-instances': async () => (await import('../recipes/stored-instances/index.js')).default,
  'dicom-dump': async () => (await import('../recipes/dicom-dump/index.js')).default,
  'receive-filter': async () => (await import('../recipes/receive-filter/index.js')).default,
  dictionary: async () => (await import('../recipes/dictionary/index.js')).default,
  'archive-stream': async () => (await import('../recipes/archive-stream/index.js')).default,
  paging: async () => (await import('../recipes/paging/index.js')).default,
  'excel-report': async () => (await import('../recipes/excel-report/index.js')).default,
  mosaic: async () => (await import('../recipes/mosaic/index.js')).default,
  'create-dicom': async () => (await import('../recipes/create-dicom/index.js')).default,
  queue: async () => (await import('../recipes/queue/index.js')).default,
  'find-scp': async () => (await import('../recipes/find-scp/index.js')).default,
  worklist: async () => (await import('../recipes/worklist/index.js')).default,
  mirror: async () => (await import('../recipes/mirror/index.js')).default,
  scheduler: async () => (await import('../recipes/scheduler/index.js')).default,
  authorization: async () => (await import('../recipes/authorization/index.js')).default,
};

export type RecipeRegistry = Readonly<Record<string, () => Promise<AnyRecipe>>>;

/**
 * The introspection recipe's offline half (the binding's API, Orthanc's and the recipes'
 * descriptions, the Markdown form), for `orthanc-recipes introspect`: the CLI reaches recipes
 * through this registry only. Imported when called.
 */
export async function loadIntrospection() {
  const [describe, markdown] = await Promise.all([
    import('../recipes/introspection/describe.js'),
    import('../recipes/introspection/markdown.js'),
  ]);
  return {
    describeApi: describe.describeApi,
    describeOrthanc: describe.describeOrthanc,
    describeRecipes: describe.describeRecipes,
    toMarkdown: markdown.toMarkdown,
  };
}

export type { Introspection, OrthancDescription } from '../recipes/introspection/describe.js';
