// Generated from recipes/excel-report/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the excel-report recipe.
 */
export interface Options {
/**
 * Studies whose details (statistics, series) are read from Orthanc at once while the report is written.
 */
ParallelReads: number
/**
 * Most reports written at once; one more request is answered 503 with `Retry-After` (each report reads every study).
 */
MaxConcurrentReports: number
}
