// Generated from recipes/receive-filter/schema.json by scripts/generate-option-types.mjs; do not edit.

/**
 * Options of the receive-filter recipe.
 */
export interface Options {
/**
 * Checked in order for each instance Orthanc receives, by REST, DICOM or any other means; the first rule whose Filter matches decides. An instance that no rule matches is accepted. A modality whose C-STORE is refused hears 0xA700 (out of resources).
 */
Rules: {
/**
 * What to do with a matching instance.
 */
Action: ("Accept" | "Reject")
/**
 * DICOM patterns (`*`, `?`, `\`-separated lists, date ranges) by tag keyword (`Modality`, `SOPClassUID`, `StudyDescription`, …) and by `RemoteAET`, `CalledAET` (C-STORE) and `Origin` (`DicomProtocol`, `RestApi`, `Plugins`, `Lua`, `WebDav`). Every key must match; an empty filter matches every instance.
 */
Filter: {
[k: string]: string
}
}[]
/**
 * A quota of instances per sending AET over C-STORE (the Python sample's): past it, the modality receives 0xA700 (out of resources) until the period ends.
 */
Quota: {
/**
 * Instances one remote AET may store per period; 0: no quota.
 */
MaxInstancesPerRemoteAet: number
/**
 * The length of a quota period, counted from the Unix epoch (86400: calendar days in UTC).
 */
PeriodSeconds: number
}
/**
 * Restricts what a calling AET finds by C-FIND on Orthanc's own DICOM port (query/retrieve, not worklists): the first restriction whose RemoteAET matches the caller imposes its Filter on every query; a caller that none matches is not restricted. A key the caller leaves open takes the restriction's pattern; a query that constrains the key otherwise than with exact values within the restriction, or that asks above the restriction's level (PATIENT under a study-level key), is refused (0xC000, unable to process). C-MOVE and C-GET are not restricted.
 */
FindRestrictions: {
/**
 * A DICOM pattern for the calling AE title (`*`, `?`, `\`-separated list).
 */
RemoteAET: string
/**
 * Patterns by keyword, imposed on the caller's queries; patient and study main tags only (PatientName, PatientID, PatientBirthDate, PatientSex, OtherPatientIDs, StudyDate, StudyTime, AccessionNumber, InstitutionName, ReferringPhysicianName, StudyDescription, StudyInstanceUID, StudyID, RequestingPhysician, RequestedProcedureDescription).
 */
Filter: {
[k: string]: string
}
}[]
}
