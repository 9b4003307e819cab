import type { BuiltInTask } from './built-in.js';

interface Statistics {
  CountPatients: number;
  CountStudies: number;
  CountSeries: number;
  CountInstances: number;
  TotalDiskSizeMB: number;
  TotalUncompressedSizeMB: number;
}

/** Logs Orthanc's `/statistics` in one line and returns them. */
export const logStatistics: BuiltInTask<Record<string, never>> = {
  schema: { type: 'object', properties: {}, additionalProperties: false },
  async run({ orthanc, log }) {
    const s = await orthanc.restApiGetJson<Statistics>('/statistics');
    log.info('statistics', {
      patients: s.CountPatients,
      studies: s.CountStudies,
      series: s.CountSeries,
      instances: s.CountInstances,
      diskSizeMB: s.TotalDiskSizeMB,
    });
    return s;
  },
};
