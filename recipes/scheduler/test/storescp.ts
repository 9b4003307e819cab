import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:net';

/** dcmtk's storescp on a loopback port: a real DICOM peer that accepts every store. */
export async function startStoreScp(port: number): Promise<{ directory: string; stop(): Promise<void> }> {
  const directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-storescp-'));
  const child: ChildProcess = spawn('storescp', ['--output-directory', directory, String(port)], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  for (let attempt = 0; ; attempt += 1) {
    const listening = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => (socket.end(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (listening) break;
    if (attempt > 100 || child.exitCode !== null) throw new Error(`storescp did not listen on ${port}`);
    await sleep(50);
  }
  return {
    directory,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await rm(directory, { recursive: true, force: true });
    },
  };
}
