// Generated from recipes/stored-instances/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the stored-instances recipe.
 */
export interface Options {
/**
 * What the log gets for each stored instance: `summary` (the default: one short line with the instance ID, size, transfer syntax, SOP class, origin and remote AET, about 200 characters), `tags` (the same followed by every tag, redacted unless `LogTags`: more than 1,000 characters an instance) or `none` (nothing: the audit file and the `recent` route still record each instance).
 */
LogLine: ("summary" | "tags" | "none")
/**
 * Record the tags as they are. By default the tags that identify the patient (names, IDs, birth date, addresses, accession number, private tags, ...) are recorded as `"<redacted>"` in the log (with `"LogLine": "tags"`), the audit file and the `recent` route.
 */
LogTags: boolean
/**
 * More tags to redact, by the names of Orthanc's simplified tags (e.g. `"InstitutionName"`).
 */
ExtraRedactedTags: string[]
/**
 * A JSON-lines file that gets one line per stored instance, relative to the configuration file's folder (or absolute). Empty: no audit file.
 */
AuditFile: string
/**
 * The audit file is rotated (renamed `<file>.1`, the older ones shifted) before it grows past this size.
 */
AuditMaxMegabytes: number
/**
 * Rotated audit files kept (`<file>.1` to `<file>.<N>`); older ones are deleted.
 */
AuditKeepFiles: number
/**
 * Instances kept in memory for `GET /recipes/stored-instances/recent` (the largest `limit`).
 */
RecentCapacity: number
}
