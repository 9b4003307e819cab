import type { OrthancBinding } from '../../shared/binding/index.js';
import type { FilterLookup } from '../../shared/dicom-match.js';

export type Level = 'Study' | 'Series' | 'Instance';

/** Orthanc's URI segment of a level. */
export const levelPath: Record<Level, string> = { Study: 'studies', Series: 'series', Instance: 'instances' };

/** One resource as `GET /{level}/{id}` (or `?expand`) shows it, with the fields the recipe reads. */
export interface OrthancResource {
  ID: string;
  MainDicomTags?: Record<string, string>;
  PatientMainDicomTags?: Record<string, string>;
  /** Studies and series; absent on instances (they never change once stored). */
  LastUpdate?: string;
  IsStable?: boolean;
  ParentStudy?: string;
  ParentSeries?: string;
  Series?: string[];
  Instances?: string[];
}

/** What a rule is matched against, and what the ledger keys a decision on. */
export interface DescribedResource {
  level: Level;
  id: string;
  /** `LastUpdate` of a study or series; `''` for an instance. */
  lastUpdate: string;
  isStable: boolean;
  lookup: FilterLookup;
}

/** The filter keys that are not main DICOM tags, and cost extra requests to compute. */
const computedKeys = new Set(['ModalitiesInStudy', 'RemoteAET', 'CalledAET']);

/**
 * Reads a resource and what its filters need: main DICOM tags of the resource and its parents,
 * `ModalitiesInStudy` (the Modality of the study's series, as `/tools/find` computes it) and the
 * `RemoteAET`/`CalledAET` metadata of its instances (for a study or a series: of the first
 * instance of each series, which one association usually sends whole). Undefined when the
 * resource is gone.
 */
export async function describeResource(
  orthanc: OrthancBinding,
  level: Level,
  id: string,
  keys: ReadonlySet<string>,
  /** The resource as a listing (`?expand`) just showed it, to save one request. */
  listed?: OrthancResource,
): Promise<DescribedResource | undefined> {
  const get = <T>(uri: string) => orthanc.restApiGetJson<T>(uri).catch((error: unknown) => (isGone(error) ? undefined : Promise.reject(error)));
  const resource = listed ?? (await get<OrthancResource>(`/${levelPath[level]}/${id}`));
  if (!resource) return undefined;
  const values = new Map<string, string | string[]>();
  const add = (tags: Record<string, string> | undefined) => {
    for (const [key, value] of Object.entries(tags ?? {})) if (!values.has(key)) values.set(key, value);
  };
  add(resource.MainDicomTags);
  let series: OrthancResource | undefined = level === 'Series' ? resource : undefined;
  if (level === 'Instance') {
    series = await get<OrthancResource>(`/series/${resource.ParentSeries}`);
    if (!series) return undefined;
    add(series.MainDicomTags);
  }
  const study = level === 'Study' ? resource : await get<OrthancResource>(`/studies/${series!.ParentStudy}`);
  if (!study) return undefined;
  if (level !== 'Study') add(study.MainDicomTags);
  add(study.PatientMainDicomTags);

  const needs = (key: string) => keys.has(key) && computedKeys.has(key);
  let studySeries: OrthancResource[] | undefined;
  if (needs('ModalitiesInStudy') || (level === 'Study' && (needs('RemoteAET') || needs('CalledAET')))) {
    studySeries = (await get<OrthancResource[]>(`/studies/${study.ID}/series`)) ?? [];
  }
  if (needs('ModalitiesInStudy')) {
    const modalities = new Set((studySeries ?? []).map((s) => s.MainDicomTags?.Modality).filter((m): m is string => Boolean(m)));
    values.set('ModalitiesInStudy', [...modalities]);
  }
  if (needs('RemoteAET') || needs('CalledAET')) {
    const instanceIds =
      level === 'Instance' ? [id] : level === 'Series' ? resource.Instances!.slice(0, 1) : (studySeries ?? []).flatMap((s) => (s.Instances ?? []).slice(0, 1));
    const metadata = await Promise.all(instanceIds.map((instance) => get<Record<string, string>>(`/instances/${instance}/metadata?expand`)));
    for (const key of ['RemoteAET', 'CalledAET']) {
      values.set(key, [...new Set(metadata.map((m) => m?.[key]).filter((v): v is string => v !== undefined))]);
    }
  }
  return {
    level,
    id,
    lastUpdate: resource.LastUpdate ?? '',
    isStable: level === 'Instance' || resource.IsStable === true,
    lookup: (key) => values.get(key),
  };
}

const isGone = (error: unknown) => (error as { httpStatus?: number }).httpStatus === 404;

/**
 * The IDs of the instances a resource holds now (what DeleteAfterRouting may delete once every
 * destination received it). Read after the resource's `LastUpdate`, so that the list holds at
 * least the instances of that version; a send job, created later, expands the resource again and
 * holds at least as many. Undefined when the resource is gone.
 */
export async function instancesOf(orthanc: OrthancBinding, level: Level, id: string): Promise<string[] | undefined> {
  if (level === 'Instance') return [id];
  try {
    if (level === 'Series') return (await orthanc.restApiGetJson<OrthancResource>(`/series/${id}`)).Instances ?? [];
    return (await orthanc.restApiGetJson<OrthancResource[]>(`/studies/${id}/instances`)).map((instance) => instance.ID);
  } catch (error) {
    if (isGone(error)) return undefined;
    throw error;
  }
}

/**
 * Deletes instances by ID with `POST /tools/bulk-delete` (Orthanc 1.9.4+), a few hundred a call;
 * an instance already gone is skipped (Orthanc only logs it). Orthanc removes a series, study or
 * patient with its last instance.
 */
export async function deleteInstances(orthanc: OrthancBinding, ids: string[], perCall = 500): Promise<void> {
  for (let start = 0; start < ids.length; start += perCall) {
    await orthanc.restApiPost('/tools/bulk-delete', { Resources: ids.slice(start, start + perCall) });
  }
}
