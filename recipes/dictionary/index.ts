import type { RestOutput, RestRequest } from '../../shared/binding/index.js';
import { defineRecipe, RecipeHttpError } from '../../shared/recipe.js';
import { importOptional } from '../../shared/optional-package.js';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };

/**
 * The sample "Lookup DICOM dictionary" (`orthanc.LookupDictionary`), as a route answered from
 * dcmjs's copy of the standard dictionary (PS3.6): by keyword or by tag.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'dictionary',
    title: 'DICOM dictionary',
    category: 'Inspection',
    description: 'Looks up the standard DICOM dictionary by keyword or tag: tag, keyword, VR, VM and whether it is retired, from dcmjs.',
    routes: ['GET /recipes/dictionary/{keyword or gggg,eeee}'],
    events: [],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#lookup-dicom-dictionary',
  },
  schema,
  async setup({ orthanc }) {
    // dcmjs (its dictionary) is an optional package: loaded here, so that listing recipes needs none.
    const { lookup } = await importOptional('dcmjs', () => import('./lookup.js'));
    orthanc.registerRestCallback(
      '/recipes/dictionary/([^/]*)',
      (output: RestOutput, _uri: string, request: RestRequest) => {
        const result = lookup(request.groups[0]!);
        if ('found' in result) return output.answerJson(result.found);
        throw new RecipeHttpError(result.status, result.status === 404 ? 'unknown-keyword' : 'bad-parameter', result.message);
      },
      { methods: ['GET'] },
    );
  },
});
