import { LRUCache } from 'lru-cache';
import { OrthancHttpError, isNotFound, type OrthancBinding } from '../../shared/binding/index.js';
import { ThumbnailError } from './params.js';
import { translate } from './thumbnailer.js';

/** The instance and frame that stand for a series or a study. */
export interface Slice {
  instanceId: string;
  frame: number;
}

/** What Orthanc answers for a series (`/series/{id}`, or an item of `/studies/{id}/series`). */
interface SeriesJson {
  ID: string;
  Instances: string[];
  LastUpdate?: string;
  MainDicomTags?: { Modality?: string; SeriesNumber?: string };
}

/** Modalities whose series hold no images (reports, presentation states, plans, waveforms…). */
const nonImageModalities = new Set([
  'SR',
  'KO',
  'PR',
  'DOC',
  'REG',
  'FID',
  'RTSTRUCT',
  'RTPLAN',
  'RTRECORD',
  'PLAN',
  'AU',
  'ECG',
  'HD',
  'EPS',
  'RWV',
  'SMR',
  'ASMT',
]);

const encode = encodeURIComponent;

/**
 * Chooses the slice shown for a series or a study. Orthanc's ordering of a series reads every
 * instance (about 20 ms for 500), so the answer is kept until the series changes: its
 * `LastUpdate` (to the second) or its number of instances. Asking again is then one cheap request.
 */
export class Representatives {
  private readonly middles = new LRUCache<string, { version: string; slice: Slice }>({ max: 10_000 });

  constructor(private readonly orthanc: OrthancBinding) {}

  /** These representatives calling Orthanc through `orthanc` (a request's binding, acting as the caller), with the same cache. */
  as(orthanc: OrthancBinding): Representatives {
    return Object.create(this, { orthanc: { value: orthanc } }) as Representatives;
  }

  /**
   * The middle slice of a series, in Orthanc's own order (`/ordered-slices`: by position along
   * the normal, else by `IndexInSeries`), counting frames: the middle frame of a lone multi-frame
   * instance. When Orthanc cannot order the slices, the middle instance by `IndexInSeries`.
   */
  async ofSeries(seriesId: string, known?: SeriesJson): Promise<Slice> {
    const series = known ?? (await this.get<SeriesJson>(`/series/${encode(seriesId)}`));
    const version = `${series.LastUpdate ?? ''}/${series.Instances.length}`;
    const cached = this.middles.get(seriesId);
    if (cached?.version === version) return cached.slice;
    const slice = (await this.orderedMiddle(seriesId)) ?? (await this.middleByIndex(seriesId));
    this.middles.set(seriesId, { version, slice });
    return slice;
  }

  /** The middle slice of the study's image series with the most instances (ties: lowest SeriesNumber). */
  async ofStudy(studyId: string): Promise<Slice> {
    const series = await this.get<SeriesJson[]>(`/studies/${encode(studyId)}/series`);
    const seriesNumber = (s: SeriesJson) => {
      const number = Number.parseInt(s.MainDicomTags?.SeriesNumber ?? '', 10);
      return Number.isNaN(number) ? Infinity : number;
    };
    const [chosen] = series
      .filter((s) => !nonImageModalities.has((s.MainDicomTags?.Modality ?? '').trim().toUpperCase()))
      .sort((a, b) => b.Instances.length - a.Instances.length || seriesNumber(a) - seriesNumber(b) || a.ID.localeCompare(b.ID));
    if (!chosen) {
      const modalities = [...new Set(series.map((s) => s.MainDicomTags?.Modality ?? ''))];
      throw new ThumbnailError(415, 'This study has no image series', { Study: studyId, Modalities: modalities });
    }
    return this.ofSeries(chosen.ID, chosen);
  }

  clear(): void {
    this.middles.clear();
  }

  private async orderedMiddle(seriesId: string): Promise<Slice | undefined> {
    try {
      const ordered = await this.orthanc.restApiGetJson<{ SlicesShort?: [string, number, number][] }>(
        `/series/${encode(seriesId)}/ordered-slices`,
      );
      const slices = ordered.SlicesShort ?? [];
      let middle = Math.floor(slices.reduce((total, [, , count]) => total + count, 0) / 2);
      for (const [instanceId, first, count] of slices) {
        if (middle < count) return { instanceId, frame: first + middle };
        middle -= count;
      }
      return undefined;
    } catch (error) {
      if (!(error instanceof OrthancHttpError) || isNotFound(error)) throw translate(error);
      return undefined; // Orthanc could not order this series (its instances lack both position and number)
    }
  }

  private async middleByIndex(seriesId: string): Promise<Slice> {
    const instances = await this.get<{ ID: string; IndexInSeries?: number }[]>(`/series/${encode(seriesId)}/instances`);
    const [middle] = instances
      .sort((a, b) => (a.IndexInSeries ?? Infinity) - (b.IndexInSeries ?? Infinity) || a.ID.localeCompare(b.ID))
      .slice(Math.floor(instances.length / 2));
    if (!middle) throw new ThumbnailError(404, `Unknown resource: series/${seriesId}`);
    return { instanceId: middle.ID, frame: 0 };
  }

  private async get<T>(uri: string): Promise<T> {
    try {
      return await this.orthanc.restApiGetJson<T>(uri);
    } catch (error) {
      throw translate(error);
    }
  }
}
