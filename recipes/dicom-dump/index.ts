import { importOptional } from '../../shared/optional-package.js';
import { defineRecipe } from '../../shared/recipe.js';
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
    description: 'Serves GET /instances/{id}/dcmjs: the instance\'s DICOM file parsed by dcmjs in the worker pool, as a pydicom-style text dump or as dcmjs\'s naturalized JSON.',
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
    orthanc.registerRestCallback('/instances/([^/]+)/dcmjs', async (output: RestOutput, _uri: string, request: RestRequest) => {
      // Read as the caller: what Orthanc refuses them (401/403/404), this route refuses with Orthanc's status.
      const caller = request.orthanc;
      if (request.method !== 'GET') return output.sendMethodNotAllowed('GET');
      const format = request.get.format ?? 'text';
      if (format !== 'text' && format !== 'json') {
        return output.answerJson({ HttpStatus: 400, Message: `format must be "text" or "json", not "${format}"` }, 400);
      }
      const instanceId = request.groups[0]!;
      // Only an ID's shape is asked for: Orthanc would know no instance by another name.
      if (!isOrthancId(instanceId)) return output.answerJson({ HttpStatus: 404, Message: `Unknown resource: instances/${instanceId}`, OrthancError: 'Unknown resource' }, 404);
      // A 404 from Orthanc (unknown instance) becomes this route's 404. The size is checked
      // before the download, so that a huge file is refused without being read.
      const { FileSize } = await caller.restApiGetJson<{ FileSize: number }>(`/instances/${encodeURIComponent(instanceId)}`);
      if (FileSize > options.MaxFileMegabytes * 2 ** 20) {
        return output.answerJson({ HttpStatus: 413, Message: `the file of instance ${instanceId} is ${FileSize} bytes, more than MaxFileMegabytes (${options.MaxFileMegabytes})` }, 413);
      }
      const file = await caller.getDicomForInstance(instanceId);
      const owned = ownBytes(file);
      const input: DumpInput = { file: owned.buffer, format };
      let result: DumpOutput;
      try {
        result = await workers.run<DumpOutput>(task, input, { transfer: [owned.buffer], signal });
      } catch (error) {
        // The parser's thread died on this file (e.g. out of memory on a bogus length): the file's fault.
        if ((error as { code?: string }).code === 'ORC_ERR_WORKER_POOL_CLOSED') throw error;
        result = { ok: false, reason: `dcmjs failed on this file: ${(error as Error).message}` };
      }
      if (!result.ok) {
        return output.answerJson({ HttpStatus: 422, Message: `dcmjs cannot parse the DICOM file of instance ${instanceId}: ${result.reason}`, Reason: result.reason }, 422);
      }
      output.answerBuffer(result.body, format === 'json' ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
    });
  },
});
