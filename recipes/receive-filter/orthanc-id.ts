import { createHash } from 'node:crypto';

/**
 * The Orthanc ID an instance will have, from its identifying tags: Orthanc hashes
 * `PatientID|StudyInstanceUID|SeriesInstanceUID|SOPInstanceUID` with SHA-1 and writes the 40 hex
 * digits in five groups of eight (`DicomInstanceHasher`). Lets a filter log what it refused by
 * the ID Orthanc would have given it, never by patient data.
 */
export function orthancInstanceId(tags: Readonly<Record<string, unknown>>): string {
  const text = (key: string) => (typeof tags[key] === 'string' ? tags[key].trim() : '');
  const digest = createHash('sha1')
    .update([text('PatientID'), text('StudyInstanceUID'), text('SeriesInstanceUID'), text('SOPInstanceUID')].join('|'))
    .digest('hex');
  return digest.match(/.{8}/g)!.join('-');
}
