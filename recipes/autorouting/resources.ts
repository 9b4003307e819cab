import type { OrthancBinding } from '../../shared/binding/index.js';
import type { FilterLookup } from '../../shared/dicom-match.js';
import { isNotFound, type ExpandedResource, type ResourceLevel } from '../../shared/orthanc-resources.js';
import { resourceForFilter } from '../../shared/resource-filter.js';

/** The levels rules route (a patient is never sent whole). */
export type Level = Exclude<ResourceLevel, 'Patient'>;

/** What a rule is matched against, and what the ledger keys a decision on. */
export interface DescribedResource {
  level: Level;
  id: string;
  /** `LastUpdate` of a study or series; `''` for an instance. */
  lastUpdate: string;
  isStable: boolean;
  lookup: FilterLookup;
}

/**
 * Reads a resource and what its rules' filters need (`resourceForFilter`: main DICOM tags of the
 * resource and its parents, `ModalitiesInStudy`, the `RemoteAET`/`CalledAET` of its instances...).
 * Undefined when the resource is gone.
 */
export async function describeResource(
  orthanc: OrthancBinding,
  level: Level,
  id: string,
  keys: ReadonlySet<string>,
  /** The resource as a listing (`?expand`) just showed it, to save one request. */
  listed?: ExpandedResource,
): Promise<DescribedResource | undefined> {
  const found = await resourceForFilter(orthanc, level, id, keys, { listed });
  if (!found) return undefined;
  return {
    level,
    id,
    lastUpdate: found.resource.LastUpdate ?? '',
    isStable: level === 'Instance' || found.resource.IsStable === true,
    lookup: found.lookup,
  };
}

/**
 * The IDs of the instances a resource holds now (what DeleteAfterRouting may delete once every
 * destination received it). Read after the resource's `LastUpdate`, so that the list holds at
 * least the instances of that version; a send job, created later, expands the resource again and
 * holds at least as many. Undefined when the resource is gone.
 */
export async function instancesOf(orthanc: OrthancBinding, level: Level, id: string): Promise<string[] | undefined> {
  if (level === 'Instance') return [id];
  try {
    if (level === 'Series') return (await orthanc.restApiGetJson<ExpandedResource>(`/series/${id}`)).Instances ?? [];
    return (await orthanc.restApiGetJson<ExpandedResource[]>(`/studies/${id}/instances`)).map((instance) => instance.ID);
  } catch (error) {
    if (isNotFound(error)) return undefined;
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
