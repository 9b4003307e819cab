import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../shared/binding/index.js';
import { notifySystemdReady } from '../cli/systemd-notify.js';
import { eventually } from './helpers/changes.js';
import { cliPath, repositoryRoot, startHostProcess } from './helpers/host.js';
import { rawRequest } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';

const unitFile = join(repositoryRoot, 'deploy', 'orthanc-recipes.service');

function run(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0, output: stdout + stderr }),
    );
  });
}

/** The unit's `Key=value` lines (a key given twice keeps every value). */
function settings(unit: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) found.set(match[1]!, [...(found.get(match[1]!) ?? []), match[2]!]);
  }
  return found;
}

/**
 * A NOTIFY_SOCKET as systemd makes it: a unix datagram socket (Node has none, so python3 binds
 * it), printing each message it receives on a line of its own.
 */
async function startNotifySocket(folder: string): Promise<{ path: string; messages: string[]; stop(): Promise<void> }> {
  const path = join(folder, 'notify.sock');
  const script = [
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    's.bind(sys.argv[1])',
    'print("bound", flush=True)',
    'while True:',
    // recv without room for ancillary data: the barrier's file descriptor is closed at once, which
    // is how systemd acknowledges it.
    '    print(s.recv(4096).decode().replace("\\n", " "), flush=True)',
  ].join('\n');
  const child: ChildProcess = spawn('python3', ['-c', script, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  let rest = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    messages.push(...lines);
  });
  await eventually(() => messages.includes('bound'), 10_000, 'the notify socket to be bound');
  return {
    path,
    messages,
    async stop() {
      child.kill();
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}

describe('the systemd unit deploy/orthanc-recipes.service', () => {
  it('passes systemd-analyze verify without a warning (ExecStart pointed at this checkout)', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-unit-'));
    try {
      // verify checks that ExecStart's program exists: the installed path becomes this checkout's CLI.
      const unit = (await readFile(unitFile, 'utf8')).replace(/^ExecStart=\S+/m, `ExecStart=${cliPath}`);
      assert.notEqual(unit, await readFile(unitFile, 'utf8'), 'the unit has an ExecStart line');
      await writeFile(join(folder, 'orthanc-recipes.service'), unit);
      const verified = await run('systemd-analyze', ['verify', join(folder, 'orthanc-recipes.service')]);
      assert.equal(verified.code, 0, verified.output);
      // verify exits 0 on a setting it ignores ("Failed to parse ..., ignoring"): any output is a fault.
      assert.equal(verified.output.trim(), '', verified.output);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('waits for Orthanc, restarts on failure but not on a configuration error, runs as its own user, hardened, notifies', async () => {
    const unit = settings(await readFile(unitFile, 'utf8'));
    const one = (key: string) => unit.get(key)?.at(-1);
    assert.match(one('After') ?? '', /\borthanc\.service\b/);
    assert.match(one('Wants') ?? '', /\borthanc\.service\b/);
    assert.equal(one('Type'), 'notify');
    assert.equal(one('NotifyAccess'), 'all', 'systemd-notify is a child process of the host');
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('RestartPreventExitStatus'), '2');
    assert.equal(one('User'), 'orthanc-recipes');
    assert.equal(one('StateDirectory'), 'orthanc-recipes');
    for (const [key, value] of [
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
    ]) {
      assert.equal(one(key!), value, key);
    }
    assert.equal(one('MemoryDenyWriteExecute'), undefined, "V8's JIT needs writable and executable memory");
  });
});

describe('readiness: READY=1 over NOTIFY_SOCKET once the host listens', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let folder: string;

  before(async () => {
    orthanc = await startTestOrthanc();
    folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-notify-'));
  });

  after(async () => {
    await orthanc?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('tells the socket READY=1 with the host as main process, after it listens', async () => {
    const socket = await startNotifySocket(folder);
    // The host inherits this process's environment, as it would systemd's.
    process.env.NOTIFY_SOCKET = socket.path;
    let host;
    try {
      host = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { hello: { Enabled: true } } }, folder);
    } finally {
      delete process.env.NOTIFY_SOCKET;
    }
    try {
      await eventually(() => socket.messages.some((message) => /\bREADY=1\b/.test(message)), 20_000, 'READY=1');
      const ready = socket.messages.find((message) => /\bREADY=1\b/.test(message))!;
      assert.match(ready, new RegExp(`\\bMAINPID=${host.child.pid}\\b`));
      assert.equal((await rawRequest(`${host.url}/tata`)).status, 200, 'the host answers its routes');
      assert.equal(await host.stop(), 0, 'SIGTERM stops the host cleanly');
    } finally {
      await host.stop();
      await socket.stop();
    }
  });

  it('without NOTIFY_SOCKET does nothing; with a socket nobody reads, warns and goes on', async () => {
    const lines: string[] = [];
    const log = createLogger('host', { write: (line) => void lines.push(line) });
    await notifySystemdReady(log, {});
    assert.deepEqual(lines, []);
    await notifySystemdReady(log, { ...process.env, NOTIFY_SOCKET: join(folder, 'nobody-listens.sock') });
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /could not tell systemd that the host is ready/);
  });
});
