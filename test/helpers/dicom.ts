import type dcmjsModule from 'dcmjs';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

import { requireOptional } from '../../shared/optional-package.js';

/**
 * dcmjs, loaded on first use: it is an optional package of orthanc-recipes (the test kit's users
 * install it as a dev dependency), so that importing `orthanc-recipes/testing` never fails for
 * it and a missing dcmjs is named with how to install it.
 */
function dcmjsData(): typeof dcmjsModule.data {
  return requireOptional<typeof dcmjsModule>('dcmjs', import.meta.url).data;
}

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const US_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.6.1';
export const SECONDARY_CAPTURE_MULTIFRAME_WORD = '1.2.840.10008.5.1.4.1.1.7.3';
export const EXPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

export interface GeneratedInstance {
  file: Buffer;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  patientId: string;
}

export interface StudySpec {
  patientId: string;
  patientName: string;
  studyDate: string;
  studyDescription?: string;
  /** One entry per series: its modality and number of instances. */
  series: { modality: 'CT' | 'MR' | 'US' | 'OT'; instances: number; description?: string }[];
  /** Side of the square images; 64 by default. */
  size?: number;
}

/** Serializes a naturalized dataset as a DICOM Part-10 file (explicit VR little endian). */
export function toPart10(dataset: Record<string, unknown>): Buffer {
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: EXPLICIT_LITTLE_ENDIAN,
    ImplementationClassUID: '1.2.826.0.1.3680043.10.1391.1',
    ImplementationVersionName: 'ORTHANC_RECIPES',
  };
  const dict = new (dcmjsData().DicomDict)(dcmjsData().DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjsData().DicomMetaDictionary.denaturalizeDataset(dataset);
  return Buffer.from(dict.write());
}

/** A 16-bit CT slice: a body-like disc (about 40 HU) with a bright rod (bone) that moves per slice. */
function ctPixels(size: number, slice: number): Uint16Array {
  const pixels = new Uint16Array(size * size);
  const c = size / 2;
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) {
      const r = Math.hypot(x - c, y - c);
      const rod = Math.hypot(x - c / 2 - slice, y - c) < size / 12;
      // Stored value = HU + 1024 (RescaleIntercept -1024): air 0, soft tissue ~1064, bone ~2024.
      pixels[y * size + x] = rod ? 2024 : r < size * 0.4 ? 1064 + ((x * 7 + y * 3 + slice) % 40) : 0;
    }
  }
  return pixels;
}

/** An 8-bit RGB frame with colour bars. */
function rgbPixels(size: number, index: number): Uint8Array {
  const pixels = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) {
      const o = (y * size + x) * 3;
      pixels[o] = (x * 255) / size;
      pixels[o + 1] = (y * 255) / size;
      pixels[o + 2] = (index * 40) % 256;
    }
  }
  return pixels;
}

/** A study of one patient: realistic CT (16-bit, signed HU through rescale) or RGB series. */
export function generateStudy(spec: StudySpec): GeneratedInstance[] {
  const size = spec.size ?? 64;
  const studyInstanceUid = dcmjsData().DicomMetaDictionary.uid();
  const instances: GeneratedInstance[] = [];
  spec.series.forEach((series, seriesIndex) => {
    const seriesInstanceUid = dcmjsData().DicomMetaDictionary.uid();
    for (let n = 1; n <= series.instances; n += 1) {
      const sopInstanceUid = dcmjsData().DicomMetaDictionary.uid();
      const rgb = series.modality === 'US' || series.modality === 'OT';
      const common = {
        SOPInstanceUID: sopInstanceUid,
        StudyInstanceUID: studyInstanceUid,
        SeriesInstanceUID: seriesInstanceUid,
        PatientName: spec.patientName,
        PatientID: spec.patientId,
        PatientBirthDate: '19700101',
        PatientSex: 'O',
        StudyDate: spec.studyDate,
        StudyTime: '101010',
        SeriesDate: spec.studyDate,
        AccessionNumber: `ACC${spec.studyDate}`,
        StudyDescription: spec.studyDescription ?? `${series.modality} study`,
        SeriesDescription: series.description ?? `${series.modality} series ${seriesIndex + 1}`,
        StudyID: '1',
        SeriesNumber: String(seriesIndex + 1),
        InstanceNumber: String(n),
        Modality: series.modality,
        Rows: size,
        Columns: size,
      };
      const dataset = rgb
        ? {
            ...common,
            SOPClassUID: US_IMAGE_STORAGE,
            SamplesPerPixel: 3,
            PhotometricInterpretation: 'RGB',
            PlanarConfiguration: 0,
            BitsAllocated: 8,
            BitsStored: 8,
            HighBit: 7,
            PixelRepresentation: 0,
            PixelData: [rgbPixels(size, n).buffer],
            _vrMap: { PixelData: 'OB' },
          }
        : {
            ...common,
            SOPClassUID: CT_IMAGE_STORAGE,
            ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
            SliceThickness: '2.5',
            ImagePositionPatient: ['0', '0', String(n * 2.5)],
            ImageOrientationPatient: ['1', '0', '0', '0', '1', '0'],
            PixelSpacing: ['0.7', '0.7'],
            SamplesPerPixel: 1,
            PhotometricInterpretation: 'MONOCHROME2',
            BitsAllocated: 16,
            BitsStored: 12,
            HighBit: 11,
            PixelRepresentation: 0,
            RescaleIntercept: '-1024',
            RescaleSlope: '1',
            WindowCenter: '40',
            WindowWidth: '400',
            PixelData: [ctPixels(size, n).buffer],
            _vrMap: { PixelData: 'OW' },
          };
      instances.push({ file: toPart10(dataset), sopInstanceUid, seriesInstanceUid, studyInstanceUid, patientId: spec.patientId });
    }
  });
  return instances;
}

