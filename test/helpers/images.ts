import dcmjs from 'dcmjs';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { toPart10 } from './dicom.js';

// DICOM images of every kind a thumbnail service meets: signed and unsigned 16-bit, MONOCHROME1,
// RGB, palette colour, multi-frame, compressed (made with dcmtk), and objects without pixels.

const { DicomMetaDictionary } = dcmjs.data;
const run = promisify(execFile);

export const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
export const BASIC_TEXT_SR = '1.2.840.10008.5.1.4.1.1.88.11';
export const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';
export const JPEG_2000 = '1.2.840.10008.1.2.4.91';
export const RLE_LOSSLESS = '1.2.840.10008.1.2.5';

export interface ImageSpec {
  width: number;
  height: number;
  /** Study and series to put the instance in (new ones by default). */
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  instanceNumber?: number;
  modality?: string;
}

/** UIDs of one study with one or more series, to group generated instances. */
export function newStudy(): { studyInstanceUid: string; series: () => string } {
  return { studyInstanceUid: DicomMetaDictionary.uid(), series: () => DicomMetaDictionary.uid() };
}

function common(spec: ImageSpec, sopClassUid: string): Record<string, unknown> {
  return {
    SOPClassUID: sopClassUid,
    SOPInstanceUID: DicomMetaDictionary.uid(),
    StudyInstanceUID: spec.studyInstanceUid ?? DicomMetaDictionary.uid(),
    SeriesInstanceUID: spec.seriesInstanceUid ?? DicomMetaDictionary.uid(),
    PatientName: 'Thumb^Nail',
    PatientID: 'RCP-THUMB',
    StudyDate: '20240601',
    Modality: spec.modality ?? 'OT',
    SeriesNumber: '1',
    InstanceNumber: String(spec.instanceNumber ?? 1),
    Rows: spec.height,
    Columns: spec.width,
  };
}

/** A gradient with a bright square in the top-left quarter, so orientation and frames can be told apart. */
function pattern(x: number, y: number, spec: ImageSpec, frame = 0): number {
  const square = x < spec.width / 4 + frame * 4 && y < spec.height / 4;
  return square ? 1 : (x + y) / (spec.width + spec.height);
}

/** 16-bit grayscale: signed (HU stored as they are) or unsigned (stored HU + 1024, intercept -1024). */
export function ct16(spec: ImageSpec & { signed: boolean; monochrome1?: boolean }): Buffer {
  const pixels = spec.signed ? new Int16Array(spec.width * spec.height) : new Uint16Array(spec.width * spec.height);
  for (let y = 0; y < spec.height; y += 1) {
    for (let x = 0; x < spec.width; x += 1) {
      const hu = Math.round(-1000 + 2000 * pattern(x, y, spec));
      pixels[y * spec.width + x] = spec.signed ? hu : hu + 1024;
    }
  }
  return toPart10({
    ...common({ modality: 'CT', ...spec }, '1.2.840.10008.5.1.4.1.1.2'),
    SamplesPerPixel: 1,
    PhotometricInterpretation: spec.monochrome1 ? 'MONOCHROME1' : 'MONOCHROME2',
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: spec.signed ? 1 : 0,
    RescaleIntercept: spec.signed ? '0' : '-1024',
    RescaleSlope: '1',
    WindowCenter: '0',
    WindowWidth: '2000',
    PixelData: [pixels.buffer],
    _vrMap: { PixelData: 'OW' },
  });
}

/** 8-bit RGB, interleaved; `frames` > 1 makes a multi-frame instance whose frames differ. */
export function rgb8(spec: ImageSpec & { frames?: number }): Buffer {
  const frames = spec.frames ?? 1;
  const size = spec.width * spec.height * 3;
  const pixels = new Uint8Array(size * frames);
  for (let f = 0; f < frames; f += 1) {
    for (let y = 0; y < spec.height; y += 1) {
      for (let x = 0; x < spec.width; x += 1) {
        const o = f * size + (y * spec.width + x) * 3;
        const v = Math.round(255 * pattern(x, y, spec, f));
        pixels[o] = v;
        pixels[o + 1] = (f * 80) % 256;
        pixels[o + 2] = 255 - v;
      }
    }
  }
  return toPart10({
    ...common({ modality: 'XC', ...spec }, frames > 1 ? '1.2.840.10008.5.1.4.1.1.7.4' : SECONDARY_CAPTURE),
    ...(frames > 1 ? { NumberOfFrames: String(frames) } : {}),
    SamplesPerPixel: 3,
    PhotometricInterpretation: 'RGB',
    PlanarConfiguration: 0,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    PixelData: [pixels.buffer],
    _vrMap: { PixelData: 'OB' },
  });
}

/** 8-bit grayscale multi-frame: frame n has its bright square moved by 4n pixels. */
export function multiFrame8(spec: ImageSpec & { frames: number }): Buffer {
  const size = spec.width * spec.height;
  const pixels = new Uint8Array(size * spec.frames);
  for (let f = 0; f < spec.frames; f += 1) {
    for (let y = 0; y < spec.height; y += 1) {
      for (let x = 0; x < spec.width; x += 1) pixels[f * size + y * spec.width + x] = Math.round(255 * pattern(x, y, spec, f));
    }
  }
  return toPart10({
    ...common({ modality: 'OT', ...spec }, '1.2.840.10008.5.1.4.1.1.7.2'),
    NumberOfFrames: String(spec.frames),
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    PixelData: [pixels.buffer],
    _vrMap: { PixelData: 'OB' },
  });
}

