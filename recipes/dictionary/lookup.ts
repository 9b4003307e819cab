import dcmjs from 'dcmjs';

const { DicomMetaDictionary } = dcmjs.data;

/** One entry of the standard DICOM dictionary, as the route answers it. */
export interface DictionaryAnswer {
  /** `gggg,eeee`, upper-case hexadecimal, as Orthanc writes tags. */
  Tag: string;
  Group: number;
  Element: number;
  /** The DICOM keyword (PS3.6), without dcmjs's `RETIRED_` prefix. */
  Keyword: string;
  /** dcmjs carries keywords only, no descriptive names: `Name` is the keyword, as in DCMTK (Orthanc's dictionary). */
  Name: string;
  /** The value representation; an element that may take several is written as PS3.6 does (`OB or OW`). */
  VR: string;
  /** The value multiplicity as PS3.6 writes it (`1`, `1-n`, `2-2n`). */
  VM: string;
  MinMultiplicity: number;
  /** 0 when unbounded (`n`), as Orthanc's `LookupDictionary` answers. */
  MaxMultiplicity: number;
  Retired: boolean;
}

export type LookupResult = { found: DictionaryAnswer } | { status: 400 | 404; message: string };

/**
 * dcmjs writes the elements that may take several VRs, or none, with lower-case pseudo-VRs
 * (DCMTK's names); PS3.6 writes them as below.
 */
const pseudoVrs: Readonly<Record<string, string>> = {
  ox: 'OB or OW',
  xs: 'US or SS',
  lt: 'US or SS or OW',
  up: 'UL',
  na: '',
};

const tagPattern = /^([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})$/;
const keywordPattern = /^[A-Za-z][A-Za-z0-9]{0,99}$/;
const RETIRED = 'RETIRED_';

/**
 * Looks up `key`: a keyword (`PatientName`, case-sensitive as PS3.6) or a tag (`0010,0010` or
 * `00100010`). Only own entries of dcmjs's keyword map count: `toString` or `__proto__` are
 * not DICOM keywords.
 */
export function lookup(key: string): LookupResult {
  const tag = tagPattern.exec(key);
  if (tag) return lookupTag(tag[1]!.toUpperCase(), tag[2]!.toUpperCase());
  if (!keywordPattern.test(key)) {
    return {
      status: 400,
      message: `"${key.slice(0, 100)}" is neither a DICOM keyword (letters and digits, e.g. PatientName) nor a tag (gggg,eeee in hexadecimal, e.g. 0010,0010)`,
    };
  }
  const entry = ownEntry(DicomMetaDictionary.nameMap, key) ?? ownEntry(DicomMetaDictionary.nameMap, RETIRED + key);
  // dcmjs 0.51 has one entry whose keyword it lost, (300A,0782) as "RETIRED_undefined".
  if (!entry || key === 'undefined') return { status: 404, message: `no DICOM keyword ${key} in the standard dictionary` };
  return { found: toAnswer(entry) };
}

function lookupTag(group: string, element: string): LookupResult {
  const tag = `${group},${element}`;
  // Odd groups are private: their meaning depends on the private creator, not on the standard.
  if (parseInt(group, 16) % 2 === 1) return { status: 404, message: `${tag} is a private tag, not in the standard dictionary` };
  // dcmjs's dictionary is a Proxy that parses the key with parseInt: the key must be checked
  // hexadecimal before (it would read `(0028,04x2)` as (0028,0004)), as tagPattern did.
  const entry = DicomMetaDictionary.dictionary[`(${tag})`];
  if (!entry) return { status: 404, message: `no tag ${tag} in the standard dictionary` };
  return { found: toAnswer(entry, tag) };
}

function ownEntry<T>(map: Record<string, T | undefined>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;
}

function toAnswer(entry: { tag: string; vr: string; vm: string; name: string }, tag?: string): DictionaryAnswer {
  // The tag asked for wins: a repeating group's entry (60xx,0010) is answered for 6002,0010.
  const found = tag ?? entry.tag.replace(/[()]/g, '').toUpperCase();
  const retired = entry.name.startsWith(RETIRED);
  const named = retired ? entry.name.slice(RETIRED.length) : entry.name;
  const keyword = named === 'undefined' ? '' : named;
  const [min, max] = multiplicity(entry.vm);
  return {
    Tag: found,
    Group: parseInt(found.slice(0, 4), 16),
    Element: parseInt(found.slice(5, 9), 16),
    Keyword: keyword,
    Name: keyword,
    VR: pseudoVrs[entry.vr] ?? entry.vr,
    VM: entry.vm,
    MinMultiplicity: min,
    MaxMultiplicity: max,
    Retired: retired,
  };
}

/** `1` → [1, 1]; `1-3` → [1, 3]; `1-n`, `2-2n` → [1 or 2, 0] (0: unbounded). */
function multiplicity(vm: string): [number, number] {
  const [low, high] = vm.split('-');
  const min = Number.parseInt(low!, 10);
  if (high === undefined) return [min, min];
  return [min, /n$/.test(high) ? 0 : Number.parseInt(high, 10)];
}
