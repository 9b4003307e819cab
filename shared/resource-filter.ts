import type { OrthancBinding } from './binding/index.js';
import type { FilterLookup } from './dicom-match.js';
import { levelPath, readOrGone, type ExpandedResource, type ResourceLevel } from './orthanc-resources.js';

/** Filter keys that are no main DICOM tag: each costs requests, made only when a filter names it. */
export const computedFilterKeys: readonly string[] = ['LastUpdate', 'ModalitiesInStudy', 'RemoteAET', 'CalledAET'];

export interface ResourceForFilterOptions {
  /** The resource as a listing (`?expand`) just showed it, to save its request. */
  listed?: ExpandedResource;
  /** Reads a study, e.g. once for all of its series (a purge walks many); undefined when gone. Default: `GET /studies/{id}`. */
  readStudy?: (id: string) => Promise<ExpandedResource | undefined>;
}

export interface ResourceForFilter {
  resource: ExpandedResource;
  /** What `compileDicomFilter(...)` is given. */
  lookup: FilterLookup;
}

type Reader = Pick<OrthancBinding, 'restApiGetJson'>;

/**
 * A resource, and what a DICOM filter (`compileDicomFilter`) sees of it, as Orthanc's
 * `/tools/find` matches a query at that level:
 * - the main DICOM tags of the resource, then of its series and study, then the patient's (the
 *   study's `PatientMainDicomTags`): the nearest level wins;
 * - `LastUpdate`: the resource's own (Orthanc's UTC `YYYYMMDDTHHMMSS`; none for an instance);
 * - `ModalitiesInStudy`: the `Modality` of the study's series (empty ones left out), a list; at
 *   the Study level `Modality` is that list too: a study has no Modality of its own, and
 *   `/tools/find` matches it against its series';
 * - `RemoteAET`, `CalledAET`: Orthanc's metadata of the instances, a list: an instance's own, a
 *   series' first instance's, a study's first instance of each series (one association usually
 *   sends a series whole). None at the Patient level.
 * Parents and computed keys are read only when `keys` names something: no keys, no request but
 * the resource's own (none when `listed`). Undefined when the resource or a parent is gone (404).
 */
export async function resourceForFilter(
  orthanc: Reader,
  level: ResourceLevel,
  id: string,
  keys: Iterable<string>,
  options: ResourceForFilterOptions = {},
): Promise<ResourceForFilter | undefined> {
  const read = <T>(uri: string) => readOrGone<T>(orthanc, uri);
  const resource = options.listed ?? (await read<ExpandedResource>(`/${levelPath[level]}/${encodeURIComponent(id)}`));
  if (!resource) return undefined;
  const wanted = new Set(keys);
  if (wanted.size === 0) return { resource, lookup: () => undefined };

  const layers: (Record<string, string> | undefined)[] = [resource.MainDicomTags];
  let series = level === 'Series' ? resource : undefined;
  if (level === 'Instance') {
    series = await read<ExpandedResource>(`/series/${encodeURIComponent(resource.ParentSeries ?? '')}`);
    if (!series) return undefined;
    layers.push(series.MainDicomTags);
  }
  let study = level === 'Study' ? resource : undefined;
  if (series) {
    study = await (options.readStudy ?? ((studyId) => read<ExpandedResource>(`/studies/${encodeURIComponent(studyId)}`)))(
      series.ParentStudy ?? '',
    );
    if (!study) return undefined;
    layers.push(study.MainDicomTags);
  }
  if (study) layers.push(study.PatientMainDicomTags);

  const computed = new Map<string, string | string[] | undefined>();
  if (wanted.has('LastUpdate')) computed.set('LastUpdate', resource.LastUpdate);
  const wantsAets = wanted.has('RemoteAET') || wanted.has('CalledAET');
  const wantsModalities = wanted.has('ModalitiesInStudy') || (level === 'Study' && wanted.has('Modality'));
  let studySeries: ExpandedResource[] = [];
  if (study && (wantsModalities || (level === 'Study' && wantsAets))) {
    studySeries = (await read<ExpandedResource[]>(`/studies/${encodeURIComponent(study.ID)}/series`)) ?? [];
  }
  if (study && wantsModalities) {
    const modalities = [...new Set(studySeries.map((s) => s.MainDicomTags?.Modality).filter((m): m is string => Boolean(m)))];
    computed.set('ModalitiesInStudy', modalities);
    if (level === 'Study') computed.set('Modality', modalities);
  }
  if (wantsAets && level !== 'Patient') {
    const instanceIds =
      level === 'Instance'
        ? [id]
        : level === 'Series'
          ? (resource.Instances ?? []).slice(0, 1)
          : studySeries.flatMap((s) => (s.Instances ?? []).slice(0, 1));
    const metadata = await Promise.all(
      instanceIds.map((instance) => read<Record<string, string>>(`/instances/${encodeURIComponent(instance)}/metadata?expand`)),
    );
    for (const key of ['RemoteAET', 'CalledAET'])
      computed.set(key, [...new Set(metadata.map((m) => m?.[key]).filter((v): v is string => v !== undefined))]);
  }

  return {
    resource,
    lookup: (key) => {
      if (computed.has(key)) return computed.get(key);
      for (const layer of layers) if (layer && Object.hasOwn(layer, key)) return layer[key];
      return undefined;
    },
  };
}
