import type { OrthancBinding, RawAnswer } from '../../shared/binding/index.js';
import type { MetadataMap, MetadataReader } from './metadata-reader.js';
import type { MetadataFind } from './request.js';

/** What Orthanc offers for metadata queries, read once from `/system`. */
export interface OrthancFindSupport {
  /** `Capabilities.HasExtendedFind` (1.12.5+ with SQLite or PostgreSQL 7+): `MetadataQuery` works. */
  hasExtendedFind: boolean;
  /** Metadata names Orthanc knows (built-in, and `UserMetadata` as /system lists it from 1.12.0). */
  knownNames: ReadonlySet<string>;
}

/** Orthanc's built-in metadata, by name (all versions up to 1.12.x). */
export const builtInMetadata = [
  'IndexInSeries', 'ReceptionDate', 'RemoteAET', 'ExpectedNumberOfInstances', 'ModifiedFrom', 'AnonymizedFrom', 'LastUpdate',
  'Origin', 'TransferSyntax', 'SopClassUid', 'RemoteIP', 'CalledAET', 'HttpUsername', 'PixelDataOffset', 'MainDicomTagsSignature',
  'MainDicomSequences', 'PixelDataVR',
];

/** One answer of the recipe: either Orthanc's own error answer, passed on, or the JSON to send. */
export type FindOutcome = { orthancError: RawAnswer } | { answer: unknown[]; stats: FindStats };

/** How a query was answered, for the debug log. */
export interface FindStats {
  /** Constraints handed to Orthanc's MetadataQuery. */
  native: number;
  /** Constraints tested here, over `candidates` resources (of which `read` had their metadata read). */
  scanned: number;
  candidates: number;
  read: number;
}

type Item = string | { ID: string; [field: string]: unknown };

/**
 * Runs a metadata find:
 * 1. Constraints that Orthanc's `MetadataQuery` answers the same way go to Orthanc with the rest
 *    of the body (when `native` is on and Orthanc has ExtendedFind); when every constraint went,
 *    `Limit` and `Since` go too, and Orthanc does all the work.
 * 2. Otherwise Orthanc answers the whole query without `Limit` and `Since`, in its own order; the
 *    candidates' metadata are read in batches (in that order, a few batches at a time), filtered,
 *    and `Since`/`Limit` are applied to what matched, over the whole ordered answer. Reading stops
 *    once the page is full.
 * 3. With `Expand`, each object gets the resource's `Metadata` map.
 * A resource deleted while the query runs is left out.
 */
export async function runMetadataFind(orthanc: OrthancBinding, reader: MetadataReader, query: MetadataFind, support: OrthancFindSupport, native: boolean): Promise<FindOutcome> {
  const callerQuery = query.forwarded.MetadataQuery;
  const nativeQuery: Record<string, string> = {};
  const scanned = query.filters.filter((filter) => {
    const translatable =
      native &&
      support.hasExtendedFind &&
      filter.native !== undefined &&
      support.knownNames.has(filter.name) &&
      !(typeof callerQuery === 'object' && callerQuery !== null && filter.name in callerQuery) &&
      !(filter.name in nativeQuery);
    if (translatable) nativeQuery[filter.name] = filter.native!;
    return !translatable;
  });

  const body: Record<string, unknown> = { ...query.forwarded, Expand: query.expand };
  if (Object.keys(nativeQuery).length > 0) {
    body.MetadataQuery = { ...(typeof callerQuery === 'object' && callerQuery !== null ? callerQuery : {}), ...nativeQuery };
  }
  const onePass = scanned.length === 0;
  if (onePass) {
    if (query.limit) body.Limit = query.limit;
    if (query.since) body.Since = query.since;
  }
  const found = await orthanc.restApiRequest('POST', '/tools/find', body);
  if (found.statusCode < 200 || found.statusCode > 299) return { orthancError: found };
  const items = JSON.parse(found.body.toString('utf8')) as Item[];
  const idOf = (item: Item) => (typeof item === 'string' ? item : item.ID);

  const metadata = new Map<string, MetadataMap>();
  let kept: Item[];
  if (onePass) {
    kept = items;
    if (items.some((item) => typeof item !== 'string')) await reader.readBatches(query.levelPath, reader.batches(items.map(idOf)), metadata, () => false);
  } else {
    const wanted = query.limit ? query.since + query.limit : Infinity;
    const matches = (id: string) => {
      const values = metadata.get(id);
      return values !== undefined && scanned.every((filter) => filter.test(values[filter.name] ?? ''));
    };
    const batches = reader.batches(items.map(idOf));
    let counted = 0;
    let matched = 0;
    await reader.readBatches(query.levelPath, batches, metadata, (batchesRead) => {
      for (; counted < batchesRead; counted += 1) matched += batches[counted]!.filter(matches).length;
      return matched >= wanted;
    });
    const all = items.filter((item) => matches(idOf(item)));
    kept = query.limit ? all.slice(query.since, query.since + query.limit) : all.slice(query.since);
  }
  const answer = kept
    .filter((item) => typeof item === 'string' || metadata.has(item.ID))
    .map((item) => (typeof item === 'string' ? item : { ...item, Metadata: metadata.get(item.ID) }));
  return { answer, stats: { native: Object.keys(nativeQuery).length, scanned: scanned.length, candidates: items.length, read: metadata.size } };
}
