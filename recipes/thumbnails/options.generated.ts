// Generated from recipes/thumbnails/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the thumbnails recipe.
 */
export interface Options {
/**
 * Longest side of a thumbnail, in pixels, when the request has no `size` (64, as the Python sample).
 */
DefaultSize: number
/**
 * Largest `size` a request may ask for; a larger one is answered with 400.
 */
MaxSize: number
/**
 * Format when the request has no `format`.
 */
DefaultFormat: ("jpeg" | "png" | "webp")
/**
 * JPEG and WebP quality (1-100) when the request has no `quality` (80, as the Python sample).
 */
DefaultQuality: number
/**
 * Memory for encoded thumbnails, least recently used evicted first; 0 disables the cache.
 */
CacheMegabytes: number
/**
 * `Cache-Control: max-age` of series and study thumbnails, whose representative instance can change as instances arrive. 0 (`no-cache`): clients revalidate each time, and get a 304 while the representative is the same.
 */
RepresentativeMaxAgeSeconds: number
}