/** Several patients, studies and series, with varied dates and modalities. */
export function generateCollection(): GeneratedInstance[] {
  return [
    ...generateStudy({
      patientId: 'RCP-001',
      patientName: 'Doe^Jane',
      studyDate: '20240105',
      studyDescription: 'CHEST CT',
      series: [
        { modality: 'CT', instances: 4 },
        { modality: 'CT', instances: 2 },
      ],
    }),
    ...generateStudy({
      patientId: 'RCP-001',
      patientName: 'Doe^Jane',
      studyDate: '20231120',
      studyDescription: 'ABDOMEN US',
      series: [{ modality: 'US', instances: 2 }],
    }),
    ...generateStudy({
      patientId: 'RCP-002',
      patientName: 'Roe^Richard',
      studyDate: '20220301',
      studyDescription: 'HEAD MR',
      series: [{ modality: 'MR', instances: 3 }],
    }),
    ...generateStudy({
      patientId: 'RCP-003',
      patientName: 'Smith^Ann',
      studyDate: '20241231',
      studyDescription: 'SCREEN CAPTURE',
      series: [{ modality: 'OT', instances: 1 }],
    }),
  ];
}

/**
 * Writes a multi-frame 16-bit instance of about `bytes` bytes to `path`, streaming the pixel
 * data so that even a 100 MB file never sits whole in memory. Returns its SOPInstanceUID.
 */
export async function writeLargeInstance(path: string, bytes: number): Promise<string> {
  const size = 1024;
  const frameBytes = size * size * 2;
  const frames = Math.max(1, Math.ceil(bytes / frameBytes));
  const sopInstanceUid = dcmjsData().DicomMetaDictionary.uid();
  const header = toPart10({
    SOPClassUID: SECONDARY_CAPTURE_MULTIFRAME_WORD,
    SOPInstanceUID: sopInstanceUid,
    StudyInstanceUID: dcmjsData().DicomMetaDictionary.uid(),
    SeriesInstanceUID: dcmjsData().DicomMetaDictionary.uid(),
    PatientName: 'Large^Study',
    PatientID: 'RCP-LARGE',
    StudyDate: '20240601',
    Modality: 'OT',
    NumberOfFrames: String(frames),
    Rows: size,
    Columns: size,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 0,
  });
  const out = createWriteStream(path);
  const write = async (chunk: Uint8Array) => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  await write(header);
  // Pixel Data (7FE0,0010), VR OW, 2 reserved bytes, 4-byte length, then the frames.
  const element = Buffer.alloc(12);
  element.writeUInt16LE(0x7fe0, 0);
  element.writeUInt16LE(0x0010, 2);
  element.write('OW', 4, 'latin1');
  element.writeUInt32LE(frames * frameBytes, 8);
  await write(element);
  const frame = Buffer.alloc(frameBytes);
  for (let f = 0; f < frames; f += 1) {
    for (let i = 0; i < frameBytes; i += 2) frame.writeUInt16LE((i / 2 + f * 31) & 0xffff, i);
    await write(frame);
  }
  out.end();
  await once(out, 'close');
  return sopInstanceUid;
}
