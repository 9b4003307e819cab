import { isNotFound, type OrthancBinding } from '../../shared/binding/index.js';
import type { OptionsIssue } from '../../shared/recipe.js';
import type { Options } from './options.generated.js';

export type DestinationOption = Options['Rules'][number]['Destinations'][number];

/** A destination as Orthanc knows it. `key` (`Modality:sample`, `Peer:backup`) names it in the ledger and the status. */
export interface Destination {
  kind: 'Modality' | 'Peer' | 'DicomWeb';
  name: string;
  key: string;
}

export function toDestination(option: DestinationOption): Destination {
  if (typeof option === 'string') return { kind: 'Modality', name: option, key: `Modality:${option}` };
  if ('Peer' in option) return { kind: 'Peer', name: option.Peer, key: `Peer:${option.Peer}` };
  return { kind: 'DicomWeb', name: option.DicomWeb, key: `DicomWeb:${option.DicomWeb}` };
}

export function parseDestinationKey(key: string): Destination {
  const [kind, ...rest] = key.split(':');
  return { kind: kind as Destination['kind'], name: rest.join(':'), key };
}

/**
 * The asynchronous send of one resource (any level: Orthanc expands it to its instances): the
 * URI and body of Orthanc's store route, which answers `{"ID": <job>, "Path": "/jobs/<job>"}`.
 */
export function storeRequest(destination: Destination, resourceId: string): { uri: string; body: Record<string, unknown> } {
  const name = encodeURIComponent(destination.name);
  const body = { Resources: [resourceId], Asynchronous: true };
  switch (destination.kind) {
    case 'Modality':
      return { uri: `/modalities/${name}/store`, body };
    case 'Peer':
      return { uri: `/peers/${name}/store`, body };
    case 'DicomWeb':
      return { uri: `/dicom-web/servers/${name}/stow`, body };
  }
}

/**
 * Checks every destination against what this Orthanc knows (`/modalities`, `/peers`,
 * `/dicom-web/servers`), and returns one issue per unknown one, pointing at it.
 */
export async function checkDestinations(orthanc: OrthancBinding, rules: Options['Rules']): Promise<OptionsIssue[]> {
  const known = await knownNames(
    orthanc,
    rules.some((rule) => rule.Destinations.some((d) => toDestination(d).kind === 'DicomWeb')),
  );
  const issues: OptionsIssue[] = [];
  const where = { Modality: 'DicomModalities', Peer: 'OrthancPeers', DicomWeb: 'DicomWeb.Servers' };
  rules.forEach((rule, r) =>
    rule.Destinations.forEach((option, d) => {
      const destination = toDestination(option);
      const names = known[destination.kind];
      const pointer = `/Rules/${r}/Destinations/${d}`;
      if (names === undefined) {
        issues.push({
          pointer,
          message: `Orthanc has no DICOMweb plugin (GET /dicom-web/servers answered 404), so it cannot send to DICOMweb server "${destination.name}"`,
        });
      } else if (!names.includes(destination.name)) {
        const list = names.length ? names.map((n) => `"${n}"`).join(', ') : 'none';
        issues.push({
          pointer,
          message: `Orthanc has no ${plural[destination.kind]} "${destination.name}" (its ${where[destination.kind]}: ${list})`,
        });
      }
    }),
  );
  return issues;
}

const plural = { Modality: 'modality', Peer: 'peer', DicomWeb: 'DICOMweb server' };

/** The names Orthanc knows now, per kind; `DicomWeb` undefined when not asked or without the plugin. */
async function knownNames(orthanc: OrthancBinding, withDicomWeb: boolean): Promise<Record<Destination['kind'], string[] | undefined>> {
  const known = {
    Modality: await orthanc.restApiGetJson<string[]>('/modalities'),
    Peer: await orthanc.restApiGetJson<string[]>('/peers'),
    DicomWeb: undefined as string[] | undefined,
  };
  if (withDicomWeb) {
    try {
      known.DicomWeb = await orthanc.restApiGetJson<string[]>('/dicom-web/servers');
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  return known;
}

/**
 * Which of `keys` Orthanc does not know now (its modalities, peers and DICOMweb servers can change
 * at run time, through its REST API or a restart with another configuration), with the reason.
 */
export async function unknownDestinations(orthanc: OrthancBinding, keys: Iterable<string>): Promise<Map<string, string>> {
  const destinations = [...keys].map(parseDestinationKey);
  const known = await knownNames(
    orthanc,
    destinations.some((d) => d.kind === 'DicomWeb'),
  );
  const unknown = new Map<string, string>();
  for (const destination of destinations) {
    if (!known[destination.kind]?.includes(destination.name))
      unknown.set(destination.key, `Orthanc no longer knows the ${plural[destination.kind]} "${destination.name}"`);
  }
  return unknown;
}
