// Generated from recipes/mosaic/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the mosaic recipe.
 */
export interface Options {
/**
 * Side of each tile, in pixels, when the request has no `size`.
 */
DefaultSize: number
/**
 * Largest tile side a request may ask for; a larger one is answered 400.
 */
MaxSize: number
/**
 * Most tiles in one mosaic: a series with more slices is shown by this many, evenly spread from the first to the last.
 */
MaxTiles: number
/**
 * Most pixels in one mosaic (width times height); a request asking for more is answered 400.
 */
MaxPixels: number
/**
 * Format when the request has no `format`.
 */
DefaultFormat: ("png" | "jpeg")
}
