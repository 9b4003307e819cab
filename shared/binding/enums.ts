/**
 * The enumerations of the Python plugin's `orthanc` module, with the same names and numbers
 * (the plugin SDK's values, which differ from the numbers Orthanc stores in its database).
 * They are plain constant objects, as in the Python plugin since 5.0, not TypeScript enums.
 */

export const ChangeType = {
  COMPLETED_SERIES: 0,
  /** Never written to `/changes` by Orthanc, so a REST binding cannot deliver it. */
  DELETED: 1,
  /** Never written to `/changes` by Orthanc, so a REST binding cannot deliver it. */
  NEW_CHILD_INSTANCE: 2,
  NEW_INSTANCE: 3,
  NEW_PATIENT: 4,
  NEW_SERIES: 5,
  NEW_STUDY: 6,
  STABLE_PATIENT: 7,
  STABLE_SERIES: 8,
  STABLE_STUDY: 9,
  /** Synthesized by the change feed when Orthanc becomes reachable (again after an outage). */
  ORTHANC_STARTED: 10,
  /** Synthesized when the host stops or Orthanc becomes unreachable. */
  ORTHANC_STOPPED: 11,
  UPDATED_ATTACHMENT: 12,
  UPDATED_METADATA: 13,
  UPDATED_PEERS: 14,
  UPDATED_MODALITIES: 15,
  JOB_SUBMITTED: 16,
  JOB_SUCCESS: 17,
  JOB_FAILURE: 18,
} as const;
export type ChangeTypeName = keyof typeof ChangeType;
export type ChangeTypeValue = (typeof ChangeType)[ChangeTypeName];

export const ResourceType = {
  PATIENT: 0,
  STUDY: 1,
  SERIES: 2,
  INSTANCE: 3,
  NONE: 4,
} as const;
export type ResourceTypeName = keyof typeof ResourceType;
export type ResourceTypeValue = (typeof ResourceType)[ResourceTypeName];

export const InstanceOrigin = {
  UNKNOWN: 1,
  DICOM_PROTOCOL: 2,
  REST_API: 3,
  PLUGIN: 4,
  LUA: 5,
  WEB_DAV: 6,
} as const;
export type InstanceOriginName = keyof typeof InstanceOrigin;
export type InstanceOriginValue = (typeof InstanceOrigin)[InstanceOriginName];

/** `ChangeType` strings of Orthanc's `/changes` (its `EnumerationToString`) and their plugin numbers. */
export const changeTypeFromOrthanc: Readonly<Record<string, ChangeTypeValue>> = {
  CompletedSeries: ChangeType.COMPLETED_SERIES,
  Deleted: ChangeType.DELETED,
  NewChildInstance: ChangeType.NEW_CHILD_INSTANCE,
  NewInstance: ChangeType.NEW_INSTANCE,
  NewPatient: ChangeType.NEW_PATIENT,
  NewSeries: ChangeType.NEW_SERIES,
  NewStudy: ChangeType.NEW_STUDY,
  StablePatient: ChangeType.STABLE_PATIENT,
  StableSeries: ChangeType.STABLE_SERIES,
  StableStudy: ChangeType.STABLE_STUDY,
  UpdatedAttachment: ChangeType.UPDATED_ATTACHMENT,
  UpdatedMetadata: ChangeType.UPDATED_METADATA,
};

/** `ResourceType` strings of `/changes` and their plugin numbers. */
export const resourceTypeFromOrthanc: Readonly<Record<string, ResourceTypeValue>> = {
  Patient: ResourceType.PATIENT,
  Study: ResourceType.STUDY,
  Series: ResourceType.SERIES,
  Instance: ResourceType.INSTANCE,
};

/** Values of the `Origin` instance metadata and their plugin numbers ("Plugins" is PLUGIN). */
export const instanceOriginFromOrthanc: Readonly<Record<string, InstanceOriginValue>> = {
  Unknown: InstanceOrigin.UNKNOWN,
  DicomProtocol: InstanceOrigin.DICOM_PROTOCOL,
  RestApi: InstanceOrigin.REST_API,
  Plugins: InstanceOrigin.PLUGIN,
  Lua: InstanceOrigin.LUA,
  WebDav: InstanceOrigin.WEB_DAV,
};

function nameOf<T extends Record<string, number>>(enumeration: T, value: number): keyof T & string {
  for (const [name, v] of Object.entries(enumeration)) if (v === value) return name;
  throw new RangeError(`unknown enumeration value ${value}`);
}

/** `changeTypeName(9)` is `"STABLE_STUDY"`. */
export const changeTypeName = (value: number): ChangeTypeName => nameOf(ChangeType, value);
/** `resourceTypeName(1)` is `"STUDY"`. */
export const resourceTypeName = (value: number): ResourceTypeName => nameOf(ResourceType, value);
/** `instanceOriginName(2)` is `"DICOM_PROTOCOL"`. */
export const instanceOriginName = (value: number): InstanceOriginName => nameOf(InstanceOrigin, value);
