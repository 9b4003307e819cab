// Generated from recipes/worklist/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the worklist recipe.
 */
export interface Options {
/**
 * The folder of worklist items: `.wl` DICOM files and `.json` files (the DICOM JSON model, or keywords as dcmjs names them), relative to the configuration file's folder. Read again at each query.
 */
Folder: string
/**
 * The TCP port of the worklist SCP.
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
 * The most answers to one query.
 */
Limit: number
}
