import dcmjs from 'dcmjs';
import { bytesOfWindows1252, decodeDicomText } from './charset.js';

const { DicomMessage } = dcmjs.data;
// dcmjs reports what it works around (an unknown VR, a missing delimiter) on the console; the
// worker's stdout is the host's log, so these go nowhere.
interface LevelledLog {
  setLevel(level: string): void;
  getLoggers?(): Record<string, LevelledLog>;
  getLogger?(name: string): LevelledLog;
}
const dcmjsLog = (dcmjs as unknown as { log?: LevelledLog }).log;
dcmjsLog?.setLevel('silent');
dcmjsLog?.getLogger?.('validation.dcmjs').setLevel('silent');
for (const logger of Object.values(dcmjsLog?.getLoggers?.() ?? {})) logger.setLevel('silent');

/** An element of dcmjs's raw dataset, keyed by tag (`"00100010"`). */
export interface RawElement {
  vr: string;
  Value?: unknown[];
  _rawValue?: unknown;
}
export type RawDataset = Record<string, RawElement>;

export interface ParsedFile {
  meta: RawDataset;
  dataset: RawDataset;
}

export const DEFLATED = '1.2.840.10008.1.2.1.99';
const IMPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2';
const EXPLICIT_BIG_ENDIAN = '1.2.840.10008.1.2.2';
const textVrs = new Set(['SH', 'LO', 'ST', 'LT', 'UC', 'UT', 'PN']);
const longLengthVrs = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/**
 * Parses a DICOM Part-10 file with dcmjs, and decodes its text by its Specific Character Set
 * (all of them, ISO 2022 included, which dcmjs refuses). `bytes` must own its ArrayBuffer
 * (dcmjs reads `bytes.buffer` whole, and the parser overwrites the character set in place).
 * Throws on a file dcmjs cannot read, with dcmjs's reason.
 */
export function parsePart10(bytes: Uint8Array): ParsedFile {
  if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) throw new TypeError('parsePart10 needs a view on a whole ArrayBuffer');
  if (bytes.length < 132 || String.fromCharCode(...bytes.subarray(128, 132)) !== 'DICM') {
    throw new Error('not a DICOM Part-10 file: no "DICM" prefix at byte 128');
  }
  // dcmjs decodes text with the first Specific Character Set only, and throws on several: blank
  // the value in place (same length) so that it reads every string byte for byte, then decode.
  const charset = locateSpecificCharacterSet(bytes);
  const charsets = charset ? latin1(bytes.subarray(charset.offset, charset.offset + charset.length)).split('\\').map((v) => v.trim()) : undefined;
  if (charset) bytes.fill(0x20, charset.offset, charset.offset + charset.length);
  const file = DicomMessage.readFile(bytes.buffer as ArrayBuffer, { ignoreErrors: false, untilTag: null, includeUntilTagValue: false, noCopy: true, forceStoreRaw: false });
  const dataset = file.dict as RawDataset;
  if (charsets) {
    dataset['00080005'] = { vr: 'CS', Value: charsets };
    decodeTexts(dataset, charsets);
  }
  const meta = file.meta as RawDataset;
  // dcmjs reads the group length to find the meta information's end, and leaves it out.
  const view = new DataView(bytes.buffer);
  if (!meta['00020000'] && view.getUint32(132, true) === 0x00000002) meta['00020000'] = { vr: 'UL', Value: [view.getUint32(140, true)] };
  return { meta, dataset };
}

function decodeTexts(dataset: RawDataset, charsets: readonly string[]): void {
  for (const element of Object.values(dataset)) {
    if (!element || !Array.isArray(element.Value)) continue;
    if (element.vr === 'SQ') {
      for (const item of element.Value) if (item && typeof item === 'object') decodeTexts(item as RawDataset, charsets);
    } else if (element.vr === 'PN') {
      element.Value = element.Value.map((name) => {
        if (!name || typeof name !== 'object') return name;
        const groups = name as Record<string, unknown>;
        return Object.fromEntries(Object.entries(groups).map(([key, text]) => [key, typeof text === 'string' ? decodeDicomText(bytesOfWindows1252(text), charsets, true) : text]));
      });
    } else if (textVrs.has(element.vr)) {
      element.Value = element.Value.map((text) => (typeof text === 'string' ? decodeDicomText(bytesOfWindows1252(text), charsets) : text));
    }
  }
}

const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);

/**
 * Where the value of the main dataset's Specific Character Set (0008,0005) lies in the file, found
 * by walking the few elements before it; undefined when there is none, or the file is deflated.
 */
function locateSpecificCharacterSet(bytes: Uint8Array): { offset: number; length: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fits = (position: number, size: number) => position + size <= bytes.length;
  if (!fits(132, 12) || view.getUint16(132, true) !== 0x0002 || view.getUint16(134, true) !== 0x0000) return undefined;
  const datasetStart = 144 + view.getUint32(140, true);
  // The file meta information: explicit VR little endian, always.
  let transferSyntax: string | undefined;
  for (let position = 132; fits(position, 8) && position < datasetStart; ) {
    const element = view.getUint16(position + 2, true);
    const vr = latin1(bytes.subarray(position + 4, position + 6));
    const long = longLengthVrs.has(vr);
    const header = long ? 12 : 8;
    if (!fits(position, header)) return undefined;
    const length = long ? view.getUint32(position + 8, true) : view.getUint16(position + 6, true);
    if (element === 0x0010) transferSyntax = latin1(bytes.subarray(position + header, position + header + length)).replace(/[\0 ]+$/, '');
    position += header + length;
  }
  if (!transferSyntax || transferSyntax === DEFLATED) return undefined;
  const little = transferSyntax !== EXPLICIT_BIG_ENDIAN;
  const explicit = transferSyntax !== IMPLICIT_LITTLE_ENDIAN;
  for (let position = datasetStart; fits(position, 8); ) {
    const group = view.getUint16(position, little);
    const element = view.getUint16(position + 2, little);
    if (group > 0x0008 || (group === 0x0008 && element > 0x0005)) return undefined;
    let header = 8;
    let length: number;
    if (explicit) {
      const long = longLengthVrs.has(latin1(bytes.subarray(position + 4, position + 6)));
      header = long ? 12 : 8;
      if (!fits(position, header)) return undefined;
      length = long ? view.getUint32(position + 8, little) : view.getUint16(position + 6, little);
    } else {
      length = view.getUint32(position + 4, little);
    }
    if (length === 0xffffffff || !fits(position + header, length)) return undefined;
    if (group === 0x0008 && element === 0x0005) return length > 0 ? { offset: position + header, length } : undefined;
    position += header + length;
  }
  return undefined;
}
