import { isClientGone, type RestOutput, type RestRequest } from '../../shared/binding/index.js';
import { defineRecipe, RecipeHttpError } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };

/**
 * The sample "Streaming HTTP answers": a study's ZIP from Orthanc's `/studies/{id}/archive`,
 * passed on chunk by chunk. Memory stays constant whatever the size: each chunk is sent before
 * the next is read (back-pressure both ways), and when the client goes away the connection to
 * Orthanc is closed, which stops Orthanc writing the archive.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'archive-stream',
    title: 'Streamed study archive',
    category: 'Transfer',
    description:
      "Streams a study's ZIP archive from Orthanc to the client chunk by chunk, in constant memory; a client that goes away stops the read from Orthanc.",
    routes: ['GET /recipes/archive-stream/studies/{id}'],
    events: [],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#streaming-http-answers',
  },
  schema,
  setup({ orthanc, log }, options) {
    let active = 0;
    orthanc.registerRestCallback(
      '/recipes/archive-stream/studies/([^/]+)',
      async (output: RestOutput, _uri: string, request: RestRequest) => {
        if (active >= options.MaxConcurrentArchives) {
          output.setHttpHeader('Retry-After', '5');
          throw new RecipeHttpError(
            503,
            'too-many-archives',
            `${active} archives are being streamed already (MaxConcurrentArchives); retry later`,
          );
        }
        const studyId = request.groups[0]!;
        active += 1;
        try {
          // A 404 (unknown study) is thrown before anything was sent, and answered as Orthanc's.
          const upstream = await request.orthanc.restApiGetStream(`/studies/${encodeURIComponent(studyId)}/archive`, {
            signal: output.signal,
          });
          const disposition = upstream.headers['content-disposition'];
          output.setHttpHeader('Content-Disposition', typeof disposition === 'string' ? disposition : 'attachment; filename="study.zip"');
          output.startStreamAnswer('application/zip');
          let bytes = 0;
          try {
            for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
              bytes += chunk.length;
              await output.sendStreamChunk(chunk);
            }
            await output.endStream();
          } catch (error) {
            // Leaving the loop destroys the body; with the signal aborted, undici has closed the
            // connection to Orthanc already (also while it waited for Orthanc's next chunk).
            upstream.body.destroy();
            if (isClientGone(error) || output.signal.aborted) {
              log.info('the client went away; the read from Orthanc was stopped', { study: studyId, bytes });
              return;
            }
            throw error; // the answer has started: the host cuts it, so the client sees it incomplete
          }
          log.debug('streamed', { study: studyId, bytes });
        } finally {
          active -= 1;
        }
      },
      { methods: ['GET'] },
    );
  },
});
