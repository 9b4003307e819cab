// Generated from recipes/authorization/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the authorization recipe.
 */
export interface Options {
/**
 * Rules decided here, in order: the first rule whose `Methods` and `Path` cover a request decides it, and lets it in only for its `Users`. A request that no rule covers goes to the `WebService` when there is one, else `AllowUnmatched` decides.
 */
Rules: {
/**
 * The methods it covers (`GET`, `POST`, `PUT`, `DELETE`, ...); empty: every method.
 */
Methods: string[]
/**
 * A minimatch glob on the request's path (decoded, without the query): `*` stays within one segment (`/studies/*` is a study, not its series), `**` crosses segments (`/studies/**`).
 */
Path: string
/**
 * The users who may (Basic user names, as Orthanc accepted them); `*`: any user Orthanc accepted. A request with no user Orthanc accepted is refused.
 */
Users: string[]
}[]
/**
 * The web service that decides the requests no rule covers, as in the Python sample authorization-2.py: it gets a JSON POST `{"method", "uri", "headers", "ip", "username"}` and answers `{"granted": true}` to let the request in. A timeout, a status other than 2xx or any other answer refuses.
 */
WebService: {
/**
 * The service's URL; empty: no web service.
 */
Url: string
/**
 * Longest wait for the whole answer; past it, the request is refused.
 */
TimeoutMilliseconds: number
/**
 * The request headers sent to the service (in `headers`, names in lower case): the caller's identity, e.g. `authorization` and a `token`. Others are never sent.
 */
ForwardedHeaders: string[]
}
/**
 * How long the service's answer is kept, per method, URI, forwarded headers, client IP and user (0: asked for every request). Failures are never kept.
 */
CacheSeconds: number
/**
 * Without a web service, whether a request that no rule covers goes on. `false` (the default) refuses it: list what is allowed.
 */
AllowUnmatched: boolean
}
