// Generated from recipes/dictionary/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the dictionary recipe (none besides Enabled).
 */
export interface Options {

}
