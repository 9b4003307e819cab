import { isClientGone, type RestOutput, type RestRequest } from '../../shared/binding/index.js';
import { defineRecipe, RecipeHttpError } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';
import { importOptional } from '../../shared/optional-package.js';
import schema from './schema.json' with { type: 'json' };

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/**
 * The sample "Creating a Microsoft Excel report" (`/report.xls` with xlwt), as an `.xlsx` written
 * by exceljs's streaming writer straight into the answer: one row per study.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'excel-report',
    title: 'Excel report',
    category: 'Inspection',
    description:
      'GET /report.xlsx: one row per study (patient, dates, modalities, series, instances, size), streamed as it is written by exceljs; optional ?since=YYYYMMDD.',
    routes: ['GET /report.xlsx'],
    events: [],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#creating-a-microsoft-excel-report',
  },
  schema,
  async setup({ orthanc, log }, options) {
    // exceljs is an optional package: loaded here, so that listing recipes needs none.
    const { chunkSink, dicomDate, listStudies, writeReport } = await importOptional('exceljs', () => import('./report.js'));
    let active = 0;
    orthanc.registerRestCallback(
      '/report\\.xlsx',
      async (output: RestOutput, _uri: string, request: RestRequest) => {
        const unknown = Object.keys(request.get).filter((name) => name !== 'since');
        if (unknown.length > 0)
          throw new RecipeHttpError(400, 'bad-parameter', `unknown parameter "${unknown[0]!.slice(0, 40)}"; known: since`);
        const since = Object.prototype.hasOwnProperty.call(request.get, 'since') ? request.get.since! : undefined;
        if (since !== undefined && !dicomDate(since)) {
          throw new RecipeHttpError(400, 'bad-parameter', `since must be a date as YYYYMMDD, not "${since.slice(0, 40)}"`, {
            Parameter: 'since',
          });
        }
        if (active >= options.MaxConcurrentReports) {
          output.setHttpHeader('Retry-After', '10');
          throw new RecipeHttpError(
            503,
            'too-many-reports',
            `${active} reports are being written already (MaxConcurrentReports); retry later`,
          );
        }
        active += 1;
        try {
          // Listed before the answer starts: an error here is still a JSON error.
          const ids = await listStudies(request.orthanc, since);
          output.setHttpHeader('Content-Disposition', `attachment; filename="report${since ? `-since-${since}` : ''}.xlsx"`);
          output.startStreamAnswer(XLSX);
          const rows = await writeReport(
            request.orthanc,
            ids,
            chunkSink((chunk) => output.sendStreamChunk(chunk)),
            { parallel: options.ParallelReads, signal: output.signal },
          );
          await output.endStream();
          log.info('report written', { studies: rows });
        } catch (error) {
          if (isClientGone(error) || output.signal.aborted) {
            log.info('the client went away; the report was stopped');
            return;
          }
          throw error;
        } finally {
          active -= 1;
        }
      },
      { methods: ['GET'] },
    );
  },
});
