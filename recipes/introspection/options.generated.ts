// Generated from recipes/introspection/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the introspection recipe.
 */
export interface Options {
/**
 * Show each enabled recipe's options in force, secrets masked. Off: only their schemas.
 */
ShowOptions: boolean
/**
 * More key-name fragments (any case) whose values are masked, beside `Password`, `Secret`, `Token`, `Authorization` and `ApiKey`.
 */
MaskedKeys: string[]
}
