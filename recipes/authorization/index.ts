import { defineRecipe } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';
import { compileRules, decideByRules } from './rules.js';
import schema from './schema.json' with { type: 'json' };
import { AuthorizationService } from './web-service.js';

/**
 * The Python samples "Forbid or allow access" (authorization-1.py: a rule in code;
 * authorization-2.py: ask a web service), as an incoming-request filter that the front runs on
 * every request, proxied to Orthanc or served by a recipe, before either sees it.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'authorization',
    title: 'Authorization',
    category: 'Security',
    description:
      'Lets a request reach Orthanc or a recipe only when a rule (method, path glob, users) or a web service answering {"granted": true} allows it.',
    routes: [],
    events: [],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#python-authorization',
  },
  schema,
  check: (options) =>
    options.Rules.length === 0 && options.WebService.Url === ''
      ? [
          {
            pointer: '',
            message: 'give Rules, a WebService.Url, or both: with neither, every request would be decided by AllowUnmatched alone',
          },
        ]
      : [],
  setup({ orthanc, log }, options) {
    const rules = compileRules(options.Rules);
    const service = options.WebService.Url ? new AuthorizationService(options.WebService, options.CacheSeconds, log) : undefined;
    orthanc.registerIncomingHttpRequestFilter((uri, request) => {
      const decided = decideByRules(rules, uri, request);
      if (decided !== undefined) return decided;
      if (!service) return options.AllowUnmatched;
      return service.isGranted(service.question(uri, request));
    });
    log.info('rules loaded', {
      rules: rules.length,
      then: service ? 'web service' : options.AllowUnmatched ? 'allow' : 'refuse',
      webService: service ? new URL(options.WebService.Url).origin : undefined,
    });
    return { close: () => service?.close() };
  },
});
