// Generated from recipes/find-scp/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the find-scp recipe.
 */
export interface Options {
/**
 * The TCP port of the C-FIND SCP (not Orthanc's own DicomPort).
 */
Port: number
/**
 * The address it listens on: `0.0.0.0` for every interface, `127.0.0.1` for this machine only.
 */
Host: string
/**
 * The AE title that modalities must call; an association calling another AET is refused.
 */
Aet: string
/**
 * The view the device sees: DICOM patterns by keyword added to every query (e.g. `{ "InstitutionName": "NORTH*" }`). A key the device also queries must match both.
 */
Filter: {
[k: string]: string
}
/**
 * The most answers to one query; more matches end with the status 0xA700 (out of resources) after these.
 */
Limit: number
}
