import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OrthancProcess, getFreePort } from '../../host/orthanc-process.js';
import { generateStudy } from './dicom.js';
import { startHostProcess, type HostProcess } from './host.js';
import { testOrthancRoot } from './orthanc.js';
import { orthancPlugins, startTestPostgres, type TestPostgres } from './postgres.js';

/**
 * A cluster as a site runs it: PostgreSQL holding Orthanc's index and the hosts' state, several
 * Orthancs on that index with one storage folder (Debian's orthanc-postgresql plugin, `Lock`
 * false), one host beside each Orthanc, and storescp as the destination, counting every
 * reception (a study sent twice shows as its instances received twice).
 */
export interface TestCluster {
  postgres: TestPostgres;
  orthancs: OrthancProcess[];
  hosts: (HostProcess | undefined)[];
  destination: CountingStoreScp;
  /** Starts (or starts again, same folder and host id) host `n` beside Orthanc `n`. */
  startHost(n: number, extra?: Record<string, unknown>): Promise<HostProcess>;
  /** The cluster's folder (storage, hosts' folders, storescp's files). */
  folder: string;
  /** Stores a small study (one series of `instances`) through Orthanc `n`; resolves with its SOPInstanceUIDs. */
  upload(n: number, label: string, instances?: number): Promise<string[]>;
  dispose(): Promise<void>;
}

export interface CountingStoreScp {
  port: number;
  aet: string;
  /** The SOPInstanceUID of every reception, in order (the same one twice when it was received twice). */
  receptions(): Promise<string[]>;
  stop(): Promise<void>;
}

/** `storescp` that appends each received file's name to a log (`--exec-on-reception`). */
export async function startCountingStoreScp(directory: string, options: { fork?: boolean } = {}): Promise<CountingStoreScp> {
  const port = await getFreePort();
  const aet = 'STORESCP';
  const out = join(directory, 'received');
  const log = join(directory, 'receptions.log');
  await mkdir(out, { recursive: true });
  await writeFile(log, '');
  // --fork: one process per association, so that several senders are served at once.
  const child: ChildProcess = spawn(
    'storescp',
    [...(options.fork ? ['--fork'] : []), '-aet', aet, '-od', out, '+xa', '-xcr', `echo #f >> ${log}`, String(port)],
    {
      stdio: 'ignore',
      env: { ...process.env, TCP_NODELAY: '1' },
    },
  );
  for (let waited = 0; !(await accepts(port)); waited += 50) {
    if (waited > 10_000 || child.exitCode !== null) throw new Error(`storescp did not start on port ${port}`);
    await sleep(50);
  }
  return {
    port,
    aet,
    receptions: async () =>
      (await readFile(log, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((name) => name.replace(/^[A-Z]{2}\./, '')),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export async function startTestCluster(options: {
  orthancs: number;
  hostConfig: (n: number, folder: string) => Record<string, unknown>;
  forkingDestination?: boolean;
}): Promise<TestCluster> {
  const parent = testOrthancRoot ? join(testOrthancRoot, 'tmp') : tmpdir();
  const folder = await mkdtemp(join(parent, 'orthanc-recipes-cluster-'));
  const seen = (path: string) => (testOrthancRoot ? `/${relative(testOrthancRoot, path)}` : path);
  const postgres = await startTestPostgres();
  await postgres.createDatabase('orthanc');
  const destination = await startCountingStoreScp(folder, { fork: options.forkingDestination });
  const storage = join(folder, 'storage');
  await mkdir(storage, { recursive: true });
  const orthancs: OrthancProcess[] = [];
  for (let n = 0; n < options.orthancs; n += 1) {
    orthancs.push(
      await OrthancProcess.start({
        storageDirectory: join(folder, `orthanc-${n}`),
        rootDirectory: testOrthancRoot,
        configuration: {
          Name: `cluster-${n}`,
          StableAge: 2,
          StorageDirectory: seen(storage),
          Plugins: [orthancPlugins.postgreSqlIndex],
          PostgreSQL: {
            EnableIndex: true,
            EnableStorage: false,
            Host: '127.0.0.1',
            Port: postgres.port,
            Database: 'orthanc',
            Username: 'postgres',
            Password: '',
            Lock: false,
          },
          DicomModalities: { scp: [destination.aet, '127.0.0.1', destination.port] },
        },
      }),
    );
  }
  const hosts: (HostProcess | undefined)[] = [];
  const cluster: TestCluster = {
    folder,
    postgres,
    orthancs,
    hosts,
    destination,
    async startHost(n, extra = {}) {
      const directory = join(folder, `host-${n}`);
      await mkdir(directory, { recursive: true });
      // CLUSTER_TEST_LOGS=folder keeps the log of a host replaced (killed, or dead) by a new one.
      const previous = hosts[n];
      if (previous && process.env.CLUSTER_TEST_LOGS) {
        await writeFile(join(process.env.CLUSTER_TEST_LOGS, `host-${n}-until-${Date.now()}.log`), previous.log.lines.join('\n')).catch(
          () => undefined,
        );
      }
      const host = await startHostProcess(
        {
          Orthanc: { Url: orthancs[n]!.url },
          StateDatabase: { Engine: 'PostgreSQL', ConnectionString: postgres.connectionString('orthanc'), LeaseSeconds: 3 },
          ChangeFeed: { PollIntervalMilliseconds: 100 },
          LogLevel: 'debug',
          ...options.hostConfig(n, folder),
          ...extra,
        },
        directory,
      );
      hosts[n] = host;
      return host;
    },
    async upload(n, label, instances = 2) {
      const study = generateStudy({
        patientId: `CLUSTER-${label}`,
        patientName: 'Cluster^Test',
        studyDate: '20240601',
        series: [{ modality: 'CT', instances }],
        size: 16,
      });
      for (const instance of study) {
        const answer = await fetch(`${orthancs[n]!.url}/instances`, {
          method: 'POST',
          headers: { 'content-type': 'application/dicom' },
          body: instance.file,
        });
        if (!answer.ok) throw new Error(`upload to Orthanc ${n}: HTTP ${answer.status} ${await answer.text()}`);
      }
      return study.map((instance) => instance.sopInstanceUid);
    },
    async dispose() {
      await Promise.allSettled(hosts.flatMap((host) => (host ? [host.stop('SIGKILL')] : [])));
      await Promise.allSettled(orthancs.map((orthanc) => orthanc.stop()));
      await destination.stop();
      await postgres.dispose();
      await rm(folder, { recursive: true, force: true });
    },
  };
  return cluster;
}

/** Kills an Orthanc at once (SIGKILL), as a crash would. */
export function killOrthanc(orthanc: OrthancProcess): void {
  (orthanc as unknown as { child?: ChildProcess }).child?.kill('SIGKILL');
}
