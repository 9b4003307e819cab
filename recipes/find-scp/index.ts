import { compileDicomPattern, checkDicomFilter, isDateOrTimeKey } from '../../shared/dicom-match.js';
import type { FindQuery } from '../../shared/find-scp.js';
import { importOptional } from '../../shared/optional-package.js';
import { defineRecipe, type OptionsIssue } from '../../shared/recipe.js';
import type { OrthancBinding } from '../../shared/binding/index.js';
import type { Options } from './options.generated.js';
import schema from './schema.json' with { type: 'json' };

const PATIENT_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.1.1';
const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
/** DIMSE status 0xA900: the identifier does not match the SOP class. */
const IDENTIFIER_MISMATCH = 0xa900;

const levels: Readonly<Record<string, string>> = { PATIENT: 'Patient', STUDY: 'Study', SERIES: 'Series', IMAGE: 'Instance' };
/** Keys of the query that are not attributes to match or return. */
const notAttributes = new Set(['QueryRetrieveLevel', 'SpecificCharacterSet', '_vrMap']);

interface Resource {
  ID: string;
  MainDicomTags?: Record<string, string>;
  PatientMainDicomTags?: Record<string, string>;
  ParentStudy?: string;
  ParentSeries?: string;
}

/** The tags of a resource and of its parents, fetched once per query. */
function ancestry(orthanc: OrthancBinding) {
  const cache = new Map<string, Promise<Record<string, string>>>();
  const tagsOf = (uri: string, parent?: (resource: Resource) => string | undefined): Promise<Record<string, string>> => {
    let pending = cache.get(uri);
    if (!pending) {
      pending = orthanc.restApiGetJson<Resource>(uri).then(async (resource) => {
        const above = parent?.(resource);
        return { ...(above ? await above_(above) : {}), ...resource.PatientMainDicomTags, ...resource.MainDicomTags };
      });
      cache.set(uri, pending);
    }
    return pending;
  };
  const above_ = (uri: string) => tagsOf(uri, (r) => (r.ParentStudy ? `/studies/${r.ParentStudy}` : undefined));
  return {
    /** Every tag known for `resource` at `level`: its own, its study's and its patient's. */
    async tags(level: string, resource: Resource): Promise<Record<string, string>> {
      const own = { ...resource.PatientMainDicomTags, ...resource.MainDicomTags };
      if (level === 'Series' && resource.ParentStudy) return { ...(await tagsOf(`/studies/${resource.ParentStudy}`)), ...own };
      if (level === 'Instance' && resource.ParentSeries) return { ...(await above_(`/series/${resource.ParentSeries}`)), ...own };
      return own;
    },
  };
}

/**
 * The Python sample "Handling DICOM SCP requests" (C-FIND), answering from Orthanc's index: a
 * C-FIND SCP on its own port and AET that asks `/tools/find`, so a device queries a filtered view.
 */
export default defineRecipe<Options>({
  meta: {
    id: 'find-scp',
    title: 'C-FIND SCP',
    description:
      "A C-FIND SCP on its own port and AE title, answering patient, study, series and image queries from Orthanc's index, through an optional filter.",
    category: 'Search',
    routes: [],
    events: [],
    destructive: false,
    priorArt: 'https://orthanc.uclouvain.be/book/plugins/python.html#handling-dicom-scp-requests',
  },
  schema,
  check(options) {
    return checkDicomFilter(options.Filter).map(({ key, message }): OptionsIssue => ({
      pointer: `/Filter/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`,
      message,
    }));
  },
  async setup({ orthanc, log }, options) {
    // dcmjs-dimse is an optional package: loaded here, so that listing recipes needs none.
    const { FindStatusError, queryValueText, startFindScp } = await importOptional('dcmjs-dimse', () => import('../../shared/find-scp.js'));
    const find = async (query: FindQuery): Promise<FindQuery[]> => {
      const requestedLevel = (queryValueText(query.QueryRetrieveLevel) ?? '').trim().toUpperCase();
      const level = levels[requestedLevel];
      if (!level) throw new FindStatusError(IDENTIFIER_MISMATCH, `unknown QueryRetrieveLevel "${requestedLevel.slice(0, 16)}"`);
      const keys = Object.keys(query).filter((key) => !notAttributes.has(key) && /^[A-Za-z][A-Za-z0-9]*$/.test(key));
      const asked: Record<string, string> = {};
      for (const key of keys) {
        const text = queryValueText(query[key]);
        if (text !== undefined && text.replace(/\*/g, '') !== '') asked[key] = text;
      }
      // The filter goes to Orthanc; where the device asks the same key, its pattern is checked here.
      const also = Object.entries(asked)
        .filter(([key]) => Object.hasOwn(options.Filter, key))
        .map(([key, pattern]) => [key, compileDicomPattern(pattern, { ranges: isDateOrTimeKey(key) })] as const);
      const body = { Level: level, Expand: true, Limit: options.Limit + 1, Query: { ...asked, ...options.Filter } };
      const found = await orthanc.restApiPostJson<Resource[]>('/tools/find', body);
      const tree = ancestry(orthanc);
      const answers: FindQuery[] = [];
      for (const resource of found.slice(0, options.Limit)) {
        const tags = await tree.tags(level, resource);
        if (!also.every(([key, matches]) => matches(tags[key]))) continue;
        const answer: FindQuery = { QueryRetrieveLevel: requestedLevel, SpecificCharacterSet: 'ISO_IR 192' };
        for (const key of keys) answer[key] = tags[key] ?? '';
        answers.push(answer);
      }
      if (found.length > options.Limit)
        log.warning('a C-FIND matched more than Limit resources; the first were answered', { limit: options.Limit, matched: found.length });
      return answers;
    };

    const scp = await startFindScp({
      host: options.Host,
      port: options.Port,
      aet: options.Aet,
      sopClasses: [PATIENT_ROOT_FIND, STUDY_ROOT_FIND],
      find,
      onProblem: (message, fields) => log.warning(message, fields),
    });
    log.info('C-FIND SCP listening', { aet: options.Aet, host: options.Host, port: scp.port });
    return { close: () => scp.close() };
  },
});
