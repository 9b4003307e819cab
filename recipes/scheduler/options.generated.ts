// Generated from recipes/scheduler/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the scheduler recipe.
 */
export interface Options {
/**
 * The periodic tasks. They run only while Orthanc answers, never two runs of one task at once.
 */
Tasks: {
/**
 * Unique name of the task, used in logs and in `/recipes/scheduler/tasks/{name}/run`: letters, digits, `.`, `_` and `-`.
 */
Name: string
/**
 * A cron expression in node-cron syntax: 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first (`* /10 * * * * *`).
 */
Schedule?: string
/**
 * A fixed period instead of `Schedule`: a whole number and a unit, `ms`, `s`, `m` or `h` (`500ms`, `1s`, `5m`, `1h`).
 */
Every?: string
/**
 * The IANA time zone of `Schedule` (`Europe/Brussels`); the host's own time zone when absent.
 */
TimeZone?: string
/**
 * A built-in task, configured by `Options`.
 */
Task?: ("purge-older-than" | "resubmit-failed-jobs" | "log-statistics")
/**
 * A call to Orthanc's REST API; a status outside 2xx fails the run.
 */
Request?: {
/**
 * The HTTP method.
 */
Method: ("GET" | "POST" | "PUT" | "DELETE")
/**
 * The URI in Orthanc's REST API, starting with `/` (`/exports`).
 */
Uri: string
/**
 * The body of a POST or PUT: a string is sent as it is, an object or array as JSON.
 */
Body: (string | {

} | unknown[])
}
/**
 * A JavaScript or TypeScript file, relative to the configuration file, whose default export is `async (ctx, options) => result`.
 */
Module?: string
/**
 * The options of the built-in `Task` (checked against its own schema), or the second argument of the `Module`'s function.
 */
Options: {

}
}[]
}
