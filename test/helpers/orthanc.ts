import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrthancProcess } from '../../host/orthanc-process.js';

/** A real Orthanc for one test suite: free loopback ports, a temporary folder, a short StableAge. */
export interface TestOrthanc {
  process: OrthancProcess;
  url: string;
  /** The temporary folder (storage, config, orthanc.log); removed by `stop()`. */
  directory: string;
  /** Calls Orthanc directly; throws on a status outside 2xx. */
  json<T = any>(method: string, uri: string, body?: unknown): Promise<T>;
  /** Stores a DICOM file directly (`POST /instances`) and returns Orthanc's answer. */
  upload(file: Uint8Array): Promise<{ ID: string; ParentStudy: string; ParentSeries: string; ParentPatient: string; Status: string }>;
  stop(): Promise<void>;
}

export interface TestOrthancOptions {
  configuration?: Record<string, unknown>;
  /** Credentials for `json`/`upload`, when the configuration enables authentication. */
  credentials?: { username: string; password: string };
}

/**
 * The Orthanc under test: Debian's own (1.10.1) by default, or the one inside the root folder named
 * by ORTHANC_TEST_ROOT (e.g. Debian 13's 1.12.7, made by scripts/prepare-orthanc-root.sh).
 */
export const testOrthancRoot: string | undefined = process.env.ORTHANC_TEST_ROOT || undefined;

export async function startTestOrthanc(options: TestOrthancOptions = {}): Promise<TestOrthanc> {
  const parent = testOrthancRoot ? join(testOrthancRoot, 'tmp') : tmpdir();
  const directory = await mkdtemp(join(parent, 'orthanc-recipes-test-'));
  const process = await OrthancProcess.start({
    storageDirectory: join(directory, 'storage'),
    rootDirectory: testOrthancRoot,
    configuration: { StableAge: 2, ...options.configuration },
  });
  const authorization = options.credentials
    ? `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString('base64')}`
    : undefined;
  const headers = (extra: Record<string, string> = {}) => (authorization ? { ...extra, authorization } : extra);
  const json = async (method: string, uri: string, body?: unknown) => {
    const answer = await fetch(`${process.url}${uri}`, {
      method,
      headers: headers(),
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await answer.text();
    if (!answer.ok) throw new Error(`${method} ${uri}: HTTP ${answer.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const upload = async (file: Uint8Array) => {
    const answer = await fetch(`${process.url}/instances`, {
      method: 'POST',
      headers: headers({ 'content-type': 'application/dicom' }),
      body: file,
    });
    if (!answer.ok) throw new Error(`upload: HTTP ${answer.status} ${await answer.text()}`);
    return answer.json();
  };
  return {
    process,
    get url() {
      return process.url;
    },
    directory,
    json,
    upload,
    async stop() {
      await process.stop();
      await rm(directory, { recursive: true, force: true });
    },
  } as TestOrthanc;
}
