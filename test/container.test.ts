import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getFreePort } from '../host/orthanc-process.js';
import { eventually } from './helpers/changes.js';
import { generateStudy } from './helpers/dicom.js';
import { repositoryRoot } from './helpers/host.js';
import { rawRequest } from './helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';
import { startStoreScp, type StoreScp } from './helpers/storescp.js';

/**
 * The Containerfile, built and run with rootful podman as these machines allow it: the runc
 * runtime, cgroupfs and no default ulimits (a containers.conf named by CONTAINERS_CONF), on a
 * local base image (scripts/prepare-container-base.sh: a debootstrap root with Node, cached in
 * /var/cache/orthanc-recipes) since no image registry is reachable. The build reaches the npm
 * registry (--network=host) and compiles better-sqlite3: minutes, so CI runs this file once
 * (ORC_SKIP_CONTAINER_TEST=1 skips it in the other runs). The container runs with the host's
 * network against a real Orthanc and a storescp started here.
 */
const skip = process.env.ORC_SKIP_CONTAINER_TEST === '1' ? 'ORC_SKIP_CONTAINER_TEST=1' : false;
const image = 'localhost/orthanc-recipes:test';

let podmanEnv: NodeJS.ProcessEnv = process.env;

function run(command: string, args: string[], timeout = 1_800_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const { NODE_TEST_CONTEXT: _context, ...env } = podmanEnv;
  return new Promise((resolve) => {
    execFile(command, args, { cwd: repositoryRoot, env, timeout, maxBuffer: 64 * 2 ** 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0, stdout, stderr }),
    );
  });
}

async function podman(...args: string[]): Promise<string> {
  const result = await run('podman', args);
  assert.equal(result.code, 0, `podman ${args.join(' ')}:\n${result.stderr}`);
  return result.stdout.trim();
}

