// Generated from recipes/dicom-dump/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the dicom-dump recipe.
 */
export interface Options {
/**
 * Largest DICOM file parsed; a larger one gets a 413 (dcmjs holds the whole file, and its dataset, in a worker's memory).
 */
MaxFileMegabytes: number
}
