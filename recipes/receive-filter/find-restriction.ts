import type { FindRequestQuery } from '../../shared/binding/index.js';
import { isDateOrTimeKey, matchesDicom } from '../../shared/dicom-match.js';

/**
 * Orthanc's main DICOM tags of the patient and study levels, the keys a C-FIND restriction may
 * use: keyword → [the tag as Orthanc's Lua writes it, its level]. Orthanc matches these from its
 * index at the study level and below; other tags are matched, if at all, on one instance's file.
 */
const restrictableTags: Readonly<Record<string, readonly [string, number]>> = {
  PatientName: ['0010,0010', 0],
  PatientID: ['0010,0020', 0],
  PatientBirthDate: ['0010,0030', 0],
  PatientSex: ['0010,0040', 0],
  OtherPatientIDs: ['0010,1000', 0],
  StudyDate: ['0008,0020', 1],
  StudyTime: ['0008,0030', 1],
  AccessionNumber: ['0008,0050', 1],
  InstitutionName: ['0008,0080', 1],
  ReferringPhysicianName: ['0008,0090', 1],
  StudyDescription: ['0008,1030', 1],
  StudyInstanceUID: ['0020,000d', 1],
  StudyID: ['0020,0010', 1],
  RequestingPhysician: ['0032,1032', 1],
  RequestedProcedureDescription: ['0032,1060', 1],
};

const levels: Readonly<Record<string, number>> = { PATIENT: 0, STUDY: 1, SERIES: 2, IMAGE: 3 };

export const restrictableKeywords = Object.keys(restrictableTags);

/** The key of a restriction that no restriction may use, with why; for the recipe's `check`. */
export function checkRestrictionFilter(filter: Readonly<Record<string, string>>): { key: string; message: string }[] {
  return Object.keys(filter)
    .filter((key) => !Object.hasOwn(restrictableTags, key))
    .map((key) => ({ key, message: `a C-FIND restriction may use ${restrictableKeywords.join(', ')}` }));
}

/**
 * The C-FIND query with `filter` imposed on it, or the reason it must be refused. A key the
 * caller leaves open (absent, empty or `*`) takes the restriction's pattern. A key the caller
 * constrains itself is kept only when each of its values is exact (no wildcard, no range) and
 * matches the restriction, compared case-sensitively; any other constraint is refused rather
 * than widened. A query above the restriction's level (a PATIENT query under a study-level
 * restriction) is refused too: Orthanc would not apply a study's tag to patients.
 */
export function restrictFindQuery(
  query: FindRequestQuery,
  filter: Readonly<Record<string, string>>,
): { query: FindRequestQuery } | { refused: string } {
  const levelName = (query['0008,0052'] ?? '').trim().toUpperCase();
  const level = Object.hasOwn(levels, levelName) ? levels[levelName]! : undefined;
  if (level === undefined) return { refused: 'no known QueryRetrieveLevel' };
  const restricted: FindRequestQuery = { ...query };
  for (const [keyword, pattern] of Object.entries(filter)) {
    const [tag, tagLevel] = restrictableTags[keyword]!;
    if (level < tagLevel) return { refused: `a ${levelName} query under a restriction on ${keyword}` };
    // Orthanc writes tags in lower-case hex; a caller's key may differ in case only through another filter.
    const key = Object.keys(restricted).find((name) => name.toLowerCase() === tag) ?? tag;
    const asked = (restricted[key] ?? '').trim();
    if (asked === '' || /^\*+$/.test(asked)) {
      delete restricted[key];
      restricted[tag] = pattern;
      continue;
    }
    const ranges = isDateOrTimeKey(keyword);
    const exact = asked
      .split('\\')
      .every(
        (item) => !/[*?]/.test(item) && !(ranges && item.includes('-')) && matchesDicom(pattern, item, { caseSensitive: true, ranges }),
      );
    if (!exact) return { refused: `its own ${keyword} constraint is not within the restriction` };
  }
  return { query: restricted };
}