describe('the container image (Containerfile), built with podman and run beside a real Orthanc', { timeout: 2_400_000, skip }, () => {
  let folder: string;
  let orthanc: TestOrthanc;
  let scp: StoreScp;
  let baseSeconds = 0;
  let buildSeconds = 0;
  const name = `orthanc-recipes-test-${randomBytes(4).toString('hex')}`;
  const volume = `${name}-state`;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'orthanc-recipes-container-'));
    const conf = join(folder, 'containers.conf');
    await writeFile(conf, '[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n\n[containers]\ndefault_ulimits = []\n');
    podmanEnv = { ...process.env, CONTAINERS_CONF: conf };
    const preparing = Date.now();
    const base = await run('sh', ['scripts/prepare-container-base.sh']);
    baseSeconds = (Date.now() - preparing) / 1000;
    assert.equal(base.code, 0, base.stderr);
    const baseImage = base.stdout.trim();
    const started = Date.now();
    // --format docker: the OCI format has no HEALTHCHECK. --network=host: the build reaches the npm registry as this machine does.
    await podman(
      'build',
      '--format',
      'docker',
      '--network=host',
      '--build-arg',
      `BUILD_IMAGE=${baseImage}`,
      '--build-arg',
      `BASE_IMAGE=${baseImage}`,
      '-t',
      image,
      '-f',
      'Containerfile',
      '.',
    );
    buildSeconds = (Date.now() - started) / 1000;
    scp = await startStoreScp({ aet: 'ARCHIVE' });
    orthanc = await startTestOrthanc({ configuration: { DicomModalities: { archive: ['ARCHIVE', '127.0.0.1', scp.port] } } });
  });

  after(async () => {
    await run('podman', ['rm', '--force', '--time', '0', name]);
    await run('podman', ['volume', 'rm', '--force', volume]);
    await orthanc?.stop();
    await scp?.dispose();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('runs as a user of its own, keeps its state in a volume, checks its health on /recipes/health/live', async (t) => {
    t.diagnostic(
      `base image ready in ${baseSeconds.toFixed(0)} s (cached after the first run), podman build took ${buildSeconds.toFixed(0)} s`,
    );
    // podman shows the health check beside Config, docker inside it.
    const [inspected] = JSON.parse(await podman('image', 'inspect', image)) as Array<{
      Config: { User?: string; Volumes?: Record<string, unknown>; Healthcheck?: { Test?: string[] }; Cmd?: string[] };
      Healthcheck?: { Test?: string[] };
      Size?: number;
    }>;
    t.diagnostic(`image size ${((inspected!.Size ?? 0) / 2 ** 20).toFixed(0)} MB (on the test's base, which carries a compiler)`);
    assert.ok(inspected!.Config.User && !/^(root|0)(:|$)/.test(inspected!.Config.User), `user ${inspected!.Config.User}`);
    assert.ok(inspected!.Config.Volumes && '/var/lib/orthanc-recipes' in inspected!.Config.Volumes);
    assert.match((inspected!.Healthcheck ?? inspected!.Config.Healthcheck)?.Test?.join(' ') ?? '', /\/recipes\/health\/live/);
    const id = await podman('run', '--rm', '--network=none', image, 'id', '-u');
    assert.notEqual(id, '0');
  });

  it('routes a study from a real Orthanc to a storescp, then stops cleanly on SIGTERM (exit code 0)', async () => {
    const port = await getFreePort();
    const config = join(folder, 'orthanc-recipes.json');
    await writeFile(
      config,
      JSON.stringify({
        Orthanc: { Url: orthanc.url },
        HttpServer: { Host: '127.0.0.1', Port: port },
        StateDirectory: '/var/lib/orthanc-recipes',
        Recipes: { autorouting: { Enabled: true, Rules: [{ Name: 'everything', Destinations: ['archive'] }] } },
      }),
      { mode: 0o644 },
    );
    // The port as the HEALTHCHECK reads it (the configuration file's port is not in its reach).
    await podman(
      'run',
      '--detach',
      '--name',
      name,
      '--network=host',
      '--env',
      `ORTHANC_RECIPES__HttpServer__Port=${port}`,
      '--volume',
      `${config}:/etc/orthanc-recipes/orthanc-recipes.json:ro`,
      '--volume',
      `${volume}:/var/lib/orthanc-recipes`,
      image,
    );
    const url = `http://127.0.0.1:${port}`;
    try {
      await eventually(
        async () => (await rawRequest(`${url}/recipes/autorouting/status`).catch(() => ({ status: 0 }))).status === 200,
        60_000,
        'the host in the container to serve autorouting',
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${(await run('podman', ['logs', name])).stdout}`, { cause: error });
    }

    const instances = generateStudy({
      patientId: 'CONTAINER-1',
      patientName: 'Container^Test',
      studyDate: '20240101',
      series: [{ modality: 'CT', instances: 2 }],
    });
    for (const instance of instances) await orthanc.upload(instance.file);
    const expected = instances.map((instance) => instance.sopInstanceUid).sort();
    await eventually(
      async () => {
        const received = await scp.received();
        return expected.every((uid) => received.includes(uid));
      },
      60_000,
      'the study at the storescp',
    );
    // The image's HEALTHCHECK asks /recipes/health/live on the configured port: healthy exactly
    // when that route answers 200 (port and path right, node's fetch in the image works).
    const live = (await rawRequest(`${url}/recipes/health/live`)).status;
    const checked = await run('podman', ['healthcheck', 'run', name]);
    assert.equal(
      checked.code === 0,
      live === 200,
      `GET /recipes/health/live answered ${live}; podman healthcheck run: ${checked.code} ${checked.stdout}${checked.stderr}`,
    );

    // The state database is in the volume, written by the container's own user.
    assert.match(await podman('exec', name, 'ls', '/var/lib/orthanc-recipes'), /\S/);

    await podman('stop', '--time', '60', name);
    assert.equal(await podman('inspect', name, '--format', '{{.State.ExitCode}}'), '0');
    const logs = await run('podman', ['logs', name]);
    assert.match(logs.stdout + logs.stderr, /SIGTERM received, stopping/);
  });
});
