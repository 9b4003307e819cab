import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OrthancProcess, getFreePort } from '../host/index.js';
import { isLoopbackHost } from '../host/remote-access.js';
import { eventually } from './helpers/changes.js';
import { cliPath, startHostProcess, type HostProcess } from './helpers/host.js';
import { basicAuth, rawRequest } from './helpers/http.js';
import { startTestOrthanc, testOrthancRoot, type TestOrthanc } from './helpers/orthanc.js';

const good = basicAuth('alice', 's3cret');
const withAuthentication = { AuthenticationEnabled: true, RegisteredUsers: { alice: 's3cret' } };

/** A host bound to every address is reached here through loopback only. */
const viaLoopback = (url: string) => url.replace('//0.0.0.0:', '//127.0.0.1:');

/** Runs the CLI until it exits; resolves with its exit code and what it wrote. */
async function runCli(config: Record<string, unknown>): Promise<{ code: number | null; output: string }> {
  const folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-remote-'));
  const file = join(folder, 'orthanc-recipes.json');
  await writeFile(file, JSON.stringify({ StateDirectory: './state', ...config }));
  const child = spawn(process.execPath, [cliPath, 'run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  await rm(folder, { recursive: true, force: true });
  return { code, output };
}

describe('isLoopbackHost', () => {
  it('tells loopback addresses from the others', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'])
      assert.equal(isLoopbackHost(host), true, host);
    for (const host of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'pacs.example', '::ffff:10.0.0.1'])
      assert.equal(isLoopbackHost(host), false, host);
  });
});

describe('remote access: the host never opens an unprotected Orthanc to the network', { timeout: 180_000 }, () => {
  let open: TestOrthanc;

  before(async () => {
    open = await startTestOrthanc();
  });

  after(async () => {
    await open?.stop();
  });

  it('refuses to start on 0.0.0.0 in front of an Orthanc that answers without credentials: exit 2, saying why and what to do', async () => {
    const { code, output } = await runCli({ Orthanc: { Url: open.url }, HttpServer: { Host: '0.0.0.0', Port: 0 } });
    assert.equal(code, 2, output);
    assert.match(output, /orthanc-recipes\.json: host: \/HttpServer\/Host: HttpServer\.Host is "0\.0\.0\.0", not a loopback address/);
    assert.match(output, /answers \/system without credentials/);
    assert.match(output, /"AuthenticationEnabled": true/);
    assert.match(output, /"AllowRemoteAccessWithoutAuthentication": true/);
    assert.doesNotMatch(output, /listening on/);
  });

  it('starts there when the configuration says AllowRemoteAccessWithoutAuthentication', async (t) => {
    const host = await startHostProcess({
      Orthanc: { Url: open.url },
      HttpServer: { Host: '0.0.0.0', AllowRemoteAccessWithoutAuthentication: true },
    });
    t.after(() => host.stop());
    assert.equal((await rawRequest(`${viaLoopback(host.url)}/system`)).status, 200);
  });

  it('starts in front of an Orthanc that requires credentials, answers 503 while Orthanc is away, and stays shut if it comes back open', async (t) => {
    const port = await getFreePort();
    const folders: string[] = [];
    let orthanc: OrthancProcess | undefined;
    const startOrthanc = async (configuration: Record<string, unknown>) => {
      const folder = await mkdtemp(join(testOrthancRoot ? join(testOrthancRoot, 'tmp') : tmpdir(), 'orthanc-recipes-remote-'));
      folders.push(folder);
      orthanc = await OrthancProcess.start({
        storageDirectory: join(folder, 'storage'),
        rootDirectory: testOrthancRoot,
        httpPort: port,
        configuration,
      });
    };
    let host: HostProcess | undefined;
    t.after(async () => {
      await host?.stop();
      await orthanc?.stop();
      for (const folder of folders) await rm(folder, { recursive: true, force: true });
    });

    await startOrthanc(withAuthentication);
    host = await startHostProcess({
      Orthanc: { Url: `http://127.0.0.1:${port}`, Username: 'alice', Password: 's3cret' },
      HttpServer: { Host: '0.0.0.0' },
      ChangeFeed: { PollIntervalMilliseconds: 50 },
    });
    const url = viaLoopback(host.url);
    assert.equal((await rawRequest(`${url}/system`)).status, 401);
    assert.equal((await rawRequest(`${url}/system`, { headers: { authorization: good } })).status, 200);

    // Orthanc goes away: the door shuts, with a JSON 503 that says why.
    await orthanc!.stop();
    await eventually(
      async () => (await rawRequest(`${url}/system`, { headers: { authorization: good } })).status === 503,
      30_000,
      'a 503 while Orthanc is away',
    );
    const away = await rawRequest(`${url}/system`, { headers: { authorization: good } });
    assert.match(
      JSON.parse(away.body.toString()).Message,
      /Orthanc became unreachable; the host checks that Orthanc still requires credentials/,
    );
    await host.log.waitFor(/^W .*Orthanc became unreachable: requests get 503 until Orthanc is seen to require credentials again/);

    // It comes back without authentication: the door stays shut, and the log says why.
    // Counted before Orthanc starts: the host may notice it (and log) before startOrthanc returns.
    const refusing = host.log.lines.length;
    await startOrthanc({});
    await host.log.waitFor(/^E .*refusing every request: HttpServer\.Host is "0\.0\.0\.0", not a loopback address/, 30_000, refusing);
    for (const headers of [undefined, { authorization: good }]) {
      const answer = await rawRequest(`${url}/system`, { headers });
      assert.equal(answer.status, 503);
      assert.match(answer.headers['content-type'] as string, /^application\/json/);
      assert.match(JSON.parse(answer.body.toString()).Message, /answers \/system without credentials/);
    }

    // It comes back with authentication again: requests go through.
    await orthanc!.stop();
    await startOrthanc(withAuthentication);
    await eventually(
      async () => (await rawRequest(`${url}/system`, { headers: { authorization: good } })).status === 200,
      30_000,
      'the door open again',
    );
    assert.equal((await rawRequest(`${url}/system`)).status, 401);
    await host.log.waitFor(/^I .*Orthanc requires credentials: requests go through again/);
  });
});
