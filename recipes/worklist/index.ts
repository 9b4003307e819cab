import { resolve } from 'node:path';
import { importOptional } from '../../shared/optional-package.js';
import { defineRecipe } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };

/** Modality Worklist Information Model – FIND. */
const MODALITY_WORKLIST_FIND = '1.2.840.10008.5.1.4.31';

/**
 * The Python sample "Handling worklist SCP requests" (`worklist.py`): a modality worklist SCP on
 * its own port answering from a folder of `.wl` or `.json` items, with DICOM matching.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'worklist',
    title: 'Modality worklist',
    description:
      'A modality worklist SCP on its own port and AE title, answering C-FIND from a folder of .wl or JSON worklist items with DICOM matching.',
    category: 'Routing',
    routes: [],
    events: [],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#handling-worklist-scp-requests',
  },
  schema,
  async setup({ log, configDirectory }, options) {
    // dcmjs-dimse and dcmjs are optional packages: loaded here, so that listing recipes needs neither.
    const { startFindScp } = await importOptional('dcmjs-dimse', () => import('../../shared/find-scp.js'));
    const { answerFor, matchesQuery, readWorklistItems } = await importOptional('dcmjs', () => import('./worklist-items.js'));
    const folder = resolve(configDirectory, options.Folder);
    const scp = await startFindScp({
      host: options.Host,
      port: options.Port,
      aet: options.Aet,
      sopClasses: [MODALITY_WORKLIST_FIND],
      async find(query, _sopClass, peer) {
        const items = await readWorklistItems(folder, (file, reason) => log.warning('skipped a worklist file', { file, reason }));
        const answers = items
          .filter((item) => matchesQuery(query, item))
          .slice(0, options.Limit)
          .map((item) => answerFor(query, item));
        log.info('worklist query', { callingAet: peer.callingAet, answers: answers.length, items: items.length });
        return answers;
      },
      onProblem: (message, fields) => log.warning(message, fields),
    });
    log.info('worklist SCP listening', { aet: options.Aet, host: options.Host, port: scp.port, folder });
    return { close: () => scp.close() };
  },
});
