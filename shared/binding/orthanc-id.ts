/**
 * The shape of an Orthanc resource ID: five groups of eight hexadecimal digits (a SHA-1 digest of
 * the DICOM identifiers), e.g. `8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d`.
 */
export const orthancIdPattern = '[0-9a-f]{8}(?:-[0-9a-f]{8}){4}';

const exactId = new RegExp(`^${orthancIdPattern}$`);

/**
 * Whether `id` has the shape of an Orthanc ID. A route that takes an ID checks it before asking
 * Orthanc: anything else (`..`, a path, a query) could name another resource than the one meant,
 * and Orthanc knows no resource by it anyway.
 */
export function isOrthancId(id: string): boolean {
  return exactId.test(id);
}
