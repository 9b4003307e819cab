import { defineRecipe, RecipeHttpError } from '__IMPORT_RECIPE__';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };

/**
 * __TITLE__: remembers the last stored instance and tells it on `GET /recipes/__ID__`.
 * A starting point: rename, then replace the behaviour with your own.
 */
export default defineRecipe<Options>({
  meta: {
    id: '__ID__',
    title: '__TITLE__',
    description: 'Remembers the last stored instance and answers it, with a greeting, on GET /recipes/__ID__.',
    category: 'Examples',
    routes: ['GET /recipes/__ID__'],
    events: ['NEW_INSTANCE'],
    destructive: false,
  },
  schema,
  setup({ orthanc, log, state }, options) {
    // Safe to run twice for one change (delivery is at-least-once): it only records the latest id.
    orthanc.registerOnChangeCallback(
      async (_changeType, _resourceType, instanceId) => {
        await state.set('lastInstance', instanceId);
        log.debug(`instance ${instanceId} stored`);
      },
      { types: ['NEW_INSTANCE'] },
    );

    // A route that reads Orthanc for the caller uses `request.orthanc` (it calls Orthanc with the
    // caller's credentials), never `orthanc` (the host's). A status page or an action done with
    // the host's rights adds `hostAction: true` to the options.
    // `methods`: the host answers any other method with 405 and `Allow: GET`; the handler never
    // sees them. An error answer is thrown: `RecipeHttpError(status, code, message, details?)`
    // becomes the host's one JSON error shape (Orthanc's fields, plus `Code`), and an error from
    // Orthanc let through keeps Orthanc's status. Anything else thrown is a 500, logged.
    orthanc.registerRestCallback('/recipes/__ID__', async (output, _uri, request) => {
      const unknown = Object.keys(request.get)[0];
      if (unknown !== undefined) throw new RecipeHttpError(400, 'bad-parameter', `unknown parameter "${unknown.slice(0, 40)}"; this route takes none`, { Parameter: unknown.slice(0, 40) });
      output.answerJson({ Greeting: options.Greeting, LastInstance: (await state.get<string>('lastInstance')) ?? null });
    }, { methods: ['GET'] });
  },
});
