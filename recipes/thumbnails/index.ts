import { describe, isOrthancId, type RestOutput, type RestRequest } from '../../shared/binding/index.js';
import { CallerRights } from '../../shared/caller-rights.js';
import { isMissingPackage, missingPackageMessage } from '../../shared/optional-package.js';
import type { LevelPath } from '../../shared/orthanc-resources.js';
import { defineRecipe, type Recipe } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';
import { ThumbnailError, contentTypes, parseParams } from './params.js';
import { Representatives, type Slice } from './representative.js';
import { Thumbnailer, translate, type Sharp } from './thumbnailer.js';
import schema from './schema.json' with { type: 'json' };

/** Loads sharp; replaceable so that a missing native binary can be shown in tests. */
export type SharpLoader = () => Promise<{ default: Sharp }>;

const loadSharp: SharpLoader = () => import('sharp');

/** An instance under an ID never changes: its thumbnail may be kept for a year. */
const IMMUTABLE = 'private, max-age=31536000, immutable';

/** The recipe, with the way sharp is loaded as a parameter (the default export uses `import('sharp')`). */
export function createThumbnailsRecipe(load: SharpLoader = loadSharp): Recipe<Options> {
  return defineRecipe<Options>({
    meta: {
      id: 'thumbnails',
      title: 'Thumbnails',
      category: 'Imaging',
      description:
        'Serves JPEG, PNG or WebP thumbnails of instances, series and studies, rendered by Orthanc and resized by sharp, with ETags and a memory cache.',
      routes: ['GET,HEAD /instances/{id}/thumbnail', 'GET,HEAD /series/{id}/thumbnail', 'GET,HEAD /studies/{id}/thumbnail'],
      events: [],
      destructive: false,
      priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#rendering-a-thumbnail-using-pil-pillow',
    },
    schema,
    check: (options) =>
      options.DefaultSize > options.MaxSize
        ? [{ pointer: '/DefaultSize', message: `${options.DefaultSize} is larger than MaxSize (${options.MaxSize})` }]
        : [],
    async setup({ orthanc, log, metrics }, options) {
      let sharp: Sharp;
      try {
        sharp = (await load()).default;
      } catch (error) {
        // sharp is an optional package of orthanc-recipes: missing altogether, it is named with how to install it.
        if (isMissingPackage(error, 'sharp'))
          throw new Error(`${missingPackageMessage('sharp')}; thumbnails are disabled (the other recipes are not affected)`, {
            cause: error,
          });
        // sharp's native part comes from an optional @img/sharp-<platform> package, which is
        // missing when optional dependencies were skipped or installed for another platform.
        throw new Error(
          `sharp could not be loaded, so thumbnails are disabled (the other recipes are not affected): ${describe(error).split('\n')[0]}. ` +
            `Install sharp's binary for this platform, e.g. "npm install --os=${process.platform} --cpu=${process.arch} sharp".`,
          { cause: error },
        );
      }
      const thumbnailer = new Thumbnailer(orthanc, sharp, options, log);
      const representatives = new Representatives(orthanc);
      // The cache answers by instance: the caller's right on it is checked first (kept 10 s).
      const rights = new CallerRights();
      // issue 18: metrics
      const lookups = metrics.counter('cache_lookups_total', 'Thumbnails served from the cache (hit) or rendered (miss).', ['result']);
      metrics.gauge('cache_bytes', 'Bytes held by the thumbnail cache.', [], (gauge) => gauge.set(thumbnailer.cacheBytes));

      // Everything is read as the caller (request.orthanc): what Orthanc refuses them, they get
      // refused here, with Orthanc's status.
      const serve =
        (resolve: (id: string, frame: number | undefined, as: Representatives) => Promise<Slice>, level: Exclude<LevelPath, 'patients'>) =>
        async (output: RestOutput, _uri: string, request: RestRequest) => {
          try {
            const params = parseParams(request.get, options, level === 'instances');
            // Only an ID's shape is asked for: Orthanc would know no resource by another name.
            if (!isOrthancId(request.groups[0]!)) throw new ThumbnailError(404, `Unknown resource: ${level}/${request.groups[0]}`);
            const slice = await resolve(request.groups[0]!, params.frame, representatives.as(request.orthanc));
            await rights.ensure(request, `/instances/${encodeURIComponent(slice.instanceId)}`);
            const key = {
              instanceId: slice.instanceId,
              frame: slice.frame,
              size: params.size,
              format: params.format,
              quality: params.quality,
            };
            const etag = thumbnailer.etag(key);
            // Headers of a success only: an error must not be cached for a year.
            const headers: Record<string, string> = { ETag: etag, 'Cache-Control': IMMUTABLE };
            if (level !== 'instances') {
              const maxAge = options.RepresentativeMaxAgeSeconds;
              headers['Cache-Control'] = maxAge > 0 ? `private, max-age=${maxAge}` : 'private, no-cache';
              // Relative to /series/{id}/thumbnail, so right behind a reverse proxy's prefix too.
              const quality = key.quality ? `&quality=${key.quality}` : '';
              headers['Content-Location'] =
                `../../instances/${encodeURIComponent(key.instanceId)}/thumbnail?size=${key.size}&format=${key.format}${quality}&frame=${key.frame}`;
            }
            if (matches(request.headers['if-none-match'], etag)) {
              for (const [name, value] of Object.entries(headers)) output.setHttpHeader(name, value);
              return output.sendNotModified();
            }
            const { body, cacheStatus } = await thumbnailer.as(request.orthanc).get(key);
            lookups.inc({ result: cacheStatus === 'HIT' ? 'hit' : 'miss' }); // issue 18: metrics
            for (const [name, value] of Object.entries({ ...headers, 'X-Cache': cacheStatus })) output.setHttpHeader(name, value);
            output.answerBuffer(body, contentTypes[params.format]);
          } catch (caught) {
            throw translate(caught); // a ThumbnailError is a RecipeHttpError: the host answers it
          }
        };

      // GET and HEAD only (HEAD: the GET's headers, no body); no request body is read.
      const noBody = { maxBodyBytes: 0, methods: ['GET', 'HEAD'] };
      orthanc.registerRestCallback(
        '/instances/([^/]+)/thumbnail',
        serve(async (id, frame) => ({ instanceId: id, frame: frame ?? 0 }), 'instances'),
        noBody,
      );
      orthanc.registerRestCallback(
        '/series/([^/]+)/thumbnail',
        serve((id, _frame, as) => as.ofSeries(id), 'series'),
        noBody,
      );
      orthanc.registerRestCallback(
        '/studies/([^/]+)/thumbnail',
        serve((id, _frame, as) => as.ofStudy(id), 'studies'),
        noBody,
      );
      return {
        close: () => {
          thumbnailer.clear();
          representatives.clear();
          rights.clear();
        },
      };
    },
  });
}

/** `If-None-Match` uses the weak comparison: `W/"x"` matches `"x"`, and `*` matches anything. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim().replace(/^W\//, '');
    return tag === '*' || tag === etag;
  });
}

/**
 * The seed sample "Rendering a thumbnail using PIL/Pillow", done properly: the route it
 * documents, the right Content-Type, series and studies, ETags and a cache.
 */
export default createThumbnailsRecipe();
