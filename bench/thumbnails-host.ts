// The host of bench/thumbnails.ts, in a process of its own: the thumbnails recipe, and the seed
// sample's approach as a second recipe beside it, behind the same front.
// Usage: node dist/bench/thumbnails-host.js '<host config as JSON>'; prints "listening on <url>".
import sharp from 'sharp';
import { startHostInProcess } from '../test/helpers/host.js';
import { defineRecipe } from '../shared/recipe.js';

/**
 * The Python sample "Rendering a thumbnail using PIL/Pillow", in TypeScript: Orthanc's full-size
 * `/rendered` (a PNG), then a resize to fit 64×64 and a JPEG of quality 80, in process, no cache.
 */
const sampleApproach = defineRecipe<Record<string, never>>({
  meta: {
    id: 'sample-thumbnail',
    title: 'The sample',
    description: 'The seed sample, for comparison.',
    routes: ['GET /sample/instances/{id}/thumbnail'],
    events: [],
    destructive: false,
  },
  schema: { type: 'object', additionalProperties: false },
  setup({ orthanc }) {
    orthanc.registerRestCallback('/sample/instances/([^/]+)/thumbnail', async (output, _uri, request) => {
      const png = await orthanc.restApiGet(`/instances/${request.groups[0]}/rendered`);
      const jpeg = await sharp(png).resize({ width: 64, height: 64, fit: 'inside' }).jpeg({ quality: 80 }).toBuffer();
      output.answerBuffer(jpeg, 'image/jpeg');
    });
  },
});

const { host, url } = await startHostInProcess(JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>, [sampleApproach]);
console.log(`listening on ${url}`);
process.once('SIGTERM', () => void host.close().then(() => process.exit(0)));
