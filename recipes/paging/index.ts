import { ChangeType, type RestOutput, type RestRequest } from '../../shared/binding/index.js';
import { defineRecipe, RecipeHttpError } from '../../shared/recipe.js';
import { findPage, orthancSorts, type Page } from './find-engine.js';
import type { Options } from './options.generated.js';
import { BadParameter, parsePageRequest } from './params.js';
import { StudyIndex } from './study-index.js';
import schema from './schema.json' with { type: 'json' };

/**
 * The sample "Implementing basic paging" (`/sort-studies?offset&limit`), done so that a page does
 * not cost a read of every study: Orthanc's own `OrderBy`/`Limit`/`Since` where it has them, else
 * a sorted index of the recipe's own kept by the change feed.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'paging',
    title: 'Paging studies',
    category: 'Search',
    description:
      "Pages of studies sorted by a study or patient tag (GET /sort-studies?offset&limit&sort&order), the total in X-Total-Count: Orthanc's own OrderBy on 1.12.5+, else a sorted index kept by the change feed.",
    routes: ['GET /sort-studies'],
    events: ['ORTHANC_STARTED', 'NEW_STUDY', 'STABLE_STUDY'],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#implementing-basic-paging',
  },
  schema,
  check: (options) =>
    options.DefaultLimit > options.MaxLimit
      ? [{ pointer: '/DefaultLimit', message: `${options.DefaultLimit} is larger than MaxLimit (${options.MaxLimit})` }]
      : [],
  async setup({ orthanc, log, database }, options) {
    // The engine is chosen when Orthanc is first seen; `auto` looks again each time it comes back.
    let engine: 'find' | 'index' | undefined = options.Engine === 'auto' ? undefined : options.Engine;
    let index: StudyIndex | undefined;
    const useIndex = async () => {
      if (!index) {
        index = new StudyIndex(orthanc, database, log);
        await index.open();
      }
      return index;
    };

    orthanc.registerOnChangeCallback(
      async (changeType, _resourceType, resourceId) => {
        if (changeType === ChangeType.ORTHANC_STARTED) {
          if (options.Engine === 'auto') {
            engine = (await orthancSorts(orthanc)) ? 'find' : 'index';
            log.info('pages engine chosen', {
              engine: engine === 'find' ? "find (Orthanc's /tools/find OrderBy)" : "index (the recipe's sorted index)",
            });
          }
          if (engine === 'index') await (await useIndex()).sync();
          return;
        }
        if (engine === 'index') await (await useIndex()).refresh(resourceId);
      },
      { types: ['ORTHANC_STARTED', 'NEW_STUDY', 'STABLE_STUDY'] },
    );

    orthanc.registerRestCallback(
      '/sort-studies',
      async (output: RestOutput, _uri: string, request: RestRequest) => {
        let pageRequest;
        try {
          pageRequest = parsePageRequest(request.get, { limit: options.DefaultLimit, maxLimit: options.MaxLimit });
        } catch (error) {
          if (error instanceof BadParameter) throw new RecipeHttpError(400, 'bad-parameter', error.message);
          throw error;
        }
        let page: Page;
        if (engine === 'find') {
          // Orthanc sorts and counts with the caller's credentials: what it refuses them, it refuses here.
          page = await findPage(request.orthanc, pageRequest);
        } else if (engine === 'index' && index?.ready) {
          // Read as the caller: Orthanc's refusal is the caller's answer (see StudyIndex.page).
          page = await index.page(pageRequest, request.orthanc);
        } else {
          output.setHttpHeader('Retry-After', '5');
          throw new RecipeHttpError(503, 'index-not-ready', 'the index of studies is being built; retry in a few seconds');
        }
        output.setHttpHeader('X-Total-Count', String(page.total));
        output.setHttpHeader('X-Paging-Engine', engine);
        output.answerJson(page.studies);
      },
      { methods: ['GET'] },
    );
  },
});
