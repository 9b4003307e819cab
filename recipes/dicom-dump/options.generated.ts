// Generated from recipes/dicom-dump/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the dicom-dump recipe.
 */
export interface Options {
/**
 * Largest DICOM file parsed; a larger one gets a 413 (dcmjs holds the whole file, and its dataset, in a worker's memory).
 */
MaxFileMegabytes: number
/**
 * Largest dataset inflated from a file in the deflated transfer syntax (1.2.840.10008.1.2.1.99); a file whose dataset inflates to more gets a 413, and inflating stops there (a 1 MB file can inflate to 1 GiB of zeros).
 */
MaxInflatedMegabytes: number
/**
 * Most bytes of DICOM files held at once by all the dumps in progress (downloading, or parsed in the worker pool); a request waits for room, first come first served. A file larger than this gets a 413.
 */
MaxMegabytesInFlight: number
}
