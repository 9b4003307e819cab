import { checkDicomFilter, compileDicomFilter } from '../../../shared/dicom-match.js';
import { describe, type OrthancBinding } from '../../../shared/binding/index.js';
import {
  formatOrthancTime,
  isNotFound,
  levelPath,
  listResources,
  readOrGone,
  type ExpandedResource,
} from '../../../shared/orthanc-resources.js';
import { resourceForFilter } from '../../../shared/resource-filter.js';
import { escapePointer } from '../../../shared/validate.js';
import { TaskError } from '../runner.js';
import type { BuiltInTask } from './built-in.js';

export interface PurgeOlderThanOptions {
  Days: number;
  Level: 'Patient' | 'Study' | 'Series';
  By: 'LastUpdate' | 'StudyDate';
  Filter: Record<string, string>;
  DryRun: boolean;
}

/** What a run returns: the resources deleted (or, in a dry run, that would be). Orthanc IDs only. */
export interface PurgeResult {
  DryRun: boolean;
  Level: PurgeOlderThanOptions['Level'];
  By: PurgeOlderThanOptions['By'];
  /** `LastUpdate` before this (UTC, `YYYYMMDDTHHMMSS`), or `StudyDate` before this (`YYYYMMDD`), is old. */
  Cutoff: string;
  Resources: string[];
  Failed: { ID: string; Error: string }[];
}

type Resource = ExpandedResource;

/** The cutoff of a run at `now`: `LastUpdate` or `StudyDate` strictly before it is old. */
export function purgeCutoff(now: Date, days: number, by: PurgeOlderThanOptions['By']): string {
  const cutoff = formatOrthancTime(new Date(now.getTime() - days * 86_400_000));
  return by === 'StudyDate' ? cutoff.slice(0, 8) : cutoff;
}

/** A StudyDate Orthanc could hold: 8 digits (anything else is never "old"). */
const validDate = (value: string | undefined): value is string => value !== undefined && /^[0-9]{8}$/.test(value);

/**
 * Deletes the patients, studies or series whose `LastUpdate` (UTC, rewritten by every stored
 * instance) or `StudyDate` is older than `Days` and that match `Filter`. A dry run (the default)
 * only lists them. A resource without a valid StudyDate is never old by StudyDate; a patient is
 * old by StudyDate when every one of its studies is.
 */
export const purgeOlderThan: BuiltInTask<PurgeOlderThanOptions> = {
  schema: {
    type: 'object',
    properties: {
      Days: {
        type: 'number',
        minimum: 0,
        description: 'Age in days (fractions allowed: 0.5 is 12 hours) beyond which a resource is deleted.',
        default: 365,
      },
      Level: {
        type: 'string',
        enum: ['Patient', 'Study', 'Series'],
        description: 'What is deleted: whole patients, studies or series.',
        default: 'Study',
      },
      By: {
        type: 'string',
        enum: ['LastUpdate', 'StudyDate'],
        description: "The date compared: Orthanc's `LastUpdate` (the last instance received, UTC) or the DICOM `StudyDate`.",
        default: 'LastUpdate',
      },
      Filter: {
        type: 'object',
        additionalProperties: { type: 'string' },
        description:
          "Only resources whose main DICOM tags (or their parents', and for studies `Modality` of any series), `LastUpdate`, `ModalitiesInStudy`, `RemoteAET` or `CalledAET` match these patterns, as `/tools/find` matches them (what `shared/resource-filter.ts` gives).",
        default: {},
      },
      DryRun: { type: 'boolean', description: 'Only log and return what would be deleted.', default: true },
    },
    additionalProperties: false,
  },
  check: (options) => checkDicomFilter(options.Filter).map(({ key, message }) => ({ pointer: `/Filter/${escapePointer(key)}`, message })),
  async run({ orthanc, log, signal }, options) {
    const cutoff = purgeCutoff(new Date(), options.Days, options.By);
    const matches = compileDicomFilter(options.Filter);
    const old: string[] = [];
    const studies = new Map<string, Promise<Resource | undefined>>();
    const study = (id: string) => {
      let found = studies.get(id);
      if (!found) studies.set(id, (found = readOrGone<Resource>(orthanc, `/studies/${id}`)));
      return found;
    };
    const keys = Object.keys(options.Filter);
    for await (const listed of listResources<Resource>(orthanc, options.Level, { signal })) {
      if (!(await isOld(orthanc, options, listed, cutoff, study))) continue;
      // Undefined: deleted meanwhile.
      const found = await resourceForFilter(orthanc, options.Level, listed.ID, keys, { listed, readStudy: study });
      if (found && matches(found.lookup)) old.push(listed.ID);
    }
    const result: PurgeResult = { DryRun: options.DryRun, Level: options.Level, By: options.By, Cutoff: cutoff, Resources: [], Failed: [] };
    const what = levelPath[options.Level];
    if (options.DryRun) {
      result.Resources = old;
      log.info('dry run: would delete', { count: old.length, resourceLevel: what, by: options.By, cutoff, resources: old.join(',') });
      return result;
    }
    for (const id of old) {
      signal.throwIfAborted();
      try {
        await orthanc.restApiDelete(`/${what}/${id}`);
        result.Resources.push(id);
      } catch (error) {
        if (isNotFound(error)) continue; // deleted meanwhile
        result.Failed.push({ ID: id, Error: describe(error) });
      }
    }
    log.info('deleted', {
      count: result.Resources.length,
      resourceLevel: what,
      by: options.By,
      cutoff,
      resources: result.Resources.join(','),
    });
    if (result.Failed.length > 0) {
      throw new TaskError(`${result.Failed.length} of ${old.length} deletions failed: ${result.Failed[0]!.Error}`, result);
    }
    return result;
  },
};

async function isOld(
  orthanc: OrthancBinding,
  options: PurgeOlderThanOptions,
  resource: Resource,
  cutoff: string,
  study: (id: string) => Promise<Resource | undefined>,
): Promise<boolean> {
  if (options.By === 'LastUpdate') return resource.LastUpdate !== undefined && resource.LastUpdate < cutoff;
  const isOldDate = (date: string | undefined) => validDate(date) && date < cutoff;
  switch (options.Level) {
    case 'Study':
      return isOldDate(resource.MainDicomTags?.StudyDate);
    case 'Series':
      return resource.ParentStudy !== undefined && isOldDate((await study(resource.ParentStudy))?.MainDicomTags?.StudyDate);
    case 'Patient': {
      const studies = await orthanc.restApiGetJson<Resource[]>(`/patients/${resource.ID}/studies`);
      return studies.length > 0 && studies.every((s) => isOldDate(s.MainDicomTags?.StudyDate));
    }
  }
}
