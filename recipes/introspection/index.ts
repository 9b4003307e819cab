import { maskSecrets } from '../../shared/mask-secrets.js';
import { defineRecipe, RecipeHttpError } from '../../shared/recipe.js';
import { describeApi, describeOrthanc, describeRecipes, type Introspection } from './describe.js';
import { toMarkdown } from './markdown.js';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };

/**
 * The seed sample "Inspecting the available API", generated from the binding's own declarations
 * so that it cannot drift, plus the live system: Orthanc, its plugins, modalities and peers, and
 * the enabled recipes with their options in force (secrets masked).
 */
export default defineRecipe<Options>({
  meta: {
    id: 'introspection',
    title: 'Introspection',
    category: 'Inspection',
    description:
      "Describes the binding's functions, classes and enumerations, what the Python plugin has that it lacks, and the live system.",
    routes: ['GET /recipes/introspection'],
    events: [],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#inspecting-the-available-api',
  },
  schema,
  setup({ orthanc, host }, options) {
    // The binding's part never changes while the process runs: build it once.
    const api = describeApi();
    orthanc.registerRestCallback(
      '/recipes/introspection',
      async (output, _uri, request) => {
        const format = request.get.format ?? 'json';
        if (format !== 'json' && format !== 'markdown') {
          throw new RecipeHttpError(400, 'bad-parameter', `unknown format "${format.slice(0, 40)}"; expected "json" or "markdown"`, {
            Parameter: 'format',
          });
        }
        const recipes = (host?.recipes() ?? []).map((entry) => ({
          ...entry,
          options: options.ShowOptions ? maskSecrets(entry.options, { extraKeyFragments: options.MaskedKeys }) : undefined,
        }));
        const description: Introspection = {
          ...api,
          Live: {
            Host: { Version: host?.version ?? 'unknown' },
            Orthanc: await describeOrthanc(request.orthanc),
            Recipes: describeRecipes(recipes),
          },
        };
        if (format === 'markdown') output.answerBuffer(toMarkdown(description), 'text/markdown; charset=utf-8');
        else output.answerJson(description);
      },
      { hostAction: true, methods: ['GET'] },
    );
  },
});
