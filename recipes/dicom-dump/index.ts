import { importOptional } from '../../shared/optional-package.js';
import { setMaxListeners } from 'node:events';
import { ByteBudget } from '../../shared/byte-budget.js';
import { defineRecipe, RecipeHttpError } from '../../shared/recipe.js';
import { ownBytes } from '../../shared/worker-pool.js';
import { isOrthancId, type RestOutput, type RestRequest } from '../../shared/binding/index.js';
import type { DumpInput, DumpOutput } from './dump-task.js';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };

const task = new URL('./dump-task.js', import.meta.url);

/**
 * The seed sample "Calling pydicom", done with dcmjs: a readable dump of an instance's DICOM file,
 * parsed in the worker pool so that a large file never blocks the host.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'dicom-dump',
    title: 'DICOM dump',
    category: 'Inspection',
    description:
      "Serves GET /instances/{id}/dcmjs: the instance's DICOM file parsed by dcmjs in the worker pool, as a pydicom-style text dump or as dcmjs's naturalized JSON.",
    routes: ['GET /instances/{id}/dcmjs'],
    events: [],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#calling-pydicom',
  },
  schema,
  async setup({ orthanc, workers, signal }, options) {
    // dcmjs is an optional package of orthanc-recipes: without it the recipe says so at start,
    // rather than answering every request with a worker's "cannot find package".
    await importOptional('dcmjs', () => import('dcmjs'));
    const MiB = 2 ** 20;
    // Bytes of files held by the dumps in progress, from their download to the end of their
    // parse: many concurrent dumps of a large instance wait for room instead of piling up.
    const inFlight = new ByteBudget(options.MaxMegabytesInFlight * MiB);
    const maxInflatedBytes = options.MaxInflatedMegabytes * MiB;
    // Every dump waiting for room or running listens to the recipe's stop signal: no leak, by design.
    setMaxListeners(0, signal);
    orthanc.registerRestCallback(
      '/instances/([^/]+)/dcmjs',
      async (output: RestOutput, _uri: string, request: RestRequest) => {
        // Read as the caller: what Orthanc refuses them (401/403/404), this route refuses with Orthanc's status.
        const caller = request.orthanc;
        const format = request.get.format ?? 'text';
        if (format !== 'text' && format !== 'json') {
          throw new RecipeHttpError(400, 'bad-parameter', `format must be "text" or "json", not ${JSON.stringify(format.slice(0, 40))}`, {
            Parameter: 'format',
          });
        }
        const instanceId = request.groups[0]!;
        // Only an ID's shape is asked for: Orthanc would know no instance by another name.
        if (!isOrthancId(instanceId)) throw new RecipeHttpError(404, 'unknown-resource', 'Unknown resource');
        // A 404 from Orthanc (unknown instance) becomes this route's 404. The size is checked
        // before the download, so that a huge file is refused without being read.
        const { FileSize } = await caller.restApiGetJson<{ FileSize: number }>(`/instances/${encodeURIComponent(instanceId)}`);
        if (FileSize > options.MaxFileMegabytes * MiB) {
          throw new RecipeHttpError(
            413,
            'file-too-large',
            `the file of instance ${instanceId} is ${FileSize} bytes, more than MaxFileMegabytes (${options.MaxFileMegabytes})`,
          );
        }
        if (FileSize > inFlight.capacity) {
          throw new RecipeHttpError(
            413,
            'file-too-large',
            `the file of instance ${instanceId} is ${FileSize} bytes, more than MaxMegabytesInFlight (${options.MaxMegabytesInFlight})`,
          );
        }
        const release = await inFlight.reserve(Math.max(1, FileSize), signal);
        let result: DumpOutput;
        try {
          // The file's chunks are moved to the worker, never copied nor joined here: the worker
          // joins them, and frees them once the dump is written.
          const chunks = (await caller.getDicomChunksForInstance(instanceId)).map((chunk) => ownBytes(chunk).buffer);
          const input: DumpInput = { file: chunks, format, maxInflatedBytes };
          result = await workers.run<DumpOutput>(task, input, { transfer: chunks, signal });
        } catch (error) {
          // The parser's thread died on this file (e.g. out of memory on a bogus length): the file's fault.
          const code = (error as { code?: string }).code;
          if (code === 'ORC_ERR_WORKER_POOL_CLOSED' || !(error instanceof Error && error.name === 'WorkerTaskError')) throw error;
          result = { ok: false, status: 422, reason: `dcmjs failed on this file: ${error.message}` };
        } finally {
          release();
        }
        if (!result.ok && result.status === 413) {
          const message = `the DICOM file of instance ${instanceId} is too large to dump: ${result.reason} (MaxInflatedMegabytes: ${options.MaxInflatedMegabytes})`;
          throw new RecipeHttpError(413, 'dump-too-large', message, { Reason: result.reason });
        }
        if (!result.ok) {
          throw new RecipeHttpError(
            422,
            'unparsable-dicom',
            `dcmjs cannot parse the DICOM file of instance ${instanceId}: ${result.reason}`,
            { Reason: result.reason },
          );
        }
        output.answerBuffer(result.body, format === 'json' ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
      },
      { maxBodyBytes: 0, methods: ['GET'] },
    );
  },
});
