/**
 * DICOM-style matching of one value against one pattern, as Orthanc's `/tools/find` does it:
 * - a list `CT\MR` matches when any of its items matches;
 * - `*` matches any run of characters and `?` any one character, `/` included (minimatch is not
 *   used here: it matches file paths, and its `*` never crosses a `/`, so `CT/ABDOMEN` would not
 *   match `CT*`);
 * - with `ranges`, an item `a-b`, `a-` or `-b` is an inclusive range of dates or times; each bound
 *   is compared with the value's prefix of the bound's length, so `-20241231` keeps every time of
 *   that day (`20241231T235959`);
 * - an empty pattern, or an item of stars only, matches everything; a missing value counts as an
 *   empty string (so an empty list item, as in `CT\`, matches it);
 * - case-insensitive by default, after removing accents (Orthanc's `ToUpperCaseWithAccents`).
 *
 * Matching takes at most (pattern length × value length) steps, with no regular expression and no
 * exponential back-tracking, so patterns may come from requests as well as from files.
 */
export interface MatchOptions {
  /** Compare letters exactly; false (the default) folds case and accents. */
  caseSensitive?: boolean;
  /** Read `a-b` items as ranges (for dates and times); false matches `-` literally. */
  ranges?: boolean;
}

/** A compiled pattern. An array is a multi-valued attribute: it matches when any element matches. */
export type ValueMatcher = (value: string | readonly string[] | undefined) => boolean;

/** A pattern that cannot be used, e.g. a range with a wildcard in it. */
export class DicomPatternError extends Error {
  constructor(
    readonly pattern: string,
    reason: string,
  ) {
    super(`invalid pattern "${pattern}": ${reason}`);
    this.name = 'DicomPatternError';
  }
}

const fold = (text: string): string => text.normalize('NFD').replace(/\p{M}/gu, '').toUpperCase();

/** Compiles `pattern`; throws `DicomPatternError` when it cannot be used. */
export function compileDicomPattern(pattern: string, options: MatchOptions = {}): ValueMatcher {
  const normalize = options.caseSensitive ? (text: string) => text : fold;
  if (pattern === '') return () => true;
  const items = pattern.split('\\');
  if (items.some((item) => /^\*+$/.test(item))) return () => true;
  const tests = items.map((item) => compileItem(pattern, item, normalize, options.ranges ?? false));
  const matchOne = (value: string) => {
    const normalized = normalize(value);
    return tests.some((test) => test(normalized));
  };
  return (value) => {
    if (value === undefined) return matchOne('');
    return typeof value === 'string' ? matchOne(value) : value.some(matchOne);
  };
}

/** One-off form of `compileDicomPattern`. */
export function matchesDicom(pattern: string, value: string | readonly string[] | undefined, options?: MatchOptions): boolean {
  return compileDicomPattern(pattern, options)(value);
}

function compileItem(pattern: string, item: string, normalize: (text: string) => string, ranges: boolean): (value: string) => boolean {
  if (ranges && item.includes('-')) {
    const bounds = item.split('-');
    if (bounds.length !== 2)
      throw new DicomPatternError(pattern, `"${item}" has more than one "-"; a range is "from-to", "from-" or "-to"`);
    if (/[*?]/.test(item)) throw new DicomPatternError(pattern, `a range cannot hold wildcards ("${item}")`);
    const [low, high] = bounds as [string, string];
    return (value) =>
      value !== '' && (low === '' || value.slice(0, low.length) >= low) && (high === '' || value.slice(0, high.length) <= high);
  }
  const wanted = Array.from(normalize(item));
  if (!wanted.includes('*') && !wanted.includes('?')) {
    const exact = wanted.join('');
    return (value) => value === exact;
  }
  return (value) => globMatch(wanted, Array.from(value));
}

/** `*` and `?` matching by the classic two-pointer walk: no back-tracking beyond the last star. */
function globMatch(pattern: readonly string[], value: readonly string[]): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (p < pattern.length && (pattern[p] === '?' || (pattern[p] !== '*' && pattern[p] === value[v]))) {
      p += 1;
      v += 1;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p;
      resume = v;
      p += 1;
    } else if (star >= 0) {
      p = star + 1;
      resume += 1;
      v = resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p += 1;
  return p === pattern.length;
}

/**
 * Whether a key names a date or time, whose patterns may be ranges: DICOM keywords ending in
 * `Date`, `Time` or `DateTime` (`StudyDate`, `AcquisitionDateTime`), and Orthanc's metadata
 * `LastUpdate` and `ReceptionDate` (`20241005T120000`).
 */
export function isDateOrTimeKey(key: string): boolean {
  return /(Date|Time)$/.test(key) || key === 'LastUpdate';
}

/** A filter as written in a configuration: key (DICOM keyword or metadata name) → pattern. */
export type DicomFilter = Readonly<Record<string, string>>;

/** The values a filter is matched against; an array for a multi-valued key (`ModalitiesInStudy`). */
export type FilterLookup = (key: string) => string | readonly string[] | undefined;

/**
 * Compiles every pattern of a filter (ranges for date and time keys); the result is true when
 * every key matches. Throws `DicomPatternError` naming the first bad pattern; `checkDicomFilter`
 * reports all of them.
 */
export function compileDicomFilter(filter: DicomFilter, options: { caseSensitive?: boolean } = {}): (lookup: FilterLookup) => boolean {
  const matchers = Object.entries(filter).map(
    ([key, pattern]) =>
      [key, compileDicomPattern(pattern, { caseSensitive: options.caseSensitive, ranges: isDateOrTimeKey(key) })] as const,
  );
  return (lookup) => matchers.every(([key, matches]) => matches(lookup(key)));
}

/** Every bad pattern of a filter, by key, for configuration errors; empty when all compile. */
export function checkDicomFilter(filter: DicomFilter): { key: string; message: string }[] {
  const problems: { key: string; message: string }[] = [];
  for (const [key, pattern] of Object.entries(filter)) {
    try {
      compileDicomPattern(pattern, { ranges: isDateOrTimeKey(key) });
    } catch (error) {
      problems.push({ key, message: (error as Error).message });
    }
  }
  return problems;
}
