import type { LevelPath } from './metadata-reader.js';
import { compileMetadataFilter, PatternError, type MatchingMode, type MetadataFilter } from './patterns.js';

/** A `/tools/find` body with a `Metadata` field, checked and compiled. */
export interface MetadataFind {
  levelPath: LevelPath;
  expand: boolean;
  /** 0: no limit, as in Orthanc. */
  limit: number;
  since: number;
  caseSensitive: boolean;
  filters: MetadataFilter[];
  /** What goes to Orthanc: the body without `Metadata`, `MetadataMatching`, `Limit` and `Since`. */
  forwarded: Record<string, unknown>;
}

/** A request to answer with a 400; `field` names the body's field at fault (`Metadata.Reviewer`). */
export class BadFindRequest extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'BadFindRequest';
  }
}

/** Orthanc reads `Level` without case, singular or plural (`study`, `Studies`). */
const levels: Record<string, LevelPath> = {
  patient: 'patients',
  patients: 'patients',
  study: 'studies',
  studies: 'studies',
  series: 'series',
  instance: 'instances',
  instances: 'instances',
};

const matchingModes: readonly MatchingMode[] = ['Regex', 'Wildcard'];

/**
 * Reads a `/tools/find` body. Undefined means "not ours": no `Metadata` field (or a body that is
 * not a JSON object with one), which goes to Orthanc untouched; Orthanc then answers what it
 * answers, errors included. Throws `BadFindRequest` for a body that has `Metadata` and cannot be
 * run, and for a body that is not JSON at all.
 */
export function parseFindRequest(body: Buffer, maxPatternLength: number): MetadataFind | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new BadFindRequest('body', `not JSON (${(error as Error).message})`);
  }
  if (!isObject(parsed) || !('Metadata' in parsed)) return undefined;
  const { Metadata: metadata, MetadataMatching: matching = 'Regex', Limit: limit = 0, Since: since = 0, ...forwarded } = parsed;

  const level = typeof parsed.Level === 'string' ? levels[parsed.Level.toLowerCase()] : undefined;
  if (!level) throw new BadFindRequest('Level', `must be one of Patient, Study, Series, Instance (got ${JSON.stringify(parsed.Level ?? null)})`);
  if (!matchingModes.includes(matching as MatchingMode)) {
    throw new BadFindRequest('MetadataMatching', `must be "Regex" (the default) or "Wildcard" (got ${JSON.stringify(matching)})`);
  }
  if (parsed.Expand !== undefined && typeof parsed.Expand !== 'boolean') throw new BadFindRequest('Expand', 'must be true or false');
  if (parsed.CaseSensitive !== undefined && typeof parsed.CaseSensitive !== 'boolean') throw new BadFindRequest('CaseSensitive', 'must be true or false');
  for (const [field, value] of [['Limit', limit], ['Since', since]] as const) {
    if (!Number.isSafeInteger(value) || (value as number) < 0) throw new BadFindRequest(field, `must be an integer ≥ 0 (got ${JSON.stringify(value)})`);
  }
  if (!isObject(metadata)) throw new BadFindRequest('Metadata', 'must be an object of metadata name → pattern');

  const caseSensitive = parsed.CaseSensitive === true;
  const filters: MetadataFilter[] = [];
  for (const [name, pattern] of Object.entries(metadata)) {
    const field = `Metadata.${name}`;
    if (typeof pattern !== 'string') throw new BadFindRequest(field, `the pattern must be a string (got ${JSON.stringify(pattern)})`);
    if (pattern.length > maxPatternLength) throw new BadFindRequest(field, `the pattern is ${pattern.length} characters long; at most ${maxPatternLength} are allowed`);
    try {
      filters.push(compileMetadataFilter(name, pattern, matching as MatchingMode, caseSensitive));
    } catch (error) {
      if (error instanceof PatternError) throw new BadFindRequest(field, error.message);
      throw error;
    }
  }
  return { levelPath: level, expand: parsed.Expand === true, limit: limit as number, since: since as number, caseSensitive, filters, forwarded };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
