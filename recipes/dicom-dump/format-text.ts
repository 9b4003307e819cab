import dcmjs from 'dcmjs';
import type { RawDataset, RawElement } from './parse.js';

interface DictionaryEntry {
  name: string;
  vr: string;
}
const dictionary = (dcmjs.data.DicomMetaDictionary as unknown as { dictionary: Record<string, DictionaryEntry | undefined> }).dictionary;

/** Longest string shown whole; longer ones are cut and their length given. */
const MAX_TEXT = 128;
/** Most values of a multi-valued element shown. */
const MAX_VALUES = 16;
/** Binary values up to this size are shown byte by byte, as pydicom does. */
const MAX_INLINE_BYTES = 16;
const binaryVrs = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN', 'ox']);
const numericStringVrs = new Set(['DS', 'IS']);
const quotedVrs = new Set(['AE', 'AS', 'CS', 'DA', 'DT', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UR', 'UT', 'DS', 'IS']);

/** `(0010,0010)`, as pydicom writes tags. */
export function punctuate(tag: string): string {
  const upper = tag.toUpperCase();
  return `(${upper.slice(0, 4)},${upper.slice(4, 8)})`;
}

/** The element's keyword: dcmjs's dictionary, repeating groups (`60xx`) included, or what kind of private tag it is. */
export function keywordOf(tag: string): string {
  return dictionaryEntry(tag)?.name ?? unknownKeyword(tag);
}

function dictionaryEntry(tag: string): DictionaryEntry | undefined {
  const group = parseInt(tag.slice(0, 4), 16);
  if (group % 2 === 1) return undefined;
  const punctuated = punctuate(tag);
  // Repeating groups: curves (50xx), overlays (60xx), retired pixel data groups (7Fxx).
  const repeating = (group & 0xff00) === 0x5000 || (group & 0xff00) === 0x6000 || (group & 0xff00) === 0x7f00;
  return dictionary[punctuated] ?? (repeating ? dictionary[`(${punctuated.slice(1, 3)}xx,${punctuated.slice(6, 10)})`] : undefined);
}

function unknownKeyword(tag: string): string {
  const group = parseInt(tag.slice(0, 4), 16);
  const element = parseInt(tag.slice(4, 8), 16);
  if (element === 0) return 'GroupLength';
  if (group % 2 === 1) return element >= 0x10 && element <= 0xff ? 'PrivateCreator' : 'PrivateTagData';
  return 'UnknownTag';
}

/**
 * dcmjs reads the VRs it does not know (OL, OV, SV) as UN, bytes as they are: the dictionary
 * names the real one. Multi-VR entries ("US or SS") are left as dcmjs read them.
 */
const vrsDcmjsLacks = new Set(['OL', 'OV', 'SV', 'UV']);
function shownVr(tag: string, element: RawElement): string {
  if (element.vr === 'ox') return 'OW';
  const known = element.vr === 'UN' ? dictionaryEntry(tag)?.vr : undefined;
  return known && vrsDcmjsLacks.has(known) ? known : element.vr;
}

/**
 * A readable dump of a dataset in the spirit of pydicom's `str(dataset)`: the file meta
 * information first, then one element a line, `(gggg,eeee) Keyword VR: value`, sequences
 * indented by item, long and binary values summarized.
 */
export function formatDump(meta: RawDataset, dataset: RawDataset): string {
  const lines = ['Dataset.file_meta -------------------------------'];
  formatDataset(meta, '', lines, { encapsulated: false, littleEndian: true });
  lines.push('-------------------------------------------------');
  const syntaxValue = meta['00020010']?.Value?.[0];
  const transferSyntax = (typeof syntaxValue === 'string' ? syntaxValue : '').replace(/\0+$/, '');
  formatDataset(dataset, '', lines, {
    encapsulated: !nativeTransferSyntaxes.has(transferSyntax),
    littleEndian: transferSyntax !== '1.2.840.10008.1.2.2',
  });
  return `${lines.join('\n')}\n`;
}

/** Transfer syntaxes whose pixel data are native, not encapsulated (compressed). */
const nativeTransferSyntaxes = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99']);

interface Encoding {
  /** The pixel data are compressed (fragments). */
  encapsulated: boolean;
  littleEndian: boolean;
}

function formatDataset(dataset: RawDataset, indent: string, lines: string[], encoding: Encoding): void {
  for (const tag of Object.keys(dataset).sort()) {
    const element = dataset[tag]!;
    const vr = shownVr(tag, element);
    const head = `${indent}${punctuate(tag)} ${keywordOf(tag).padEnd(35)} ${vr}: `;
    if (element.vr === 'SQ') {
      const items = (element.Value ?? []) as RawDataset[];
      lines.push(`${head}${items.length} item(s) ----`);
      for (const item of items) {
        formatDataset(item ?? {}, `${indent}   `, lines, { ...encoding, encapsulated: false });
        lines.push(`${indent}   ---------`);
      }
    } else {
      const pixelData = indent === '' && tag.toUpperCase() === '7FE00010';
      lines.push(head + formatValue(vr, element, encoding.encapsulated && pixelData, encoding.littleEndian));
    }
  }
}

function formatValue(vr: string, element: RawElement, encapsulated: boolean, littleEndian: boolean): string {
  let values = element.Value ?? [];
  if (encapsulated) {
    const total = values.reduce<number>((sum, v) => sum + byteLength(v), 0);
    // dcmjs gives one buffer a frame: its fragments joined, the offset table left out.
    return `Encapsulated: ${values.length} frame(s), ${total} bytes`;
  }
  if ((vr === 'SV' || vr === 'UV') && element.vr === 'UN') values = decode64(values, vr === 'SV', littleEndian);
  else if (binaryVrs.has(vr) || values.some((v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v))) return formatBinary(values);
  // DS and IS as the file writes them ("2.50", not 2.5), when dcmjs kept the strings.
  const shown: unknown[] =
    numericStringVrs.has(element.vr) && Array.isArray(element._rawValue) && element._rawValue.length === values.length
      ? (element._rawValue as unknown[]).map((v) => (typeof v === 'string' ? v.trim() : v))
      : values;
  if (shown.length === 0) return quotedVrs.has(element.vr) || element.vr === 'UI' ? "''" : 'None';
  const rendered = shown.slice(0, MAX_VALUES).map((value) => formatOne(vr, value));
  if (shown.length === 1) return rendered[0]!;
  const more = shown.length > MAX_VALUES ? `, … (${shown.length} values)` : '';
  return `[${rendered.join(', ')}${more}]`;
}

function formatOne(vr: string, value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (vr === 'PN' && typeof value === 'object') {
    const name = value as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
    return quote([name.Alphabetic ?? '', name.Ideographic ?? '', name.Phonetic ?? ''].join('=').replace(/=+$/, ''));
  }
  if (vr === 'AT' && typeof value === 'number') return punctuate(value.toString(16).padStart(8, '0'));
  if (vr === 'UI' && typeof value === 'string') return value.replace(/[ \0]+$/, '');
  // Trailing spaces (and NULs in UIs) are padding, never part of a value.
  if (typeof value === 'string') return quote(value.replace(/[ \0]+$/, ''));
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

function quote(text: string): string {
  const cut = text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}… (${text.length} characters)` : text;
  return `'${cut.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\r/g, '\\r').replace(/\n/g, '\\n')}'`;
}

/** 64-bit integers from the bytes dcmjs kept of an SV or UV element. */
function decode64(values: unknown[], signed: boolean, littleEndian: boolean): bigint[] {
  const decoded: bigint[] = [];
  for (const value of values) {
    if (!(value instanceof ArrayBuffer) && !ArrayBuffer.isView(value)) continue;
    const view = value instanceof ArrayBuffer ? new DataView(value) : new DataView(value.buffer, value.byteOffset, value.byteLength);
    for (let offset = 0; offset + 8 <= view.byteLength; offset += 8)
      decoded.push(signed ? view.getBigInt64(offset, littleEndian) : view.getBigUint64(offset, littleEndian));
  }
  return decoded;
}

const byteLength = (value: unknown) => (value instanceof ArrayBuffer || ArrayBuffer.isView(value) ? value.byteLength : 0);

function formatBinary(values: unknown[]): string {
  const total = values.reduce<number>((sum, v) => sum + byteLength(v), 0);
  const [first] = values;
  if (values.length === 1 && total <= MAX_INLINE_BYTES && first !== undefined) {
    const bytes =
      first instanceof ArrayBuffer
        ? new Uint8Array(first)
        : new Uint8Array((first as ArrayBufferView).buffer, (first as ArrayBufferView).byteOffset, total);
    return `b'${[...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}'`;
  }
  return `Array of ${total} bytes`;
}
