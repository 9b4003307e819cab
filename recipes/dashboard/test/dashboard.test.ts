import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { eventually } from '../../../test/helpers/changes.js';
import { generateStudy } from '../../../test/helpers/dicom.js';
import { repositoryRoot, startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { basicAuth, rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { startStoreScp, type StoreScp } from '../../../test/helpers/storescp.js';
import { launchChromium, openPage } from './browser.js';

const screenshots = join(repositoryRoot, 'dist', 'screenshots');

describe('recipe dashboard, in a real browser', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let browser: Browser;

  before(async () => {
    orthanc = await startTestOrthanc();
    host = await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: { hello: { Enabled: true }, dashboard: { Enabled: true, RefreshSeconds: 1 } },
    });
    browser = await launchChromium();
    await mkdir(screenshots, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await host?.stop();
    await orthanc?.stop();
  });

  it('redirects /recipes/ui to /recipes/ui/ and serves the page with a strict Content-Security-Policy', async () => {
    const redirect = await rawRequest(`${host.url}/recipes/ui`);
    assert.equal(redirect.status, 307);
    assert.equal(redirect.headers.location, 'ui/');
    const page = await rawRequest(`${host.url}/recipes/ui/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.doesNotMatch(page.body.toString(), /<script>|<style>| style=|https?:\/\//, 'no inline script or style, nothing from elsewhere');
    assert.equal((await rawRequest(`${host.url}/recipes/ui/nope.js`)).status, 404);
    assert.equal((await rawRequest(`${host.url}/recipes/ui/`, { method: 'POST' })).status, 405);
  });

  it('loads with no console errors and shows the host, Orthanc and each recipe; buttons have names; fits a phone', async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${host.url}/recipes/ui`);
    await page.waitForSelector('#connection.state-ok');
    assert.match((await page.textContent('#host-facts')) ?? '', /Orthanc\s*1\.\d+\.\d+/);
    const recipes = await page.locator('#recipes tbody tr').allTextContents();
    assert.ok(
      recipes.some((r) => r.includes('(hello)') && r.includes('running')),
      recipes.join('|'),
    );
    assert.ok(
      recipes.some((r) => r.includes('(dashboard)')),
      recipes.join('|'),
    );
    for (const hidden of ['#autorouting', '#scheduler', '#instances'])
      assert.equal(await page.isHidden(hidden), true, `${hidden} shows only when its recipe is enabled`);
    await page.screenshot({ path: join(screenshots, 'dashboard-minimal.png'), fullPage: true });

    await page.setViewportSize({ width: 375, height: 740 });
    // Runs in the page, where `document` exists (this file is compiled without the DOM's types).
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.ok(Number(overflow) <= 0, `the page is ${overflow} px wider than a phone`);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  it('says clearly that Orthanc is unreachable while it is stopped, and recovers when it is back', async () => {
    const { page } = await openPage(browser);
    await page.goto(`${host.url}/recipes/ui/`);
    await page.waitForSelector('#connection.state-ok');
    await orthanc.process.stop();
    await page.waitForSelector('#connection.state-bad', { timeout: 30_000 });
    assert.match((await page.textContent('#connection')) ?? '', /Orthanc is unreachable/);
    assert.equal((await page.locator('section.stale').count()) > 0, true, 'stale figures are marked as such');
    await orthanc.process.restart();
    await page.waitForSelector('#connection.state-ok', { timeout: 30_000 });
    assert.equal(await page.locator('section.stale').count(), 0);
    await page.context().close();
  });
});

describe('recipe dashboard, when Orthanc requires credentials', { timeout: 120_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let browser: Browser;
  const users = { admin: 'secret' };

  before(async () => {
    orthanc = await startTestOrthanc({
      configuration: { AuthenticationEnabled: true, RegisteredUsers: users },
      credentials: { username: 'admin', password: 'secret' },
    });
    host = await startHostProcess({
      Orthanc: { Url: orthanc.url, Username: 'admin', Password: 'secret' },
      Recipes: { dashboard: { Enabled: true } },
    });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await host?.stop();
    await orthanc?.stop();
  });

  it('asks the browser for them, and shows the page with them', async () => {
    const challenge = await rawRequest(`${host.url}/recipes/ui/`);
    assert.equal(challenge.status, 401);
    assert.match(String(challenge.headers['www-authenticate']), /^Basic /);
    assert.equal((await rawRequest(`${host.url}/recipes/ui/app.js`)).status, 401, 'its files too');
    assert.equal((await rawRequest(`${host.url}/recipes/ui/`, { headers: { authorization: basicAuth('admin', 'wrong') } })).status, 401);

    // Headless Chromium cannot show the sign-in dialog: it gives up on the challenge instead.
    for (const credentials of [undefined, { username: 'admin', password: 'wrong' }]) {
      const refused = await openPage(browser, credentials ? { httpCredentials: credentials } : {});
      await assert.rejects(refused.page.goto(`${host.url}/recipes/ui/`), /ERR_INVALID_AUTH_CREDENTIALS|ERR_HTTP_RESPONSE_CODE_FAILURE/);
      await refused.page.context().close();
    }

    const { page, errors } = await openPage(browser, { httpCredentials: { username: 'admin', password: 'secret' } });
    assert.equal((await page.goto(`${host.url}/recipes/ui/`))?.status(), 200);
    await page.waitForSelector('#connection.state-ok');
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});

describe('recipe dashboard, with autorouting, the scheduler, stored instances and thumbnails', { timeout: 240_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let browser: Browser;
  let archive: StoreScp;

  before(async () => {
    // The destination exists but is down at first.
    archive = await startStoreScp({ aet: 'ARCHIVE' });
    await archive.stop();
    orthanc = await startTestOrthanc({ configuration: { DicomModalities: { archive: ['ARCHIVE', '127.0.0.1', archive.port] } } });
    host = await startHostProcess({
      Orthanc: { Url: orthanc.url },
      Recipes: {
        autorouting: {
          Enabled: true,
          Rules: [{ Name: 'all', Destinations: ['archive'] }],
          Retry: { MaxAttempts: 1, InitialDelaySeconds: 1, MaxDelaySeconds: 1 },
        },
        scheduler: { Enabled: true, Tasks: [{ Name: 'ping', Every: '1h', Request: { Method: 'GET', Uri: '/system' } }] },
        'stored-instances': { Enabled: true },
        thumbnails: { Enabled: true },
        dashboard: { Enabled: true, RefreshSeconds: 1 },
      },
    });
    browser = await launchChromium();
    await mkdir(screenshots, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await host?.stop();
    await orthanc?.stop();
    await archive?.dispose();
  });

  it('shows a failed route with its error, and its Retry button delivers it once the destination is back', async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${host.url}/recipes/ui/`);
    await page.waitForSelector('#connection.state-ok');
    for (const section of ['#autorouting', '#scheduler', '#instances']) assert.equal(await page.isVisible(section), true, section);

    const [instance] = generateStudy({
      patientId: 'DASH-1',
      patientName: 'Dash^Board',
      studyDate: '20240601',
      series: [{ modality: 'CT', instances: 1 }],
      size: 64,
    });
    const stored = await orthanc.upload(instance!.file);
    const failure = page.locator('#routing-failures tbody tr', { hasText: stored.ParentStudy });
    await failure.waitFor({ timeout: 60_000 });
    assert.match((await failure.textContent()) ?? '', /archive/);
    assert.ok((await failure.locator('.error').textContent())!.length > 0, 'the failure shows its error');

    // The latest stored instance is listed, with its thumbnail.
    const listed = page.locator('#instance-list li', { hasText: stored.ID });
    await listed.waitFor();
    // page.evaluate, not waitForFunction: the page's CSP forbids the eval that the latter needs.
    const thumbnailShown = `[...document.querySelectorAll('#instance-list img')].some((img) => img.complete && img.naturalWidth > 0)`;
    await eventually(async () => (await page.evaluate(thumbnailShown)) === true, 20_000, 'a thumbnail shown');

    await archive.start();
    await page.getByRole('button', { name: `Retry ${stored.ParentStudy} to Modality:archive` }).click();
    await eventually(async () => (await archive.received()).includes(instance!.sopInstanceUid), 60_000, 'the study at the archive');
    await failure.waitFor({ state: 'detached', timeout: 20_000 });
    const chartBars = `[...document.querySelectorAll('#routing-chart rect')].map((bar) => Number(bar.getAttribute('height')))`;
    await eventually(
      async () => (await page.evaluate<number[]>(chartBars)).some((height) => height > 0),
      20_000,
      'the delivery in the chart',
    );
    assert.equal((await page.evaluate<number[]>(chartBars)).length, 60);
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  it("Run now raises the task's run count; the page is saved as a screenshot", async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${host.url}/recipes/ui/`);
    const row = page.locator('#tasks tbody tr', { hasText: 'ping' });
    await row.waitFor();
    const runs = async () => Number(await row.locator('td').nth(4).textContent());
    const before = await runs();
    await page.getByRole('button', { name: 'Run ping now' }).click();
    await eventually(async () => (await runs()) === before + 1, 20_000, 'one more run');
    assert.match((await row.textContent()) ?? '', /Success/);
    await page.screenshot({ path: join(screenshots, 'dashboard.png'), fullPage: true });
    await page.setViewportSize({ width: 375, height: 740 });
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.ok(Number(overflow) <= 0, `with every section, the page is ${overflow} px wider than a phone`);
    await page.screenshot({ path: join(screenshots, 'dashboard-phone.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});

describe('recipe dashboard: a recipe waiting for Orthanc, routes being retried apart from routes that failed', { timeout: 240_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess | undefined;
  let browser: Browser;
  // An archive that refuses every association: a port it holds, so that no other test's peer can
  // take it (a stopped storescp's port may be reused by a file running alongside, and accept).
  let archive: Server;
  const users = { admin: 'secret' };
  const authorization = { authorization: basicAuth('admin', 'secret') };
  const routing = (retry: object) => ({ Enabled: true, Rules: [{ Name: 'all', Destinations: ['archive'] }], Retry: retry });
  const status = async (): Promise<any> => (await fetch(`${host!.url}/recipes/autorouting/status`, { headers: authorization })).json();

  before(async () => {
    archive = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => archive.listen(0, '127.0.0.1', resolve));
    orthanc = await startTestOrthanc({
      configuration: {
        AuthenticationEnabled: true,
        RegisteredUsers: users,
        DicomModalities: { archive: ['ARCHIVE', '127.0.0.1', (archive.address() as AddressInfo).port] },
      },
      credentials: { username: 'admin', password: 'secret' },
    });
    browser = await launchChromium();
    await mkdir(screenshots, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await host?.stop();
    await orthanc?.stop();
    archive?.close();
  });

  it('shows the waiting recipe and why, then the failed and the retried routes apart, each study with its description and date', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'orthanc-recipes-dashboard-'));
    // A first run leaves a route that failed for good.
    host = await startHostProcess(
      { Orthanc: { Url: orthanc.url, Username: 'admin', Password: 'secret' }, Recipes: { autorouting: routing({ MaxAttempts: 1 }) } },
      directory,
    );
    const [failedInstance] = generateStudy({
      patientId: 'DASH-2',
      patientName: 'Dash^Two',
      studyDate: '20240601',
      studyDescription: 'Knee MRI left',
      series: [{ modality: 'MR', instances: 1 }],
      size: 16,
    });
    const failedStudy = (await orthanc.upload(failedInstance!.file)).ParentStudy;
    await eventually(async () => (await status()).Failures.length === 1, 60_000, 'a failed route');
    await host.stop();

    // The host's password was rotated in the configuration, not yet in Orthanc: the recipe waits.
    host = await startHostProcess(
      {
        Orthanc: { Url: orthanc.url, Username: 'router', Password: 'rotated' },
        Recipes: {
          autorouting: routing({ MaxAttempts: 5, InitialDelaySeconds: 120, MaxDelaySeconds: 120 }),
          dashboard: { Enabled: true, RefreshSeconds: 1 },
        },
      },
      directory,
    );
    const { page, errors } = await openPage(browser, { httpCredentials: { username: 'admin', password: 'secret' } });
    await page.goto(`${host.url}/recipes/ui/`);
    await page.waitForSelector('#connection.state-bad');
    await eventually(
      async () => /HTTP 401.*; waiting for Orthanc: autorouting/.test((await page.textContent('#connection')) ?? ''),
      20_000,
      'the reason in the status line',
    );
    const waitingRow = page.locator('#recipes tbody tr', { hasText: '(autorouting)' });
    assert.match((await waitingRow.locator('.state-waiting').textContent()) ?? '', /^waiting for Orthanc \(attempt \d+, next /);
    assert.match((await waitingRow.locator('.error').textContent()) ?? '', /401/);
    assert.equal(await page.isHidden('#autorouting'), true);
    await page.screenshot({ path: join(screenshots, 'dashboard-waiting.png'), fullPage: true });

    // Orthanc learns the new password: the recipe starts, a new study fails once and is retried.
    orthanc.process.options.configuration = { ...orthanc.process.options.configuration, RegisteredUsers: { ...users, router: 'rotated' } };
    await orthanc.process.restart();
    await page.waitForSelector('#connection.state-ok', { timeout: 30_000 });
    const [retriedInstance] = generateStudy({
      patientId: 'DASH-3',
      patientName: 'Dash^Three',
      studyDate: '20240602',
      studyDescription: 'Chest CT',
      series: [{ modality: 'CT', instances: 1 }],
      size: 16,
    });
    const retriedStudy = (await orthanc.upload(retriedInstance!.file)).ParentStudy;

    const retrying = page.locator('#routing-retrying tbody tr', { hasText: retriedStudy });
    await retrying.waitFor({ timeout: 60_000 });
    await retrying.locator('.resource-details', { hasText: 'Chest CT · 2024-06-02' }).waitFor();
    assert.ok((await retrying.locator('.error').textContent())!.length > 0);
    assert.equal(
      await page.locator('#routing-failures tbody tr', { hasText: retriedStudy }).count(),
      0,
      'a route being retried is not among the failed ones',
    );
    const failed = page.locator('#routing-failures tbody tr', { hasText: failedStudy });
    await failed.locator('.resource-details', { hasText: 'Knee MRI left · 2024-06-01' }).waitFor();
    assert.equal(await page.locator('#routing-retrying tbody tr', { hasText: failedStudy }).count(), 0);
    // Long errors wrap anywhere rather than widening the table.
    assert.equal(await page.evaluate(`getComputedStyle(document.querySelector('#routing-retrying .error')).overflowWrap`), 'anywhere');
    await page.screenshot({ path: join(screenshots, 'dashboard-retrying.png'), fullPage: true });
    await page.setViewportSize({ width: 375, height: 740 });
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.ok(Number(overflow) <= 0, `the page is ${overflow} px wider than a phone`);
    assert.deepEqual(errors, []);
    await page.context().close();
  });
});
