import { describe, type RestOutput, type RestRequest } from '../../shared/binding/index.js';
import { defineRecipe, RecipeHttpError } from '../../shared/recipe.js';
import { composeMosaic, mosaicEtag } from './compose.js';
import type { Options } from './options.generated.js';
import { BadParameter, grid, parseParams, spread } from './params.js';
import { orderedSlices } from './slices.js';
import schema from './schema.json' with { type: 'json' };

const contentTypes = { png: 'image/png', jpeg: 'image/jpeg' } as const;

/**
 * The sample "Generating a mosaic for a series": the series' slices in Orthanc's order, each
 * rendered by Orthanc, composed by sharp into one PNG or JPEG; bounded in tiles and pixels, with
 * an ETag as the thumbnails have.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'mosaic',
    title: 'Series mosaic',
    category: 'Imaging',
    description:
      "GET /series/{id}/mosaic: the series' ordered slices rendered by Orthanc and composed by sharp into one PNG or JPEG, bounded in size, with an ETag.",
    routes: ['GET /series/{id}/mosaic'],
    events: [],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#generating-a-mosaic-for-a-series',
  },
  schema,
  check: (options) =>
    options.DefaultSize > options.MaxSize
      ? [{ pointer: '/DefaultSize', message: `${options.DefaultSize} is larger than MaxSize (${options.MaxSize})` }]
      : [],
  async setup({ orthanc }, options) {
    let sharp: typeof import('sharp').default;
    try {
      sharp = (await import('sharp')).default;
    } catch (error) {
      throw new Error(
        `sharp could not be loaded, so mosaics are disabled (the other recipes are not affected): ${describe(error).split('\n')[0]}`,
        { cause: error },
      );
    }
    const libvips = sharp.versions.vips;

    orthanc.registerRestCallback(
      '/series/([^/]+)/mosaic',
      async (output: RestOutput, _uri: string, request: RestRequest) => {
        let params;
        try {
          params = parseParams(request.get, options);
        } catch (error) {
          if (error instanceof BadParameter) throw new RecipeHttpError(400, 'bad-parameter', error.message);
          throw error;
        }
        const seriesId = request.groups[0]!;
        const slices = spread(await orderedSlices(request.orthanc, seriesId), options.MaxTiles);
        if (slices.length === 0) throw new RecipeHttpError(422, 'no-slice', `series ${seriesId} has no slice to show`);
        const { columns, rows } = grid(slices.length, params.columns);
        const pixels = columns * rows * params.size * params.size;
        if (pixels > options.MaxPixels) {
          throw new RecipeHttpError(
            400,
            'too-many-pixels',
            `${columns}x${rows} tiles of ${params.size} pixels make ${pixels} pixels, more than MaxPixels (${options.MaxPixels}); ask for a smaller size`,
          );
        }
        const etag = mosaicEtag(seriesId, slices, params, columns, libvips);
        // The series may gain instances: clients revalidate each time, and get a 304 while it is the same.
        const headers = { ETag: etag, 'Cache-Control': 'private, no-cache' };
        if (matches(request.headers['if-none-match'], etag)) {
          for (const [name, value] of Object.entries(headers)) output.setHttpHeader(name, value);
          return output.sendNotModified();
        }
        const mosaic = await composeMosaic(request.orthanc, sharp, slices, params);
        if (!mosaic) throw new RecipeHttpError(422, 'no-slice', `Orthanc could render no slice of series ${seriesId} (not images?)`);
        for (const [name, value] of Object.entries({ ...headers, 'X-Mosaic-Tiles': `${mosaic.rendered}/${slices.length}` }))
          output.setHttpHeader(name, value);
        output.answerBuffer(mosaic.body, contentTypes[params.format]);
      },
      { methods: ['GET'] },
    );
  },
});

/** `If-None-Match` uses the weak comparison: `W/"x"` matches `"x"`, and `*` matches anything. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim().replace(/^W\//, '');
    return tag === '*' || tag === etag;
  });
}
