import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy, type StudySpec } from '../../../test/helpers/dicom.js';
import { startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import type { TestOrthanc } from '../../../test/helpers/orthanc.js';
import type { StoreScp } from '../../../test/helpers/storescp.js';

export const PATIENT_ID = 'AR-PATIENT-7';
export const PATIENT_NAME = 'Routed^Rita';

export interface UploadedStudy {
  studyId: string;
  /** SOPInstanceUIDs, sorted. */
  sops: string[];
  /** SOPInstanceUIDs in the order of the spec's series and instances. */
  ordered: string[];
}

/** Generates a study of the test patient and stores it in Orthanc (over REST). */
export async function uploadStudy(orthanc: TestOrthanc, spec: Partial<StudySpec> = {}): Promise<UploadedStudy> {
  const instances = generateStudy({
    patientId: PATIENT_ID,
    patientName: PATIENT_NAME,
    studyDate: '20240601',
    series: [{ modality: 'CT', instances: 3 }],
    size: 16,
    ...spec,
  });
  let studyId = '';
  for (const instance of instances) studyId = (await orthanc.upload(instance.file)).ParentStudy;
  const ordered = instances.map((i) => i.sopInstanceUid);
  return { studyId, sops: [...ordered].sort(), ordered };
}

/** Generates a study and sends it to Orthanc's DICOM port with dcmtk's storescu, as the modality `callingAet`. */
export async function storeStudyOverDicom(orthanc: TestOrthanc, callingAet: string, spec: Partial<StudySpec> = {}): Promise<UploadedStudy> {
  const instances = generateStudy({
    patientId: PATIENT_ID,
    patientName: PATIENT_NAME,
    studyDate: '20240601',
    series: [{ modality: 'CT', instances: 2 }],
    size: 16,
    ...spec,
  });
  const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-storescu-'));
  const files = await Promise.all(
    instances.map(async (instance, n) => {
      const file = join(folder, `${n}.dcm`);
      await writeFile(file, instance.file);
      return file;
    }),
  );
  await promisify(execFile)('storescu', [
    '-aet',
    callingAet,
    '-aec',
    orthanc.process.aet,
    '127.0.0.1',
    String(orthanc.process.dicomPort),
    ...files,
  ]);
  await rm(folder, { recursive: true, force: true });
  const found = await orthanc.json<string[]>('POST', '/tools/find', {
    Level: 'Study',
    Query: { StudyInstanceUID: instances[0]!.studyInstanceUid },
  });
  const ordered = instances.map((i) => i.sopInstanceUid);
  return { studyId: found[0]!, sops: [...ordered].sort(), ordered };
}

/** Runs the CLI with only this recipe enabled. */
export function startRouter(orthanc: TestOrthanc, options: Record<string, unknown>, directory?: string): Promise<HostProcess> {
  return startRouterAt(orthanc.url, options, directory);
}

export async function statusOf(host: HostProcess): Promise<any> {
  const answer = await fetch(`${host.url}/recipes/autorouting/status`);
  if (!answer.ok) throw new Error(`status: HTTP ${answer.status}`);
  return answer.json();
}

/** Waits until storescp holds every one of `sops`. */
export async function receivedAll(scp: StoreScp, sops: string[], timeoutMs = 30_000, what = 'the study at storescp'): Promise<void> {
  await eventually(
    async () => {
      const received = new Set(await scp.received());
      return sops.every((sop) => received.has(sop));
    },
    timeoutMs,
    what,
  );
}

export async function receivedAny(scp: StoreScp, sops: string[]): Promise<boolean> {
  const received = new Set(await scp.received());
  return sops.some((sop) => received.has(sop));
}

/** SOPInstanceUIDs stored in an Orthanc (the peer). */
export async function sopsIn(orthanc: TestOrthanc): Promise<string[]> {
  const instances = await orthanc.json<{ MainDicomTags: { SOPInstanceUID: string } }[]>('GET', '/instances?expand');
  return instances.map((i) => i.MainDicomTags.SOPInstanceUID).sort();
}

/** Deletes every study of an Orthanc (between tests that share it). */
export async function deleteAllStudies(orthanc: TestOrthanc): Promise<void> {
  for (const id of await orthanc.json<string[]>('GET', '/studies')) await orthanc.json('DELETE', `/studies/${id}`);
}

/** No line of the host's log names the patient. */
export function logsNamePatient(host: HostProcess): boolean {
  return host.log.lines.some((line) => line.includes(PATIENT_ID) || line.includes('Routed^Rita') || line.includes('Rita'));
}

/** A loopback HTTP proxy in front of Orthanc that lets a test act at a precise request. */
export interface OrthancProxy {
  url: string;
  close(): Promise<void>;
}

/**
 * Forwards every request to `target`, after `before(method, path)` resolved: with a status, the
 * proxy answers that instead (a JSON error), without forwarding; `after` runs once Orthanc answered.
 */
export async function startOrthancProxy(
  target: string,
  hooks: {
    before?: (method: string, path: string) => Promise<number | void>;
    after?: (method: string, path: string, status: number) => Promise<void>;
  },
): Promise<OrthancProxy> {
  const server = createServer((request, response) => void serve(request, response));
  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const method = request.method ?? 'GET';
      const path = request.url ?? '/';
      const refused = await hooks.before?.(method, path);
      if (refused) {
        response.writeHead(refused, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ HttpStatus: refused, Message: 'refused by the test proxy' }));
        return;
      }
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'accept', 'authorization'])
        if (request.headers[name]) headers[name] = String(request.headers[name]);
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      const answer = await fetch(`${target}${path}`, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body });
      const bytes = Buffer.from(await answer.arrayBuffer());
      await hooks.after?.(method, path, answer.status);
      response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/octet-stream' });
      response.end(bytes);
    } catch (error) {
      response.writeHead(502, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ Message: String(error) }));
    }
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Runs the CLI with only this recipe enabled, talking to Orthanc at `url` (a proxy). */
export function startRouterAt(url: string, options: Record<string, unknown>, directory?: string): Promise<HostProcess> {
  return startHostProcess(
    {
      Orthanc: { Url: url },
      ChangeFeed: { PollIntervalMilliseconds: 100 },
      LogLevel: 'debug',
      Recipes: { autorouting: { Enabled: true, ...options } },
    },
    directory,
  );
}
