import { OrthancHttpError, isNotFound, type OrthancBinding } from '../../shared/binding/index.js';

export interface Slice {
  instanceId: string;
  frame: number;
}

interface OrderedSlices {
  /** `[instanceId, firstFrame, frameCount]` per instance, in order (Orthanc 1.10 and 1.12). */
  SlicesShort?: [string, number, number][];
}

/**
 * The series' frames in Orthanc's order (`/series/{id}/ordered-slices`: along the slice normal,
 * else by IndexInSeries), frames of multi-frame instances included. When Orthanc cannot order
 * the series (it answers an error for some, e.g. without image position), the instances by
 * InstanceNumber, first frame each. A 404 (unknown series) is thrown as it is.
 */
export async function orderedSlices(orthanc: OrthancBinding, seriesId: string): Promise<Slice[]> {
  const path = `/series/${encodeURIComponent(seriesId)}`;
  try {
    const ordered = await orthanc.restApiGetJson<OrderedSlices>(`${path}/ordered-slices`);
    const slices: Slice[] = [];
    for (const [instanceId, first, count] of ordered.SlicesShort ?? []) {
      for (let frame = first; frame < first + count; frame += 1) slices.push({ instanceId, frame });
    }
    return slices;
  } catch (error) {
    if (!(error instanceof OrthancHttpError) || isNotFound(error)) throw error;
  }
  const instances = await orthanc.restApiGetJson<{ ID: string; MainDicomTags?: { InstanceNumber?: string } }[]>(`${path}/instances`);
  const number = (i: { MainDicomTags?: { InstanceNumber?: string } }) => Number.parseInt(i.MainDicomTags?.InstanceNumber ?? '', 10);
  return instances
    .map((instance) => ({ instance, n: number(instance) }))
    .sort((a, b) => (Number.isNaN(a.n) ? 1 : Number.isNaN(b.n) ? -1 : a.n - b.n) || a.instance.ID.localeCompare(b.instance.ID))
    .map(({ instance }) => ({ instanceId: instance.ID, frame: 0 }));
}
