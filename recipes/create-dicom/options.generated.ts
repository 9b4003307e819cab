// Generated from recipes/create-dicom/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the create-dicom recipe.
 */
export interface Options {
/**
 * Largest image (or JSON request) accepted, in bytes; a larger one is answered 413.
 */
MaxImageBytes: number
/**
 * Most pixels (width times height) an image may decode to; more is answered 413 before it is decoded (a small PNG can claim a huge size).
 */
MaxPixels: number
}
