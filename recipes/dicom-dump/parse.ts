import dcmjs from 'dcmjs';
import { inflateRawSync } from 'node:zlib';
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
  /** The bytes dcmjs read (the file's, or the file with its dataset inflated): the dataset's values are views on them. */
  buffer: ArrayBuffer;
}

export interface ParseOptions {
  /** Most bytes a deflated dataset may inflate to; more throws `InflatedTooLarge`. Default: no limit. */
  maxInflatedBytes?: number;
}

/** A deflated dataset inflates to more than `ParseOptions.maxInflatedBytes`: inflating stopped there. */
export class InflatedTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the deflated dataset inflates to more than ${limit} bytes`);
    this.name = 'InflatedTooLarge';
  }
}

export const DEFLATED = '1.2.840.10008.1.2.1.99';
const IMPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2';
const EXPLICIT_BIG_ENDIAN = '1.2.840.10008.1.2.2';
const EXPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const textVrs = new Set(['SH', 'LO', 'ST', 'LT', 'UC', 'UT', 'PN']);
const longLengthVrs = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/**
 * Parses a DICOM Part-10 file with dcmjs, and decodes its text by its Specific Character Set
 * (all of them, ISO 2022 included, which dcmjs refuses). `bytes` must own its ArrayBuffer
 * (dcmjs reads `bytes.buffer` whole, and the parser overwrites the character set in place).
 * Throws on a file dcmjs cannot read, with dcmjs's reason.
 */
export function parsePart10(file: Uint8Array, options: ParseOptions = {}): ParsedFile {
  let bytes = file;
  if (file.byteOffset !== 0 || file.byteLength !== file.buffer.byteLength)
    throw new TypeError('parsePart10 needs a view on a whole ArrayBuffer');
  if (bytes.length < 132 || String.fromCharCode(...bytes.subarray(128, 132)) !== 'DICM') {
    throw new Error('not a DICOM Part-10 file: no "DICM" prefix at byte 128');
  }
  // dcmjs inflates a deflated dataset itself, but then decodes the text of sequence items as
  // windows-1252 whatever the character set: inflate it here and read it as explicit VR.
  const header = readFileMeta(bytes);
  if (header?.transferSyntax === DEFLATED) bytes = inflateDataset(bytes, header, options.maxInflatedBytes ?? Infinity);
  // dcmjs reads a value cut short by the end of the file without a word: check first.
  if (header) checkComplete(bytes, header);
  // dcmjs decodes text with the first Specific Character Set only, and throws on several: blank
  // the value in place (same length) so that it reads every string byte for byte, then decode.
  const charset = locateSpecificCharacterSet(bytes);
  const charsets = charset
    ? latin1(bytes.subarray(charset.offset, charset.offset + charset.length))
        .split('\\')
        .map((v) => v.trim())
    : undefined;
  if (charset) bytes.fill(0x20, charset.offset, charset.offset + charset.length);
  const read = DicomMessage.readFile(bytes.buffer as ArrayBuffer, {
    ignoreErrors: false,
    untilTag: null,
    includeUntilTagValue: false,
    noCopy: true,
    forceStoreRaw: false,
  });
  const dataset = read.dict as RawDataset;
  if (charsets) {
    dataset['00080005'] = { vr: 'CS', Value: charsets };
    decodeTexts(dataset, charsets);
  }
  const meta = read.meta as RawDataset;
  if (header?.transferSyntax === DEFLATED) meta['00020010'] = { vr: 'UI', Value: [DEFLATED] };
  // dcmjs reads the group length to find the meta information's end, and leaves it out.
  const view = new DataView(bytes.buffer);
  if (!meta['00020000'] && view.getUint32(132, true) === 0x00000002) meta['00020000'] = { vr: 'UL', Value: [view.getUint32(140, true)] };
  return { meta, dataset, buffer: bytes.buffer as ArrayBuffer };
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
        return Object.fromEntries(
          Object.entries(groups).map(([key, text]) => [
            key,
            typeof text === 'string' ? decodeDicomText(bytesOfWindows1252(text), charsets, true) : text,
          ]),
        );
      });
    } else if (textVrs.has(element.vr)) {
      element.Value = element.Value.map((text) => (typeof text === 'string' ? decodeDicomText(bytesOfWindows1252(text), charsets) : text));
    }
  }
}

const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);

interface FileMeta {
  /** Where the dataset starts, after the file meta information. */
  datasetStart: number;
  transferSyntax: string;
  /** Where the transfer syntax UID's value lies, and its length. */
  transferSyntaxAt: { offset: number; length: number };
}

/** The file meta information's end and transfer syntax; undefined without a meta group length. */
function readFileMeta(bytes: Uint8Array): FileMeta | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fits = (position: number, size: number) => position + size <= bytes.length;
  if (!fits(132, 12) || view.getUint16(132, true) !== 0x0002 || view.getUint16(134, true) !== 0x0000) return undefined;
  const datasetStart = 144 + view.getUint32(140, true);
  // The file meta information: explicit VR little endian, always.
  for (let position = 132; fits(position, 8) && position < datasetStart;) {
    const element = view.getUint16(position + 2, true);
    const long = longLengthVrs.has(latin1(bytes.subarray(position + 4, position + 6)));
    const header = long ? 12 : 8;
    if (!fits(position, header)) return undefined;
    const length = long ? view.getUint32(position + 8, true) : view.getUint16(position + 6, true);
    if (element === 0x0010 && fits(position + header, length)) {
      const transferSyntax = latin1(bytes.subarray(position + header, position + header + length)).replace(/[\0 ]+$/, '');
      return { datasetStart, transferSyntax, transferSyntaxAt: { offset: position + header, length } };
    }
    position += header + length;
  }
  return undefined;
}

/**
 * The file with its dataset inflated and its transfer syntax made explicit VR little endian.
 * zlib stops as soon as the output passes `maxBytes`: a deflate bomb costs that much, no more.
 */
function inflateDataset(bytes: Uint8Array, meta: FileMeta, maxBytes: number): Uint8Array {
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(
      bytes.subarray(meta.datasetStart),
      Number.isFinite(maxBytes) ? { maxOutputLength: Math.max(1, Math.floor(maxBytes)) } : {},
    );
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new InflatedTooLarge(maxBytes);
    throw new Error(`the deflated dataset cannot be inflated: ${(error as Error).message}`, { cause: error });
  }
  const file = new Uint8Array(meta.datasetStart + inflated.length);
  file.set(bytes.subarray(0, meta.datasetStart));
  file.set(inflated, meta.datasetStart);
  releaseBuffer(inflated);
  const { offset, length } = meta.transferSyntaxAt;
  file.fill(0, offset, offset + length);
  file.set(Buffer.from(EXPLICIT_LITTLE_ENDIAN, 'latin1'), offset);
  return file;
}

/**
 * Frees a large buffer's memory now rather than at the next garbage collection (an idle worker
 * thread may not collect for a long time): detaches it, when it is a whole ArrayBuffer and the
 * runtime can (`ArrayBuffer.prototype.transfer`, Node 22+; on Node 20 it waits for the GC).
 * Views on it become empty.
 */
export function releaseBuffer(bytes: ArrayBuffer | Uint8Array): void {
  const buffer =
    bytes instanceof ArrayBuffer
      ? bytes
      : bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
        ? bytes.buffer
        : undefined;
  const transferable = buffer as (ArrayBuffer & { transfer?: (length: number) => ArrayBuffer; detached?: boolean }) | undefined;
  if (transferable instanceof ArrayBuffer && transferable.detached !== true && typeof transferable.transfer === 'function')
    transferable.transfer(0);
}

/**
 * Where the value of the main dataset's Specific Character Set (0008,0005) lies in the file, found
 * by walking the few elements before it; undefined when there is none.
 */
function locateSpecificCharacterSet(bytes: Uint8Array): { offset: number; length: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fits = (position: number, size: number) => position + size <= bytes.length;
  const meta = readFileMeta(bytes);
  if (!meta || meta.transferSyntax === DEFLATED) return undefined;
  const little = meta.transferSyntax !== EXPLICIT_BIG_ENDIAN;
  const explicit = meta.transferSyntax !== IMPLICIT_LITTLE_ENDIAN;
  for (let position = meta.datasetStart; fits(position, 8);) {
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

/**
 * Walks the dataset's elements (into sequences of undefined length) and throws when one runs
 * past the end of the file. Anything else unusual is left to dcmjs to judge.
 */
function checkComplete(bytes: Uint8Array, meta: FileMeta): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = meta.transferSyntax !== EXPLICIT_BIG_ENDIAN;
  const end = bytes.length;
  const tagAt = (position: number, le: boolean) =>
    `(${view.getUint16(position, le).toString(16).padStart(4, '0')},${view
      .getUint16(position + 2, le)
      .toString(16)
      .padStart(4, '0')})`.toUpperCase();
  const truncated = (what: string, position: number, needed: number): never => {
    throw new Error(`the file is truncated: ${what} at byte ${position} needs ${needed} bytes, the file ends at byte ${end}`);
  };
  /** Elements from `position`; returns after an item delimiter when `inItem`, or at the end. */
  const elements = (position: number, explicit: boolean, le: boolean, inItem: boolean, depth: number): number | undefined => {
    while (position < end) {
      if (position + 8 > end) return truncated('an element header', position, 8);
      const group = view.getUint16(position, le);
      const element = view.getUint16(position + 2, le);
      if (group === 0xfffe && element === 0xe00d && inItem) return position + 8;
      let header = 8;
      let length: number;
      let vr = '';
      if (explicit && group !== 0xfffe) {
        vr = latin1(bytes.subarray(position + 4, position + 6));
        if (!/^[A-Z]{2}$/.test(vr)) return undefined;
        header = longLengthVrs.has(vr) ? 12 : 8;
        if (position + header > end) return truncated(`element ${tagAt(position, le)}`, position, header);
        length = header === 12 ? view.getUint32(position + 8, le) : view.getUint16(position + 6, le);
      } else {
        length = view.getUint32(position + 4, le);
      }
      if (length === 0xffffffff) {
        if (depth > 64) return undefined;
        // Undefined length: a sequence, encapsulated pixel data, or UN holding implicit VR items.
        const next = items(position + header, vr === 'UN' ? false : explicit, vr === 'UN' ? true : le, depth + 1);
        if (next === undefined) return undefined;
        position = next;
        continue;
      }
      if (position + header + length > end) return truncated(`element ${tagAt(position, le)}`, position, header + length);
      position += header + length;
    }
    return inItem ? truncated('an item without its delimiter', position, 8) : position;
  };
  /** Items from `position` up to and after the sequence delimiter. */
  const items = (position: number, explicit: boolean, le: boolean, depth: number): number | undefined => {
    for (;;) {
      if (position + 8 > end) return truncated('a sequence without its delimiter', position, 8);
      if (view.getUint16(position, le) !== 0xfffe) return undefined;
      const element = view.getUint16(position + 2, le);
      const length = view.getUint32(position + 4, le);
      if (element === 0xe0dd) return position + 8;
      if (element !== 0xe000) return undefined;
      if (length === 0xffffffff) {
        const next = elements(position + 8, explicit, le, true, depth);
        if (next === undefined) return undefined;
        position = next;
      } else {
        if (position + 8 + length > end) return truncated('an item', position, 8 + length);
        position += 8 + length;
      }
    }
  };
  elements(meta.datasetStart, meta.transferSyntax !== IMPLICIT_LITTLE_ENDIAN, little, false, 0);
}
