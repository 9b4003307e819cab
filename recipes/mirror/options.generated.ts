// Generated from recipes/mirror/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the mirror recipe.
 */
export interface Options {
/**
 * The PostgreSQL database to mirror into, as `pg` reads it: `postgres://user:password@host:5432/database`. Empty: no PostgreSQL (then `CouchDB.Url` is required).
 */
ConnectionString: string
/**
 * The table created and filled there: one row per patient, study, series and instance (`level`, `id`, `body` JSONB, `last_update`, `mirrored_at`).
 */
Table: string
/**
 * CouchDB's HTTP API as a target (CouchDB, PouchDB Server...): one document per resource, `_id` the Orthanc ID, the fields Orthanc's JSON. Empty `Url`: no CouchDB.
 */
CouchDB: {
/**
 * The server, `http://user@host:5984` (the user name here, the password in `PasswordFile`). Empty: off.
 */
Url: string
/**
 * The database, created when missing (CouchDB's rules: lower case, starting with a letter).
 */
Database: string
/**
 * A file whose first line is the password of the user named in `Url`, relative to the configuration file's folder. Empty: the password in `Url`, if any.
 */
PasswordFile: string
}
/**
 * At start, compare the whole index with the table: mirror what is missing or older, remove what Orthanc no longer has (what happened while the recipe was off).
 */
CatchUpAtStart: boolean
/**
 * How long a resource that could not be mirrored (its target down) waits before it is tried again; the catch-up at start backs off from it, doubling up to 5 minutes.
 */
RetrySeconds: number
}
