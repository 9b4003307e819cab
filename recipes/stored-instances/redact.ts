/**
 * Tags that identify the patient (or the people and places around them), by the names Orthanc
 * gives them in `/instances/{id}/simplified-tags`: after DICOM PS3.15's basic de-identification
 * profile, keeping what an administrator needs to tell instances apart (UIDs, dates of the
 * study, modality, descriptions, sex and age).
 */
export const patientIdentifyingTags: readonly string[] = [
  'PatientName',
  'PatientID',
  'IssuerOfPatientID',
  'TypeOfPatientID',
  'IssuerOfPatientIDQualifiersSequence',
  'OtherPatientIDs',
  'OtherPatientNames',
  'OtherPatientIDsSequence',
  'PatientBirthName',
  'PatientMotherBirthName',
  'PatientBirthDate',
  'PatientBirthTime',
  'PatientAddress',
  'PatientTelephoneNumbers',
  'PatientTelecomInformation',
  'MedicalRecordLocator',
  'CountryOfResidence',
  'RegionOfResidence',
  'PatientComments',
  'PatientInsurancePlanCodeSequence',
  'PatientReligiousPreference',
  'EthnicGroup',
  'Occupation',
  'MilitaryRank',
  'BranchOfService',
  'AdditionalPatientHistory',
  'MedicalAlerts',
  'Allergies',
  'ResponsiblePerson',
  'ResponsibleOrganization',
  'PersonName',
  'PersonAddress',
  'PersonTelephoneNumbers',
  'PersonTelecomInformation',
  'PatientInstitutionResidence',
  'CurrentPatientLocation',
  'AdmissionID',
  'IssuerOfAdmissionIDSequence',
  'ReferencedPatientSequence',
  'ReferencedPatientPhotoSequence',
  'AccessionNumber',
  'IssuerOfAccessionNumberSequence',
  'ReferringPhysicianName',
  'ReferringPhysicianAddress',
  'ReferringPhysicianTelephoneNumbers',
  'ReferringPhysicianIdentificationSequence',
  'PhysiciansOfRecord',
  'PerformingPhysicianName',
  'NameOfPhysiciansReadingStudy',
  'RequestingPhysician',
  'OperatorsName',
  'ScheduledPerformingPhysicianName',
  'RequestAttributesSequence',
  'ContentSequence',
];

/** What a redacted value is replaced with. */
export const REDACTED = '<redacted>';

/** A private tag, as Orthanc names it (`"0009,1001"`): its group is odd, and it may hold anything. */
const privateTag = /^[0-9a-f]{3}[13579bdf],[0-9a-f]{4}$/i;

/**
 * A copy of Orthanc's simplified tags where every identifying tag (`patientIdentifyingTags`,
 * `extra`, private tags), wherever it sits in sequences, has the value `"<redacted>"`.
 */
export function redactTags(tags: Record<string, unknown>, extra: ReadonlySet<string> = new Set()): Record<string, unknown> {
  const redacted: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(tags)) {
    if (identifying.has(name) || extra.has(name) || privateTag.test(name)) redacted[name] = REDACTED;
    else if (Array.isArray(value)) redacted[name] = (value as unknown[]).map((item) => (isObject(item) ? redactTags(item, extra) : item));
    else redacted[name] = value;
  }
  return redacted;
}

const identifying = new Set(patientIdentifyingTags);
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);
