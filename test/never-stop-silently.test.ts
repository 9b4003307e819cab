import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { defineRecipe } from '../shared/recipe.js';
import { receivedAll, startRouter, storeStudyOverDicom, uploadStudy, type UploadedStudy } from '../recipes/autorouting/test/fixtures.js';
import { eventually } from './helpers/changes.js';
import { startHostInProcess, startHostProcess, type HostProcess } from './helpers/host.js';
import { startTestOrthanc, type TestOrthanc } from './helpers/orthanc.js';
import { startStoreScp, type StoreScp } from './helpers/storescp.js';

/** Autorouting to storescp, with quick retries: outages end in seconds. */
const routing = { Rules: [{ Name: 'all', Destinations: ['a'] }], Retry: { InitialDelaySeconds: 1, MaxDelaySeconds: 2 } };

async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const answer = await fetch(url, { headers });
  const text = await answer.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: answer.status, body, headers: answer.headers };
}

describe('never stop silently: a recipe waits for Orthanc, and no study is lost, whatever the restart order', { timeout: 600_000 }, () => {
  let orthanc: TestOrthanc;
  let scp: StoreScp;
  let directory: string;
  let host: HostProcess | undefined;

  before(async () => {
    scp = await startStoreScp({ aet: 'SCPA' });
    orthanc = await startTestOrthanc({ configuration: { DicomModalities: { a: ['SCPA', '127.0.0.1', scp.port] } } });
  });

  afterEach(async () => {
    await host?.stop();
    host = undefined;
    await orthanc.process.restart();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  after(async () => {
    await host?.stop();
    await orthanc?.stop();
    await scp?.dispose();
  });

  /** A first run that leaves state behind (cursor, ledger), as on a machine that ran the host before. */
  const firstRun = async () => {
    directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-waiting-'));
    const first = await startRouter(orthanc, routing, directory);
    await first.log.waitFor(/autorouting] enabled/);
    const code = await first.stop();
    assert.equal(code, 0, first.log.lines.join('\n'));
  };

  it('host first, then Orthanc (cold start): the recipe waits, its routes answer 503, then it routes every study', async () => {
    await firstRun();
    // A study arrives while the host is down, then Orthanc stops too.
    const whileHostDown = await uploadStudy(orthanc);
    await orthanc.process.stop();
    const router = (host = await startRouter(orthanc, routing, directory));
    await router.log.waitFor(/autorouting] setup failed because Orthanc is unavailable; waiting/);
    const status = await getJson(`${router.url}/recipes/autorouting/status`);
    assert.equal(status.status, 503);
    assert.equal(typeof status.body.Message, 'string');
    const ready = await getJson(`${router.url}/recipes/health/ready`);
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body, { Status: 'not ready', Reasons: ['Orthanc is unreachable', 'recipe autorouting is waiting for Orthanc'] });
    assert.equal((await getJson(`${router.url}/recipes/health/live`)).status, 200);

    await orthanc.process.restart();
    const afterOrthancBack = await storeStudyOverDicom(orthanc, 'MODALITY');
    await router.log.waitFor(/autorouting] set up after waiting/);
    await receivedAll(scp, [...whileHostDown.sops, ...afterOrthancBack.sops], 60_000);
    assert.equal((await getJson(`${router.url}/recipes/autorouting/status`)).status, 200);
    await eventually(async () => (await getJson(`${router.url}/recipes/health/ready`)).status === 200, 10_000, 'ready');
  });

  it('Orthanc first, then the host: every study that arrived meanwhile is routed', async () => {
    await firstRun();
    await orthanc.process.stop();
    await orthanc.process.restart();
    const meanwhile = await uploadStudy(orthanc);
    const router = (host = await startRouter(orthanc, routing, directory));
    const later = await uploadStudy(orthanc);
    await receivedAll(scp, [...meanwhile.sops, ...later.sops], 60_000);
    assert.equal(
      router.log.lines.some((line) => /setup failed because Orthanc is unavailable/.test(line)),
      false,
    );
  });

  it('both at once: every study is routed', async () => {
    await firstRun();
    await orthanc.process.stop();
    const [started] = await Promise.all([startRouter(orthanc, routing, directory), orthanc.process.restart()]);
    host = started;
    const studies: UploadedStudy[] = [await uploadStudy(orthanc), await storeStudyOverDicom(orthanc, 'MODALITY')];
    await receivedAll(
      scp,
      studies.flatMap((study) => study.sops),
      60_000,
    );
    await eventually(async () => (await getJson(`${host!.url}/recipes/health/ready`)).status === 200, 20_000, 'ready');
  });

  it("Orthanc restarted during a recipe's setup: it waits, is set up again, and routing delivers every study", async () => {
    let setups = 0;
    // A recipe whose first setup reads Orthanc, sees it stop, and reads it again.
    const restartsOrthanc = defineRecipe({
      meta: {
        id: 'restarts-orthanc',
        title: 'Probe',
        description: 'Restarts Orthanc in the middle of its setup.',
        routes: ['GET /restarts-orthanc/{id}'],
        events: [],
        destructive: false,
      },
      schema: { type: 'object', properties: {}, additionalProperties: false },
      async setup({ orthanc: binding }) {
        setups += 1;
        await binding.restApiGet('/system');
        if (setups === 1) await orthanc.process.stop();
        await binding.restApiGet('/statistics');
        binding.registerRestCallback('/restarts-orthanc/([^/]+)', (output) => output.answerJson({ Running: true }));
      },
    });
    const {
      host: inProcess,
      url,
      log,
    } = await startHostInProcess(
      {
        Orthanc: { Url: orthanc.url },
        ChangeFeed: { PollIntervalMilliseconds: 100 },
        Recipes: { autorouting: { Enabled: true, ...routing }, 'restarts-orthanc': { Enabled: true } },
      },
      [restartsOrthanc],
    );
    try {
      await log.waitFor(/restarts-orthanc] setup failed because Orthanc is unavailable; waiting/);
      await orthanc.process.restart();
      const study = await uploadStudy(orthanc);
      await log.waitFor(/restarts-orthanc] set up after waiting/, 30_000);
      assert.equal(setups >= 2, true);
      const answer = await getJson(`${url}/restarts-orthanc/x`);
      assert.deepEqual([answer.status, answer.body], [200, { Running: true }]);
      await receivedAll(scp, study.sops, 60_000);
    } finally {
      await inProcess.close();
    }
  });

  it('wrong credentials, then fixed: the recipe shows as waiting in GET /recipes, then routes', async () => {
    const users = { admin: 'right' };
    const authorization = { authorization: `Basic ${Buffer.from('admin:right').toString('base64')}` };
    const secured = await startTestOrthanc({
      configuration: { AuthenticationEnabled: true, RegisteredUsers: users, DicomModalities: { a: ['SCPA', '127.0.0.1', scp.port] } },
      credentials: { username: 'admin', password: 'right' },
    });
    directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-waiting-'));
    try {
      // The first run reads the change cursor with the right password, then the password is "rotated".
      const first = await startHostProcess(
        { Orthanc: { Url: secured.url, Username: 'admin', Password: 'right' }, Recipes: { autorouting: { Enabled: true, ...routing } } },
        directory,
      );
      await first.log.waitFor(/autorouting] enabled/);
      await first.stop();
      const router = (host = await startHostProcess(
        {
          Orthanc: { Url: secured.url, Username: 'router', Password: 'new' },
          ChangeFeed: { PollIntervalMilliseconds: 100 },
          Recipes: { autorouting: { Enabled: true, ...routing } },
        },
        directory,
      ));
      await router.log.waitFor(/autorouting] setup failed because Orthanc is unavailable; waiting.*401/);
      const recipes = await getJson(`${router.url}/recipes`, authorization);
      const autorouting = recipes.body.Recipes.find((r: { Id: string }) => r.Id === 'autorouting');
      assert.equal(autorouting.Status, 'waiting');
      assert.match(autorouting.Error, /401/);
      const ready = await getJson(`${router.url}/recipes/health/ready`);
      assert.deepEqual(ready.body.Reasons, ["Orthanc refuses the host's credentials", 'recipe autorouting is waiting for Orthanc']);
      const waiting = await getJson(`${router.url}/recipes/autorouting/status`, authorization);
      assert.equal(waiting.status, 503);
      assert.match(waiting.body.Message, /waiting/);
      assert.ok(Number(waiting.headers.get('retry-after')) >= 1);
      const metrics = await (await fetch(`${router.url}/recipes/metrics`, { headers: authorization })).text();
      assert.match(metrics, /orthanc_recipes_recipe_state\{recipe="autorouting",state="waiting"\} 1/);

      // The administrator adds the host's user: Orthanc restarts with it.
      const study = await uploadStudy(secured);
      secured.process.options.configuration = { ...secured.process.options.configuration, RegisteredUsers: { ...users, router: 'new' } };
      await secured.process.restart();
      await router.log.waitFor(/autorouting] set up after waiting/, 30_000);
      await receivedAll(scp, study.sops, 60_000);
    } finally {
      await host?.stop();
      host = undefined;
      await secured.stop();
    }
  });
});
