import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, isAbsolute, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface OrthancProcessOptions {
  /** Folder for the index, the DICOM files, the generated configuration and `orthanc.log`. */
  storageDirectory: string;
  /** The Orthanc binary. Default `Orthanc`, looked up on PATH and in /usr/sbin. */
  executable?: string;
  /**
   * A root folder holding another Orthanc (e.g. Debian 13's, made by debootstrap): Orthanc runs
   * as `chroot <root> /usr/sbin/Orthanc`, and `storageDirectory` must lie inside the root.
   */
  rootDirectory?: string;
  /** Extra Orthanc configuration (e.g. `{ StableAge: 2 }`), over the launcher's own. */
  configuration?: Record<string, unknown>;
  /** Fixed ports; free loopback ports are chosen when absent. */
  httpPort?: number;
  dicomPort?: number;
  /** How long to wait for Orthanc's HTTP server. Default 60 s. */
  startTimeoutMs?: number;
  /** Aborts the start: Orthanc, if spawned already, is stopped and `start` rejects with the reason. */
  signal?: AbortSignal;
}

/** Thrown when the Orthanc binary is missing or Orthanc does not come up. */
export class OrthancLaunchError extends Error {
  constructor(
    readonly code: 'ORC_ERR_ORTHANC_MISSING' | 'ORC_ERR_ORTHANC_START',
    message: string,
  ) {
    super(message);
    this.name = 'OrthancLaunchError';
  }
}

/** `path` as seen from inside `root` (`/tmp/x` for `<root>/tmp/x`); throws when it lies outside. */
function insideRoot(root: string, path: string): string {
  const inside = relative(root, path);
  if (inside.startsWith('..') || isAbsolute(inside)) throw new TypeError(`${path} is not inside the Orthanc root ${root}`);
  return `/${inside}`;
}

/**
 * Runs `start` (a spawn) with the umask 077, so that the child creates its files 0600 and its
 * folders 0700 (Orthanc's index and DICOM files are patient data); the umask is restored at once.
 * A child inherits the umask at spawn, and nothing else runs in between (all synchronous).
 */
function withPrivateFiles<T>(start: () => T): T {
  let previous: number | undefined;
  try {
    previous = process.umask(0o077);
  } catch {
    // In a worker thread the umask cannot be set; the storage folder is 0700 all the same.
  }
  try {
    return start();
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
}

/** A free TCP port on 127.0.0.1 (free when asked; Orthanc retries with others if it is taken). */
export function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function findExecutable(name: string): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const folder of folders) {
    const candidate = join(folder, name);
    if (folder && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * An Orthanc child process on loopback ports with its own storage folder: the host's embedded
 * Orthanc, and the real Orthanc of every test suite and benchmark. It never touches the system
 * service's configuration or port 8042.
 */
export class OrthancProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly options: OrthancProcessOptions,
    readonly executable: string,
    public httpPort: number,
    public dicomPort: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** The AET Orthanc answers to (its `DicomAet`, `ORTHANC` unless configured). */
  get aet(): string {
    const aet = this.options.configuration?.DicomAet;
    return typeof aet === 'string' ? aet : 'ORTHANC';
  }

  get logFile(): string {
    return join(this.options.storageDirectory, 'orthanc.log');
  }

  static async start(options: OrthancProcessOptions): Promise<OrthancProcess> {
    const executable = options.rootDirectory
      ? findExecutable(join(options.rootDirectory, 'usr/sbin/Orthanc')) && '/usr/sbin/Orthanc'
      : findExecutable(options.executable ?? 'Orthanc');
    if (options.rootDirectory) insideRoot(options.rootDirectory, options.storageDirectory);
    if (!executable) {
      throw new OrthancLaunchError(
        'ORC_ERR_ORTHANC_MISSING',
        `the Orthanc binary "${options.executable ?? 'Orthanc'}" was not found: install Debian's orthanc package ` +
          `(apt-get install orthanc), or set "Orthanc": {"Url": ...} to use a running Orthanc`,
      );
    }
    mkdirSync(options.storageDirectory, { recursive: true, mode: 0o700 });
    chmodSync(options.storageDirectory, 0o700);
    for (let attempt = 1; ; attempt += 1) {
      const orthanc = new OrthancProcess(
        options,
        executable,
        options.httpPort ?? (await getFreePort()),
        options.dicomPort ?? (await getFreePort()),
      );
      try {
        await orthanc.launch();
        return orthanc;
      } catch (error) {
        options.signal?.throwIfAborted();
        const fixedPorts = options.httpPort !== undefined || options.dicomPort !== undefined;
        if (attempt >= 3 || fixedPorts) throw error;
      }
    }
  }

  private async launch(): Promise<void> {
    const { storageDirectory, rootDirectory } = this.options;
    // Paths as Orthanc sees them: inside the root when it runs under chroot.
    const seen = (path: string) => (rootDirectory ? insideRoot(rootDirectory, path) : path);
    const configFile = join(storageDirectory, 'orthanc.json');
    const configuration = {
      Name: 'orthanc-recipes',
      StorageDirectory: seen(storageDirectory),
      IndexDirectory: seen(storageDirectory),
      HttpPort: this.httpPort,
      DicomPort: this.dicomPort,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      Plugins: [],
      ...this.options.configuration,
    };
    // The configuration may hold RegisteredUsers: readable by this user only.
    writeFileSync(configFile, JSON.stringify(configuration, null, 2), { mode: 0o600 });
    chmodSync(configFile, 0o600);
    const log = createWriteStream(this.logFile, { flags: 'a', mode: 0o600 });
    const child = withPrivateFiles(() =>
      rootDirectory
        ? spawn('chroot', [rootDirectory, this.executable, seen(configFile)], { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(this.executable, [configFile], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let exitCode: number | null | undefined;
    child.once('exit', (code) => (exitCode = code));
    child.once('error', () => (exitCode = -1));

    const deadline = Date.now() + (this.options.startTimeoutMs ?? 60_000);
    const signal = this.options.signal;
    while (Date.now() < deadline) {
      if (exitCode !== undefined || signal?.aborted) break;
      try {
        // Any HTTP answer, 401 included, means Orthanc's HTTP server is up.
        await fetch(`${this.url}/system`, { signal: AbortSignal.timeout(1000) });
        return;
      } catch {
        await sleep(100);
      }
    }
    await this.stop();
    signal?.throwIfAborted();
    const tail = readFileSync(this.logFile, 'utf8').split('\n').slice(-15).join('\n');
    throw new OrthancLaunchError('ORC_ERR_ORTHANC_START', `Orthanc did not start (see ${this.logFile}):\n${tail}`);
  }

  /** Stops Orthanc (SIGTERM, then SIGKILL after 15 s). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(killer);
  }

  /** Stops Orthanc and starts it again on the same ports with the same storage. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }
}
