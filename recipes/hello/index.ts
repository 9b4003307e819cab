import { ChangeType, changeTypeName, resourceTypeName, type RestOutput } from '../../shared/binding/index.js';
import { defineRecipe } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };

/**
 * The seed samples "Extending the REST API" and "Listening to changes" in one recipe, and the
 * template that new recipes copy.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'hello',
    title: 'Hello',
    description: 'Answers `ok` on /toto and /tata and logs every change: the smallest recipe, and the template to copy.',
    category: 'Examples',
    routes: ['* /(to)(t)o', '* /tata'],
    events: [
      'ORTHANC_STARTED',
      'ORTHANC_STOPPED',
      'NEW_INSTANCE',
      'NEW_SERIES',
      'NEW_STUDY',
      'NEW_PATIENT',
      'STABLE_SERIES',
      'STABLE_STUDY',
      'STABLE_PATIENT',
    ],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#extending-the-rest-api',
  },
  schema,
  setup({ orthanc, log }, options) {
    const answerOk = (output: RestOutput) => output.answerBuffer('ok\n', 'text/plain');
    // Every method, as the Python sample's routes: a route that declares no `methods` sees them
    // all. One that serves only some says so, `{ methods: ['GET'] }`, and the host answers the
    // others 405 with `Allow`; an error answer is thrown as `RecipeHttpError` (from the recipe
    // module). templates/recipe, which `orthanc-recipes new` copies, shows both.
    orthanc.registerRestCallback('/(to)(t)o', answerOk);
    orthanc.registerRestCallback('/tata', answerOk);

    if (options.LogChanges) {
      orthanc.registerOnChangeCallback((changeType, resourceType, resourceId) => {
        if (changeType === ChangeType.ORTHANC_STARTED) log.info('Started');
        else if (changeType === ChangeType.ORTHANC_STOPPED) log.info('Stopped');
        else log.info(`${changeTypeName(changeType)} ${resourceTypeName(resourceType)} ${resourceId}`);
      });
    }
  },
});
