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
}
