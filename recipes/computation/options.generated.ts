// Generated from recipes/computation/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the computation recipe.
 */
export interface Options {
/**
 * Square roots computed by one call (the sample's 30 million, about 70 ms in V8). Raise it to see the difference between the two routes more clearly.
 */
SquareRoots: number
}
