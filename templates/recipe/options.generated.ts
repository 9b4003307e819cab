// Generated from recipes/__ID__/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the __ID__ recipe.
 */
export interface Options {
/**
 * The greeting that GET /recipes/__ID__ answers with.
 */
Greeting: string
}