/** 8-bit PALETTE COLOR with a 256-entry, 16-bit lookup table (a "hot" ramp). */
export function paletteColor(spec: ImageSpec): Buffer {
  const indices = new Uint8Array(spec.width * spec.height);
  for (let y = 0; y < spec.height; y += 1) {
    for (let x = 0; x < spec.width; x += 1) indices[y * spec.width + x] = Math.round(255 * pattern(x, y, spec));
  }
  const lut = (f: (i: number) => number) => {
    const table = new Uint16Array(256);
    for (let i = 0; i < 256; i += 1) table[i] = Math.round(65535 * Math.min(1, Math.max(0, f(i / 255))));
    return [table.buffer];
  };
  return toPart10({
    ...common({ modality: 'NM', ...spec }, SECONDARY_CAPTURE),
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'PALETTE COLOR',
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    RedPaletteColorLookupTableDescriptor: [256, 0, 16],
    GreenPaletteColorLookupTableDescriptor: [256, 0, 16],
    BluePaletteColorLookupTableDescriptor: [256, 0, 16],
    RedPaletteColorLookupTableData: lut((v) => 3 * v),
    GreenPaletteColorLookupTableData: lut((v) => 3 * v - 1),
    BluePaletteColorLookupTableData: lut((v) => 3 * v - 2),
    PixelData: [indices.buffer],
    _vrMap: {
      PixelData: 'OB',
      RedPaletteColorLookupTableDescriptor: 'US',
      GreenPaletteColorLookupTableDescriptor: 'US',
      BluePaletteColorLookupTableDescriptor: 'US',
    },
  });
}

/** A Basic Text SR: an instance with no pixel data at all. */
export function textReport(spec: Omit<ImageSpec, 'width' | 'height'> = {}): Buffer {
  const dataset = common({ modality: 'SR', width: 0, height: 0, ...spec }, BASIC_TEXT_SR);
  delete dataset.Rows;
  delete dataset.Columns;
  return toPart10({ ...dataset, ValueType: 'CONTAINER', CompletionFlag: 'COMPLETE', VerificationFlag: 'UNVERIFIED' });
}

/** Runs a dcmtk tool on `file` (`dcmcjpeg`, `dcmcrle`, …) and returns what it wrote. */
export async function dcmtk(tool: string, args: string[], file: Buffer): Promise<Buffer> {
  const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-dcmtk-'));
  try {
    await writeFile(join(folder, 'in.dcm'), file);
    await run(tool, [...args, join(folder, 'in.dcm'), join(folder, 'out.dcm')]);
    return await readFile(join(folder, 'out.dcm'));
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/**
 * The same file, labelled with another transfer syntax of the same length (the UID is patched in
 * the file meta information): e.g. a JPEG baseline file claiming to be JPEG 2000, which Orthanc
 * stores but cannot decode without a plugin.
 */
export function relabelTransferSyntax(file: Buffer, from: string, to: string): Buffer {
  if (from.length !== to.length) throw new Error('the two UIDs must have the same length');
  const copy = Buffer.from(file);
  const at = copy.indexOf(from, 128, 'latin1');
  if (at < 0 || at > 1024) throw new Error(`transfer syntax ${from} not found in the file meta information`);
  copy.write(to, at, 'latin1');
  return copy;
}

/** A minimal one-page PDF, for `/tools/create-dicom` (encapsulated PDF). */
export function minimalPdf(): Buffer {
  return Buffer.from(
    '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n' +
      '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
    'latin1',
  );
}

/**
 * Unusual but valid pixel formats, 64×48: Orthanc 1.10 and 1.12 render some (1-bit, planar RGB,
 * signed 12-bit, 8-bit without a window) and refuse others with a 415 (RGB 48-bit, 32-bit
 * grayscale, uncompressed YBR_FULL, pixel data shorter than announced).
 */
export function unusualImages(): Record<string, Buffer> {
  const [width, height] = [64, 48];
  const spec = { width, height };
  const gray = (bits: number, stored: number, signed: boolean) => ({
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    BitsAllocated: bits,
    BitsStored: stored,
    HighBit: stored - 1,
    PixelRepresentation: signed ? 1 : 0,
  });
  const color = (photometric: string, planar: number, bits: number) => ({
    SamplesPerPixel: 3,
    PhotometricInterpretation: photometric,
    PlanarConfiguration: planar,
    BitsAllocated: bits,
    BitsStored: bits,
    HighBit: bits - 1,
    PixelRepresentation: 0,
  });
  const make = (attributes: Record<string, unknown>, pixels: ArrayBuffer, vr: 'OB' | 'OW') =>
    toPart10({ ...common(spec, SECONDARY_CAPTURE), ...attributes, PixelData: [pixels], _vrMap: { PixelData: vr } });
  const n = width * height;
  return {
    '1-bit': make(gray(1, 1, false), new Uint8Array(n / 8).map((_, i) => (i % 3 ? 0xaa : 0x0f)).buffer, 'OB'),
    'RGB planar': make(color('RGB', 1, 8), new Uint8Array(n * 3).map((_, i) => i % 256).buffer, 'OB'),
    'signed 12-bit': make(gray(16, 12, true), new Int16Array(n).map((_, i) => (i % 4096) - 2048).buffer, 'OW'),
    '8-bit, no window': make(gray(8, 8, false), new Uint8Array(n).map((_, i) => i % 256).buffer, 'OB'),
    'RGB 48-bit': make(color('RGB', 0, 16), new Uint16Array(n * 3).map((_, i) => i * 37).buffer, 'OW'),
    '32-bit signed': make(gray(32, 32, true), new Int32Array(n).map((_, i) => i * 1000 - 100_000).buffer, 'OW'),
    'YBR_FULL uncompressed': make(color('YBR_FULL', 0, 8), new Uint8Array(n * 3).map((_, i) => i % 256).buffer, 'OB'),
    'pixel data too short': make(gray(16, 16, false), new Uint16Array(10).buffer, 'OW'),
  };
}
