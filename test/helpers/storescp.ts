import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { getFreePort } from '../../host/orthanc-process.js';

/** dcmtk's `storescp` as a DICOM destination: one port, one output folder, files named `<Modality>.<SOPInstanceUID>`. */
export interface StoreScp {
  port: number;
  aet: string;
  directory: string;
  /** The SOPInstanceUIDs received so far (complete files only). */
  received(): Promise<string[]>;
  /** When each received file was last written (ms since the epoch), by SOPInstanceUID. */
  receivedAt(): Promise<Map<string, number>>;
  /** Starts it again on the same port and folder (after `stop`); does nothing while it runs. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

/**
 * Starts `storescp` on a free loopback port (or `port`), accepting every transfer syntax, and
 * resolves once it accepts connections. The destination's entry for Orthanc's `DicomModalities`
 * is `[aet, "127.0.0.1", port]`.
 */
export async function startStoreScp(options: { aet?: string; port?: number } = {}): Promise<StoreScp> {
  const aet = options.aet ?? 'STORESCP';
  const port = options.port ?? (await getFreePort());
  const directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-storescp-'));
  let child: ChildProcess | undefined;
  let output = '';

  const start = async () => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    // TCP_NODELAY=1: dcmtk otherwise leaves Nagle's algorithm on, and each small instance waits
    // for a delayed ACK (about 90 ms an instance on loopback instead of 3 ms).
    const spawned = spawn('storescp', ['-aet', aet, '-od', directory, '+xa', '-dhl', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TCP_NODELAY: '1' },
    });
    child = spawned;
    spawned.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    spawned.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (spawned.exitCode !== null) break;
      if (await accepts(port)) return;
      await sleep(50);
    }
    spawned.kill('SIGKILL');
    throw new Error(`storescp did not start on port ${port}: ${output}`);
  };

  // storescp writes to a temporary name while receiving, then to the final name.
  const files = async () => (await readdir(directory)).filter((name) => /^[A-Z]{2}\.[0-9.]+$/.test(name));
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGTERM');
    await exited;
  };

  await start();
  return {
    port,
    aet,
    directory,
    received: async () => (await files()).map((name) => name.slice(3)),
    receivedAt: async () => {
      const times = new Map<string, number>();
      for (const name of await files()) times.set(name.slice(3), (await stat(join(directory, name))).mtimeMs);
      return times;
    },
    start,
    stop,
    async dispose() {
      await stop();
      await rm(directory, { recursive: true, force: true });
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
