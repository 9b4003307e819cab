// Generated from recipes/autorouting/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the autorouting recipe.
 */
export interface Options {
/**
 * Where to send what. A resource goes to the destinations of every rule of its level whose Filter it matches; a resource that no rule matches is not sent.
 */
Rules: {
/**
 * A name for logs and the status (`Rules/<index>` when empty).
 */
Name: string
/**
 * What is sent: a Study when it becomes stable (STABLE_STUDY), a Series when it becomes stable (STABLE_SERIES), or each Instance as it arrives (NEW_INSTANCE).
 */
Level: ("Study" | "Series" | "Instance")
/**
 * A name of Orthanc's DicomModalities (C-STORE), {"Peer": name} for an Orthanc peer, or {"DicomWeb": name} for a DICOMweb server (needs Orthanc's DICOMweb plugin).
 * 
 * @minItems 1
 */
Destinations: [(string | {
Peer: string
} | {
DicomWeb: string
}), ...((string | {
Peer: string
} | {
DicomWeb: string
}))[]]
/**
 * Keys: main DICOM tags of the resource and its parents, ModalitiesInStudy (and Modality at the Study level: its series'), LastUpdate, RemoteAET and CalledAET. Values: DICOM patterns (`*`, `?`, lists with `\`, date ranges such as `20240101-`), case-insensitive. Empty: everything matches.
 */
Filter: {
[k: string]: string
}
}[]
/**
 * How failed sends are retried: capped exponential back-off with jitter, per route.
 */
Retry: {
/**
 * Attempts before a route is marked failed (it stays in the status until retried).
 */
MaxAttempts: number
/**
 * Delay before the first retry; doubled at each failure.
 */
InitialDelaySeconds: number
/**
 * Longest delay between two attempts.
 */
MaxDelaySeconds: number
}
/**
 * Once every destination received a routed resource, delete from Orthanc exactly the instances its decision covered (an instance stored meanwhile survives and is routed in turn).
 */
DeleteAfterRouting: boolean
/**
 * Log what would be sent, and send (and delete) nothing.
 */
DryRun: boolean
/**
 * Every so often, look for stable resources not routed since their last update (also done at start and when Orthanc comes back). 0: only then.
 */
SweepIntervalSeconds: number
/**
 * With several hosts sharing the work (PostgreSQL state), the sweep leaves alone resources updated less than this long ago: an Orthanc reports as stable what another Orthanc of the cluster is still receiving. Keep it above the Orthancs' StableAge. Unused with one host.
 */
ClusterSweepMinimumAgeSeconds: number
/**
 * At the very first start (empty ledger), also route the stable resources already in Orthanc. Off: only what is stored or changed from the first start on is routed (later starts still catch up on everything since).
 */
RouteExistingOnFirstStart: boolean
/**
 * At the very first start (RouteExistingOnFirstStart off), the line (RoutingSince) is drawn this many seconds before Orthanc's time, so that a resource still unstable then is within the sweep's reach if its one decision fails. Keep it above Orthanc's StableAge.
 */
FirstStartMarginSeconds: number
/**
 * Send jobs in flight at once towards one destination.
 */
JobsPerDestination: number
/**
 * Finished routes (succeeded, gone) and their decisions are pruned from the ledger once this old, in the background; resources last updated before then are no longer swept. Failed and cancelled routes are kept. 0: never prune.
 */
KeepFinishedRoutesDays: number
}
