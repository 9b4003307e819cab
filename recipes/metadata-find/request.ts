import { levelPath, parseLevel, type LevelPath } from '../../shared/orthanc-resources.js';
import type { Pacer } from '../../shared/pacer.js';
import { compileMetadataFilter, PatternError, type MatchingMode, type MetadataFilter } from './patterns.js';

/** What one request may ask of the host: see the recipe's options of the same names. */
export interface FindLimits {
  maxPatternLength: number;
  /** Most `Metadata` entries in one request. */
  maxConstraints: number;
  /** Most compiled size for all of a request's patterns (see `MetadataFilter.size`). */
  maxCompiledSize: number;
}

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

const matchingModes: readonly MatchingMode[] = ['Regex', 'Wildcard'];

/**
 * Reads a `/tools/find` body. Undefined means "not ours": no `Metadata` field (or a body that is
 * not a JSON object with one), which goes to Orthanc untouched; Orthanc then answers what it
 * answers, errors included. Throws `BadFindRequest` for a body that has `Metadata` and cannot be
 * run, for one that asks too much (`limits`), and for a body that is not JSON at all.
 * Patterns are compiled one at a time under `pacer`, so that other requests keep being served,
 * and compiling stops as soon as the compiled size passes `limits.maxCompiledSize`.
 */
export async function parseFindRequest(body: Buffer, limits: FindLimits, pacer: Pacer): Promise<MetadataFind | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new BadFindRequest('body', `not JSON (${(error as Error).message})`);
  }
  if (!isObject(parsed) || !('Metadata' in parsed)) return undefined;
  const { Metadata: metadata, MetadataMatching: matching = 'Regex', Limit: limit = 0, Since: since = 0, ...forwarded } = parsed;

  // Orthanc reads `Level` without case, singular or plural (`study`, `Studies`).
  const parsedLevel = typeof parsed.Level === 'string' ? parseLevel(parsed.Level) : undefined;
  const level = parsedLevel && levelPath[parsedLevel];
  if (!level)
    throw new BadFindRequest('Level', `must be one of Patient, Study, Series, Instance (got ${JSON.stringify(parsed.Level ?? null)})`);
  if (!matchingModes.includes(matching as MatchingMode)) {
    throw new BadFindRequest('MetadataMatching', `must be "Regex" (the default) or "Wildcard" (got ${JSON.stringify(matching)})`);
  }
  if (parsed.Expand !== undefined && typeof parsed.Expand !== 'boolean') throw new BadFindRequest('Expand', 'must be true or false');
  if (parsed.CaseSensitive !== undefined && typeof parsed.CaseSensitive !== 'boolean')
    throw new BadFindRequest('CaseSensitive', 'must be true or false');
  for (const [field, value] of [
    ['Limit', limit],
    ['Since', since],
  ] as const) {
    if (!Number.isSafeInteger(value) || (value as number) < 0)
      throw new BadFindRequest(field, `must be an integer ≥ 0 (got ${JSON.stringify(value)})`);
  }
  if (!isObject(metadata)) throw new BadFindRequest('Metadata', 'must be an object of metadata name → pattern');

  const caseSensitive = parsed.CaseSensitive === true;
  const entries = Object.entries(metadata);
  if (entries.length > limits.maxConstraints) {
    throw new BadFindRequest(
      'Metadata',
      `${entries.length} constraints; at most ${limits.maxConstraints} are allowed in one request (MaxConstraints)`,
    );
  }
  // Everything that costs nothing is checked before anything is compiled.
  for (const [name, pattern] of entries) {
    const field = `Metadata.${name}`;
    if (typeof pattern !== 'string')
      throw new BadFindRequest(field, `the pattern must be a string (got ${JSON.stringify(pattern)?.slice(0, 80)})`);
    if (pattern.length > limits.maxPatternLength) {
      throw new BadFindRequest(
        field,
        `the pattern is ${pattern.length} characters long; at most ${limits.maxPatternLength} are allowed (MaxPatternLength)`,
      );
    }
  }
  const filters: MetadataFilter[] = [];
  let compiledSize = 0;
  for (const [name, pattern] of entries as [string, string][]) {
    const field = `Metadata.${name}`;
    await pacer.pace();
    try {
      filters.push(compileMetadataFilter(name, pattern, matching as MatchingMode, caseSensitive));
    } catch (error) {
      if (error instanceof PatternError) throw new BadFindRequest(field, error.message);
      throw error;
    }
    compiledSize += filters.at(-1)!.size;
    if (compiledSize > limits.maxCompiledSize) {
      throw new BadFindRequest(
        field,
        `the patterns compile to more than ${limits.maxCompiledSize} instructions in all (MaxCompiledSize); this one brings the total to ${compiledSize}`,
      );
    }
  }
  return {
    levelPath: level,
    expand: parsed.Expand === true,
    limit: limit as number,
    since: since as number,
    caseSensitive,
    filters,
    forwarded,
  };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
