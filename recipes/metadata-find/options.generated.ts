// Generated from recipes/metadata-find/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the metadata-find recipe.
 */
export interface Options {
/**
 * Longest pattern accepted in a request's `Metadata` field, in characters; a longer one gets a 400.
 */
MaxPatternLength: number
/**
 * Most entries in a request's `Metadata` field; more get a 400 before any pattern is compiled.
 */
MaxConstraints: number
/**
 * Most compiled size of all of a request's patterns together (RE2 instructions of a regular expression, characters of a wildcard pattern): what testing one value costs. `[a-z]{1000}N` alone is 1,003. A request over it gets a 400.
 */
MaxCompiledSize: number
/**
 * Largest `POST /tools/find` body the recipe reads, in KiB; a larger one gets a 413 before it is read (the host's `MaxRecipeBodyMegabytes` caps it too).
 */
MaxBodyKilobytes: number
/**
 * Requests to Orthanc in flight at once for one query, when reading the candidates' metadata.
 */
Concurrency: number
/**
 * How the candidates' metadata are read: `Bulk` asks `/tools/bulk-content` for `BatchSize` resources per request (Orthanc 1.9.4+; older ones fall back); `PerResource` reads `/{level}/{id}/metadata?expand`, one request per resource.
 */
MetadataReads: ("Bulk" | "PerResource")
/**
 * Resources per `/tools/bulk-content` request.
 */
BatchSize: number
/**
 * On Orthanc 1.12.5+ (`Capabilities.HasExtendedFind`), hand the constraints that Orthanc's own `MetadataQuery` answers identically to Orthanc; false always scans.
 */
NativeMetadataQuery: boolean
/**
 * Keep the metadata read in memory, kept current by the change feed (`UPDATED_METADATA`, `NEW_*`), so that repeated queries do not read them again from Orthanc. Answers may lag a change by the feed's poll interval. Used where metadata are read separately from the find (Orthanc before 1.12.5, or `MetadataReads: PerResource`).
 */
MetadataIndex: boolean
/**
 * Most metadata maps the index keeps (least recently used first out).
 */
IndexMaxResources: number
}
