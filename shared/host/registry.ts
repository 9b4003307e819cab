import type { AnyRecipe } from '../recipe.js';

/** The bundled recipes, by id; each is imported only when needed (importing runs nothing). */
export const bundledRecipes: Readonly<Record<string, () => Promise<AnyRecipe>>> = {
  hello: async () => (await import('../../recipes/hello/index.js')).default,
  computation: async () => (await import('../../recipes/computation/index.js')).default,
  'stored-instances': async () => (await import('../../recipes/stored-instances/index.js')).default,
  'dicom-dump': async () => (await import('../../recipes/dicom-dump/index.js')).default,
};

export type RecipeRegistry = Readonly<Record<string, () => Promise<AnyRecipe>>>;
