import { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { isNotFound, type OrthancBinding } from '../../shared/binding/index.js';

type Tags = Record<string, string | undefined>;
interface StudyJson {
  ID: string;
  MainDicomTags?: Tags;
  PatientMainDicomTags?: Tags;
}
interface Statistics {
  CountSeries: number;
  CountInstances: number;
  DiskSizeMB: number;
  DiskSize?: string;
  UncompressedSize?: string;
}

/** The report's columns, in order: header, key, width. */
export const columns = [
  { header: 'Patient ID', key: 'patientId', width: 16 },
  { header: 'Patient name', key: 'patientName', width: 24 },
  { header: 'Birth date', key: 'birthDate', width: 12, style: { numFmt: 'yyyy-mm-dd' } },
  { header: 'Study date', key: 'studyDate', width: 12, style: { numFmt: 'yyyy-mm-dd' } },
  { header: 'Study description', key: 'description', width: 28 },
  { header: 'Accession number', key: 'accession', width: 18 },
  { header: 'Modalities', key: 'modalities', width: 12 },
  { header: 'Series', key: 'series', width: 8 },
  { header: 'Instances', key: 'instances', width: 10 },
  { header: 'Size on disk (bytes)', key: 'diskSize', width: 18 },
  { header: 'Orthanc ID', key: 'orthancId', width: 46 },
] as const;

/** A DICOM date (`YYYYMMDD`) as a date, or undefined when it is not one. */
export function dicomDate(value: string | undefined): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(value?.trim() ?? '');
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day ? date : undefined;
}

/**
 * Writes the report of `ids` to `sink` as it goes: each study's row from three reads (the study, its statistics and its series), `parallel` studies
 * at a time, each row committed (written out) before more are read. Memory holds the IDs and a
 * few rows, whatever the archive's size. A study deleted meanwhile is left out.
 */
export async function writeReport(
  orthanc: OrthancBinding,
  ids: string[],
  sink: Writable,
  options: { parallel: number; signal: AbortSignal },
): Promise<number> {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: sink, useStyles: true, useSharedStrings: false });
  const sheet = workbook.addWorksheet('Studies', { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = columns.map((column) => ({ ...column }));
  sheet.getRow(1).font = { bold: true };
  sheet.getRow(1).commit();
  let rows = 0;
  for (let start = 0; start < ids.length; start += options.parallel) {
    options.signal.throwIfAborted();
    const batch = await Promise.all(ids.slice(start, start + options.parallel).map((id) => readStudy(orthanc, id)));
    for (const row of batch) {
      if (!row) continue;
      sheet.addRow(row).commit();
      rows += 1;
    }
  }
  sheet.commit();
  // When the sink fails (the client went away), exceljs's commit may never settle.
  await Promise.race([
    workbook.commit(),
    new Promise((_resolve, reject) =>
      options.signal.addEventListener('abort', () => reject(options.signal.reason as Error), { once: true }),
    ),
  ]);
  return rows;
}

/** The IDs of the studies of the report: all, or those of StudyDate `since` or later. */
export function listStudies(orthanc: OrthancBinding, since: string | undefined): Promise<string[]> {
  return orthanc.restApiPostJson<string[]>('/tools/find', { Level: 'Study', Query: since ? { StudyDate: `${since}-` } : {} });
}

/** One study's row, or undefined when it was deleted meanwhile (exported for bench/excel-report.ts). */
export async function readStudy(orthanc: OrthancBinding, id: string): Promise<Record<string, unknown> | undefined> {
  const path = `/studies/${encodeURIComponent(id)}`;
  try {
    const [study, statistics, series] = await Promise.all([
      orthanc.restApiGetJson<StudyJson>(path),
      orthanc.restApiGetJson<Statistics>(`${path}/statistics`),
      orthanc.restApiGetJson<{ MainDicomTags?: Tags }[]>(`${path}/series`),
    ]);
    const patient = study.PatientMainDicomTags ?? {};
    const tags = study.MainDicomTags ?? {};
    const modalities = [...new Set(series.map((s) => s.MainDicomTags?.Modality ?? '').filter((m) => m !== ''))].sort();
    return {
      patientId: patient.PatientID ?? '',
      patientName: patient.PatientName ?? '',
      birthDate: dicomDate(patient.PatientBirthDate),
      studyDate: dicomDate(tags.StudyDate),
      description: tags.StudyDescription ?? '',
      accession: tags.AccessionNumber ?? '',
      modalities: modalities.join('\\'),
      series: Number(statistics.CountSeries),
      instances: Number(statistics.CountInstances),
      // DiskSize is a string of bytes (exact); DiskSizeMB is rounded.
      diskSize: statistics.DiskSize !== undefined ? Number(statistics.DiskSize) : statistics.DiskSizeMB * 2 ** 20,
      orthancId: study.ID,
    };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** A writable that hands each chunk to `send` and waits for it: back-pressure into exceljs. */
export function chunkSink(send: (chunk: Buffer) => Promise<void>): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      send(chunk).then(() => done(), done);
    },
  });
}
