import { OrthancHttpError, type OrthancBinding } from '../../shared/binding/index.js';
import { ThumbnailError } from './params.js';
import { translate } from './thumbnailer.js';

/** The instance and frame that stand for a series or a study. */
export interface Slice {
  instanceId: string;
  frame: number;
}

/** Modalities whose series hold no images (reports, presentation states, plans, waveforms…). */
const nonImageModalities = new Set(['SR', 'KO', 'PR', 'DOC', 'REG', 'FID', 'RTSTRUCT', 'RTPLAN', 'RTRECORD', 'PLAN', 'AU', 'ECG', 'HD', 'EPS', 'RWV', 'SMR', 'ASMT']);

const encode = encodeURIComponent;

/**
 * The middle slice of a series, in Orthanc's own order (`/ordered-slices`: by position along the
 * normal, else by `IndexInSeries`), counting frames: the middle frame of a lone multi-frame
 * instance. When Orthanc cannot order the slices, the middle instance by `IndexInSeries`.
 */
export async function middleSliceOfSeries(orthanc: OrthancBinding, seriesId: string): Promise<Slice> {
  try {
    const ordered = await orthanc.restApiGetJson<{ SlicesShort?: [string, number, number][] }>(`/series/${encode(seriesId)}/ordered-slices`);
    const slices = ordered.SlicesShort ?? [];
    let middle = Math.floor(slices.reduce((total, [, , count]) => total + count, 0) / 2);
    for (const [instanceId, first, count] of slices) {
      if (middle < count) return { instanceId, frame: first + middle };
      middle -= count;
    }
  } catch (error) {
    if (!(error instanceof OrthancHttpError) || error.httpStatus === 404) throw translate(error);
    // Orthanc could not order this series (its instances lack both position and number).
  }
  let instances: { ID: string; IndexInSeries?: number }[];
  try {
    instances = await orthanc.restApiGetJson(`/series/${encode(seriesId)}/instances`);
  } catch (error) {
    throw translate(error);
  }
  const byIndex = (a: { ID: string; IndexInSeries?: number }, b: { ID: string; IndexInSeries?: number }) =>
    (a.IndexInSeries ?? Infinity) - (b.IndexInSeries ?? Infinity) || a.ID.localeCompare(b.ID);
  const middle = instances.sort(byIndex)[Math.floor(instances.length / 2)];
  if (!middle) throw new ThumbnailError(404, `Unknown resource: series/${seriesId}`);
  return { instanceId: middle.ID, frame: 0 };
}

interface SeriesJson {
  ID: string;
  Instances: string[];
  MainDicomTags?: { Modality?: string; SeriesNumber?: string };
}

/** The middle slice of the study's image series with the most instances (ties: lowest SeriesNumber). */
export async function middleSliceOfStudy(orthanc: OrthancBinding, studyId: string): Promise<Slice> {
  let series: SeriesJson[];
  try {
    series = await orthanc.restApiGetJson<SeriesJson[]>(`/studies/${encode(studyId)}/series`);
  } catch (error) {
    throw translate(error);
  }
  const seriesNumber = (s: SeriesJson) => Number.parseInt(s.MainDicomTags?.SeriesNumber ?? '', 10);
  const [chosen] = series
    .filter((s) => !nonImageModalities.has((s.MainDicomTags?.Modality ?? '').trim().toUpperCase()))
    .sort(
      (a, b) =>
        b.Instances.length - a.Instances.length ||
        (Number.isNaN(seriesNumber(a)) ? Infinity : seriesNumber(a)) - (Number.isNaN(seriesNumber(b)) ? Infinity : seriesNumber(b)) ||
        a.ID.localeCompare(b.ID),
    );
  if (!chosen) {
    const modalities = [...new Set(series.map((s) => s.MainDicomTags?.Modality ?? ''))];
    throw new ThumbnailError(415, 'This study has no image series', { Study: studyId, Modalities: modalities });
  }
  return middleSliceOfSeries(orthanc, chosen.ID);
}
