// Generated from recipes/dashboard/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the dashboard recipe.
 */
export interface Options {
/**
 * How often the page reads the recipes' routes again.
 */
RefreshSeconds: number
/**
 * How many of the latest stored instances the page lists (with the stored-instances recipe).
 */
RecentInstances: number
}
