// Generated from host/host-schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * The configuration file of orthanc-recipes.
 */
export interface HostConfig {
/**
 * The Orthanc that the recipes serve. Without `Url`, the host starts its own Orthanc (the system's `Orthanc` binary) with its storage in the state directory.
 */
Orthanc: {
/**
 * Base URL of Orthanc's REST API, e.g. `http://127.0.0.1:8042`. Absent: start an embedded Orthanc.
 */
Url?: string
/**
 * HTTP Basic user name, when Orthanc's `AuthenticationEnabled` is on.
 */
Username?: string
/**
 * HTTP Basic password.
 */
Password?: string
/**
 * A file holding the HTTP Basic password (a Docker or systemd secret such as `/run/secrets/orthanc-password`), instead of `Password`; relative to the configuration file. Its final line break is not part of the password.
 */
PasswordFile?: string
/**
 * Longest wait for Orthanc's answer headers, and between two body chunks.
 */
TimeoutSeconds: number
/**
 * The Orthanc binary of the embedded Orthanc (looked up on PATH and in /usr/sbin).
 */
Executable: string
/**
 * Extra Orthanc configuration for the embedded Orthanc only (e.g. `{"StableAge": 10}`).
 */
Configuration: {
[k: string]: unknown
}
}
/**
 * The host's HTTP front: recipe routes, and every other request proxied to Orthanc.
 */
HttpServer: {
/**
 * Address to bind. On an address other than loopback, Orthanc must require credentials (see `AllowRemoteAccessWithoutAuthentication`).
 */
Host: string
/**
 * Port to listen on (0: any free port, printed at start).
 */
Port: number
/**
 * Largest request body a recipe route reads into memory (proxied bodies are streamed and unlimited).
 */
MaxRecipeBodyMegabytes: number
/**
 * Headers besides `Authorization` that carry a caller's credentials (e.g. `["token"]` for Orthanc's authorization plugin). A recipe serving a request calls Orthanc with the caller's `Authorization` and these headers, never with the host's own credentials, so Orthanc's per-user rights hold.
 */
ForwardedAuthHeaders: string[]
/**
 * Host actions (status pages, the dashboard, `/recipes`, an autorouting retry, a task's run now) are allowed to a caller whom Orthanc lets perform this request: by default `GET /jobs`, which sites reserve to administrators. Only a 2xx lets in; the answer is kept `CacheSeconds` per credential.
 */
HostActionProbe: {
/**
 * The probe's method (a GET is safest: the probe must change nothing).
 */
Method: ("GET" | "POST" | "PUT" | "DELETE")
/**
 * The probe's URI on Orthanc's REST API.
 */
Uri: string
/**
 * How long a successful probe is kept per credential (0: asked on every host action). Refusals are never kept.
 */
CacheSeconds: number
}
/**
 * Longest time to receive a request's line and headers, counted from the connection's start or from the first byte of the next request on a keep-alive connection; then the connection gets a 408 and is closed. A connection that sends nothing is closed too.
 */
RequestHeadTimeoutSeconds: number
/**
 * Longest idle time of a keep-alive connection between two requests.
 */
KeepAliveTimeoutSeconds: number
/**
 * Longest silence between two chunks of a request body; then the connection is closed. Inactivity, not total time: a 2 GB upload over a slow link still works while it keeps sending.
 */
BodyInactivityTimeoutSeconds: number
/**
 * Connections open at once; a connection beyond is closed at once, and a warning is logged once per burst. Keep it below the process's file descriptor limit, counting the connections to Orthanc.
 */
MaxConnections: number
/**
 * Origins (`https://viewer.example:8443`) whose browser pages may send state-changing requests (anything but GET, HEAD and OPTIONS) to the host: a viewer served from elsewhere. Such requests from any other site (`Sec-Fetch-Site: cross-site` or `same-site`, or another `Origin`) get a 403, on recipe routes and proxied routes alike; clients that send neither header (curl, scripts) are not affected.
 */
AllowedOrigins: string[]
/**
 * Addresses (`10.0.0.5`) or ranges (`10.0.0.0/8`) of reverse proxies in front of the host whose `Forwarded` and `X-Forwarded-For/-Proto/-Host` headers are believed: the host appends its own element to theirs. From any other client these headers are dropped and replaced by the host's, which name the client and the address it used (Orthanc's DICOMweb plugin builds its URLs from them).
 */
TrustedProxies: string[]
/**
 * Orthanc sees every proxied request as coming from the host, so its `RemoteAccessAllowed` stops protecting it. With `Host` not a loopback address, the host refuses to start (and answers 503 after an Orthanc outage) while Orthanc answers `/system` without credentials, unless this is true: set it only when something else (a firewall, an authenticating reverse proxy) guards the door.
 */
AllowRemoteAccessWithoutAuthentication: boolean
}
/**
 * Where the change cursor, the recipes' state and the embedded Orthanc's storage live; relative to the configuration file.
 */
StateDirectory: string
/**
 * Where the state lives (the change cursor, the key-value state, the recipes' tables, the work claims). `SQLite`: a file in the state directory, for one host. `PostgreSQL`: a database that several hosts share, each beside one Orthanc of a cluster on one PostgreSQL index; every unit of work is then claimed there before it is done.
 */
StateDatabase: {
/**
 * `SQLite` (one host) or `PostgreSQL` (one or several hosts sharing the work).
 */
Engine: ("SQLite" | "PostgreSQL")
/**
 * PostgreSQL only: `postgres://user@host:port/database` (required with PostgreSQL). Keep the password out of it: use `PasswordFile`.
 */
ConnectionString: string
/**
 * PostgreSQL only: a file holding the password (its first line), relative to the configuration file. Empty: none, or the one in the connection string.
 */
PasswordFile: string
/**
 * PostgreSQL only: the schema holding the state's tables (created if missing); hosts of one cluster use the same.
 */
Schema: string
/**
 * How long a host's claims on work last without its heartbeat (sent every third of it): after a host dies, another takes its work over within this time.
 */
LeaseSeconds: number
}
/**
 * The one poller of Orthanc's /changes.
 */
ChangeFeed: {
/**
 * Pause between two polls once Orthanc has no more changes (pages are drained back to back).
 */
PollIntervalMilliseconds: number
/**
 * Changes asked for in one request.
 */
PageSize: number
/**
 * Polling pauses while one recipe has this many changes waiting (back-pressure).
 */
MaxQueuedChanges: number
}
/**
 * The worker threads that recipes hand CPU work to (parsing DICOM files, computations). Threads start at the first task.
 */
WorkerPool: {
/**
 * Tasks that run at once; more wait in a queue. 0: 1.5 per core and at least 4 (the Python samples' `Pool(4)`).
 */
MaxThreads: number
}
/**
 * Longest time a recipe's setup may take before it is reported as failed.
 */
RecipeSetupTimeoutSeconds: number
/**
 * Least severe log level printed. `debug` adds the front's access log (method, path, status, duration, bytes).
 */
LogLevel: ("error" | "warning" | "info" | "debug")
/**
 * `text`: lines like Orthanc's own (`I 2026-11-29T08:40:00.527Z host] message`, then any `key=value` fields). `json`: one JSON object a line (`time`, `level`, `logger`, `message` and structured fields such as `recipe`, `changeType`, `resourceId`, `route`, `status`, `durationMs`), for log shippers (Loki, Elastic, journald).
 */
LogFormat: ("text" | "json")
/**
 * The Lua bridge: a script in Orthanc (`orthanc-recipes bridge` writes it; the embedded Orthanc gets it by itself) calls the host before storing an instance, before running a C-FIND and when a resource is deleted, for the recipes that declare such hooks. It listens apart from the front, and answers only the script's shared secret.
 */
Bridge: {
/**
 * `auto`: run the bridge when an enabled recipe registers Orthanc-side hooks (a receive filter), or listens to deletions with the embedded Orthanc. `true` also for deletions with an Orthanc of your own (install the script from `orthanc-recipes bridge`); `false` never (recipes that need it fail to set up).
 */
Enabled: ("auto" | true | false)
/**
 * Address the bridge listens on, for an Orthanc of your own. Loopback unless Orthanc runs on another machine or container.
 */
Host: string
/**
 * Port the bridge listens on, for an Orthanc of your own (the embedded Orthanc's bridge takes a free loopback port: its script is written at each start).
 */
Port: number
/**
 * The address the script calls, when Orthanc reaches the host other than at http://Host:Port (a container's name, say). Empty: http://Host:Port.
 */
Url: string
/**
 * How long the script waits for the host (Orthanc 1.11.1+, through Lua's `SetHttpTimeout`; older Orthancs wait their `HttpTimeout`).
 */
TimeoutSeconds: number
/**
 * What Orthanc does with a received instance or a C-FIND when the host does not answer (stopped, starting, too slow), per hook.
 */
WhenHostDown: {
/**
 * `Accept` keeps receiving (counted, and logged by Orthanc); `Reject` refuses the instance.
 */
ReceivedInstanceFilter: ("Accept" | "Reject")
/**
 * `Accept` keeps receiving; `Reject` answers the modality 0xA700 (out of resources), so that it sends again later.
 */
ReceivedCStoreInstanceFilter: ("Accept" | "Reject")
/**
 * For a C-FIND: `Accept` runs the query as received (a restriction a recipe adds is not applied); `Reject` fails the C-FIND (0xC000, unable to process).
 */
IncomingFindRequestFilter: ("Accept" | "Reject")
/**
 * For a worklist C-FIND: `Accept` runs the query as received; `Reject` fails it (0xC000, unable to process).
 */
IncomingWorklistRequestFilter: ("Accept" | "Reject")
}
}
/**
 * The recipes to enable, by id, each with `"Enabled": true` and its own options.
 */
Recipes: {
[k: string]: {
[k: string]: unknown
}
}
}
