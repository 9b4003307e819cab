import type { OrthancBinding } from '../../shared/binding/index.js';
import type { PageRequest } from './params.js';

/** A page of studies as `/studies?expand` gives them, and how many studies there are in all. */
export interface Page {
  studies: Record<string, unknown>[];
  total: number;
}

/**
 * Orthanc 1.12.5+ sorts and pages itself: `/tools/find` with `OrderBy`, `Limit` and `Since`, and
 * `/tools/count-resources` for the total. Only main DICOM tags of the study or patient level may
 * be ordered by (1.12.7 answers 500 "SQLite: Cannot prepare a cached statement" for Modality at
 * study level), hence the fixed list of sort keys. StudyInstanceUID breaks ties, so that the
 * order is total and pages neither repeat nor skip a study.
 */
export async function findPage(orthanc: OrthancBinding, request: PageRequest): Promise<Page> {
  const direction = request.order === 'asc' ? 'ASC' : 'DESC';
  const orderBy = [{ Type: 'DicomTag', Key: request.sort, Direction: direction }];
  if (request.sort !== 'StudyInstanceUID') orderBy.push({ Type: 'DicomTag', Key: 'StudyInstanceUID', Direction: 'ASC' });
  const [studies, count] = await Promise.all([
    orthanc.restApiPostJson<Record<string, unknown>[]>('/tools/find', {
      Level: 'Study',
      Query: {},
      Expand: true,
      OrderBy: orderBy,
      Since: request.offset,
      Limit: request.limit,
    }),
    orthanc.restApiPostJson<{ Count: number }>('/tools/count-resources', { Level: 'Study', Query: {} }),
  ]);
  return { studies, total: count.Count };
}

/** Whether this Orthanc sorts in `/tools/find`: the capability, not the version, decides. */
export async function orthancSorts(orthanc: OrthancBinding): Promise<boolean> {
  const system = await orthanc.getSystem();
  return system.Capabilities?.HasExtendedFind === true;
}
