import { RE2JS, RE2JSException } from 're2js';
import { compileDicomPattern, DicomPatternError, isDateOrTimeKey } from '../../shared/dicom-match.js';

export type MatchingMode = 'Regex' | 'Wildcard';

/** One `Metadata` entry of a request, compiled. */
export interface MetadataFilter {
  name: string;
  pattern: string;
  /** Whether a metadata value (`''` when the resource has none) matches. */
  test(value: string): boolean;
  /**
   * The same constraint as a pattern of Orthanc's own `MetadataQuery` (1.12.5+), when Orthanc
   * gives exactly the same answers for it; undefined when only a scan can answer it.
   */
  native: string | undefined;
  /**
   * What testing one value costs, roughly, per character of the value: the regular expression's
   * program size (RE2 instructions), or a wildcard pattern's length. Requests are capped on it.
   */
  size: number;
}

export class PatternError extends Error {}

/**
 * Compiles one pattern.
 * - `Regex`: a regular expression matched at the start of the value, like Python's `re.match`,
 *   by re2js (RE2's linear-time automaton: no back-tracking, so no pattern can stall the host).
 *   Case-sensitive unless it starts with `(?i)`. RE2 syntax: no look-around, no back-references;
 *   `$` matches at the very end only (Python's also matches before a final newline).
 * - `Wildcard`: the shared DICOM matcher (`*`, `?`, lists with `\`, ranges for `LastUpdate` and
 *   `ReceptionDate`), case-insensitive unless `caseSensitive`. Case is folded for ASCII letters
 *   only, as Orthanc's `MetadataQuery` does (`ÉRIC` matches `Éric`, not `éric` nor `Eric`).
 */
export function compileMetadataFilter(name: string, pattern: string, mode: MatchingMode, caseSensitive: boolean): MetadataFilter {
  return mode === 'Regex' ? compileRegex(name, pattern, caseSensitive) : compileWildcard(name, pattern, caseSensitive);
}

function compileRegex(name: string, pattern: string, caseSensitive: boolean): MetadataFilter {
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(pattern);
  } catch (error) {
    if (error instanceof RE2JSException) throw new PatternError(`invalid regular expression: ${error.message}`);
    throw error;
  }
  return {
    name,
    pattern,
    test: (value) => regex.matcher(value).lookingAt(),
    native: nativeFromRegex(pattern, caseSensitive),
    size: regex.programSize(),
  };
}

const asciiUpper = (text: string) => text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());

function compileWildcard(name: string, pattern: string, caseSensitive: boolean): MetadataFilter {
  const ranges = isDateOrTimeKey(name);
  let matches: (value: string) => boolean;
  try {
    const compiled = compileDicomPattern(caseSensitive ? pattern : asciiUpper(pattern), { caseSensitive: true, ranges });
    matches = caseSensitive ? (value) => compiled(value) : (value) => compiled(asciiUpper(value));
  } catch (error) {
    if (error instanceof DicomPatternError) throw new PatternError(error.message);
    throw error;
  }
  // Orthanc's MetadataQuery never matches a resource that lacks the metadata (except for an empty
  // pattern, which is no constraint at all), where a missing value here is an empty string; and
  // it has no ranges. Those patterns stay with the scan.
  const differs = (pattern !== '' && matches('')) || (ranges && pattern.includes('-'));
  return { name, pattern, test: matches, native: differs ? undefined : pattern, size: Math.max(1, pattern.length) };
}

/** Regular-expression characters that are plain once escaped with a backslash. */
const escapable = new Set('\\^$.|?*+()[]{}-/#&~!@%=:;,<>\'"` _');
/** Characters special to Orthanc's MetadataQuery, which it offers no escape for. */
const wildcardSpecial = new Set(['*', '?', '\\']);

/**
 * The MetadataQuery pattern for a regular expression that is a plain literal, anchored at the
 * start (`abc`, `^abc`: a prefix, `abc*`) and optionally at the end (`abc$`: exactly `abc`).
 * Orthanc folds ASCII case unless the request says `"CaseSensitive": true`, so a literal with an
 * ASCII letter maps only when it does. Anything else (classes, alternatives, `(?i)`, a literal
 * holding `*`, `?` or `\`) is left to the scan.
 */
export function nativeFromRegex(pattern: string, caseSensitive: boolean): string | undefined {
  let body = pattern.startsWith('^') ? pattern.slice(1) : pattern;
  let exact = false;
  if (body.endsWith('$') && !body.endsWith('\\$')) {
    exact = true;
    body = body.slice(0, -1);
  }
  let literal = '';
  for (let i = 0; i < body.length; i += 1) {
    const char = body[i]!;
    if (char === '\\') {
      const next = body[i + 1];
      if (next === undefined || !escapable.has(next)) return undefined;
      literal += next;
      i += 1;
    } else if ('^$.|?*+()[]{}'.includes(char)) {
      return undefined;
    } else {
      literal += char;
    }
  }
  if ([...literal].some((char) => wildcardSpecial.has(char))) return undefined;
  if (!caseSensitive && /[A-Za-z]/.test(literal)) return undefined;
  if (literal === '') return exact ? undefined : ''; // `^$` keeps only empty or missing values: the scan's job
  return exact ? literal : `${literal}*`;
}
