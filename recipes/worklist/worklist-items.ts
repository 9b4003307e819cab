import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import dcmjs from 'dcmjs';
import { compileDicomPattern, isDateOrTimeKey } from '../../shared/dicom-match.js';
import { queryValueText, type FindQuery } from '../../shared/find-scp.js';

const { DicomMessage, DicomMetaDictionary } = dcmjs.data;

/** A worklist item as dcmjs names it (keywords, sequences as arrays of items). */
export type WorklistItem = Record<string, unknown>;

/** Reads every `.wl` and `.json` item of `folder`; an unreadable file is reported and skipped. */
export async function readWorklistItems(folder: string, onBadFile: (file: string, reason: string) => void): Promise<WorklistItem[]> {
  const names = (await readdir(folder)).filter((name) => ['.wl', '.json'].includes(extname(name).toLowerCase())).sort();
  const items: WorklistItem[] = [];
  for (const name of names) {
    try {
      const bytes = await readFile(join(folder, name));
      items.push(extname(name).toLowerCase() === '.wl' ? fromDicom(bytes) : fromJson(bytes.toString('utf8')));
    } catch (error) {
      onBadFile(name, (error as Error).message);
    }
  }
  return items;
}

function fromDicom(bytes: Buffer): WorklistItem {
  const view = new Uint8Array(bytes).buffer;
  const dict = DicomMessage.readFile(view, { ignoreErrors: true });
  return DicomMetaDictionary.naturalizeDataset(dict.dict);
}

function fromJson(text: string): WorklistItem {
  const parsed = JSON.parse(text) as unknown;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('a worklist item is a JSON object');
  const keys = Object.keys(parsed);
  // The DICOM JSON model (`"00100010": { "vr": "PN", "Value": [...] }`) or keywords already.
  return keys.length > 0 && keys.every((key) => /^[0-9A-Fa-f]{8}$/.test(key))
    ? DicomMetaDictionary.naturalizeDataset(parsed as never)
    : (parsed as WorklistItem);
}

const isAttribute = (key: string) => key !== '_vrMap' && key !== 'SpecificCharacterSet' && /^[A-Za-z][A-Za-z0-9]*$/.test(key);
const itemsOf = (value: unknown): Record<string, unknown>[] =>
  (Array.isArray(value) ? value : value && typeof value === 'object' ? [value] : []).filter(
    (item): item is Record<string, unknown> => !!item && typeof item === 'object' && !Array.isArray(item) && !('Alphabetic' in item),
  );
const isSequence = (value: unknown) =>
  Array.isArray(value) &&
  value.length > 0 &&
  value.every((item) => item && typeof item === 'object' && !Array.isArray(item) && !('Alphabetic' in item));

/**
 * DICOM matching of one dataset against a query (PS3.4 C.2.2.2): each key with a value must
 * match (wildcards, lists, date and time ranges, case-insensitive as Orthanc does); a sequence in
 * the query matches when one item of the dataset's sequence matches its first item.
 */
export function matchesQuery(query: FindQuery, item: WorklistItem): boolean {
  for (const [key, wanted] of Object.entries(query)) {
    if (!isAttribute(key)) continue;
    if (isSequence(wanted)) {
      const [pattern] = itemsOf(wanted);
      const constrains =
        pattern !== undefined && Object.entries(pattern).some(([k, v]) => isAttribute(k) && (isSequence(v) || hasValue(v)));
      if (constrains && !itemsOf(item[key]).some((candidate) => matchesQuery(pattern, candidate))) return false;
      continue;
    }
    const pattern = queryValueText(wanted);
    if (pattern === undefined || !hasValue(wanted)) continue;
    const value = queryValueText(item[key]);
    if (!compileDicomPattern(pattern, { ranges: isDateOrTimeKey(key) })(value === undefined ? undefined : value.split('\\'))) return false;
  }
  return true;
}

const hasValue = (value: unknown): boolean => {
  const text = queryValueText(value);
  return text !== undefined && text !== '';
};

/** The answer to a query: the keys it asks for, from the item (sequences cut to the keys their first item asks for). */
export function answerFor(query: FindQuery, item: WorklistItem): FindQuery {
  const answer: FindQuery = { SpecificCharacterSet: 'ISO_IR 192' };
  for (const [key, wanted] of Object.entries(query)) {
    if (!isAttribute(key)) continue;
    const value = item[key];
    if (Array.isArray(wanted) && (isSequence(wanted) || isSequence(value))) {
      const [asked] = itemsOf(wanted);
      const keys = asked ? Object.keys(asked).filter(isAttribute) : [];
      answer[key] = itemsOf(value).map((entry) => (keys.length === 0 ? entry : Object.fromEntries(keys.map((k) => [k, entry[k] ?? '']))));
      continue;
    }
    answer[key] = value ?? '';
  }
  return answer;
}
