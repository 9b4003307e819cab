// Generated from recipes/queue/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the queue recipe.
 */
export interface Options {
/**
 * The instance metadata the worker writes once it handled an instance: a number from 1024 to 65535, or a name declared in Orthanc's `UserMetadata`.
 */
Metadata: string
/**
 * The value written into that metadata. Writing it again gives the same result, so a value delivered twice does no harm.
 */
Value: string
/**
 * Workers taking instances from the queue at once.
 */
Workers: number
/**
 * How long a worker holds an instance; one not acknowledged in time (its worker failed, the host was killed) is handed out again.
 */
ReserveSeconds: number
}
