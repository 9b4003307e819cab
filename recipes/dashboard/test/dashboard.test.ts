import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { repositoryRoot, startHostProcess, type HostProcess } from '../../../test/helpers/host.js';
import { basicAuth, rawRequest } from '../../../test/helpers/http.js';
import { startTestOrthanc, type TestOrthanc } from '../../../test/helpers/orthanc.js';
import { launchChromium, openPage } from './browser.js';

const screenshots = join(repositoryRoot, 'dist', 'screenshots');

describe('recipe dashboard, in a real browser', { timeout: 180_000 }, () => {
  let orthanc: TestOrthanc;
  let host: HostProcess;
  let browser: Browser;

  before(async () => {
    orthanc = await startTestOrthanc();
    host = await startHostProcess({ Orthanc: { Url: orthanc.url }, Recipes: { hello: { Enabled: true }, dashboard: { Enabled: true, RefreshSeconds: 1 } } });
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
    assert.match(await page.textContent('#host-facts') ?? '', /Orthanc\s*1\.\d+\.\d+/);
    const recipes = await page.locator('#recipes tbody tr').allTextContents();
    assert.ok(recipes.some((r) => r.includes('(hello)') && r.includes('running')), recipes.join('|'));
    assert.ok(recipes.some((r) => r.includes('(dashboard)')), recipes.join('|'));
    for (const hidden of ['#autorouting', '#scheduler', '#instances']) assert.equal(await page.isHidden(hidden), true, `${hidden} shows only when its recipe is enabled`);
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
    assert.match(await page.textContent('#connection') ?? '', /Orthanc is unreachable/);
    assert.equal(await page.locator('section.stale').count() > 0, true, 'stale figures are marked as such');
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
    orthanc = await startTestOrthanc({ configuration: { AuthenticationEnabled: true, RegisteredUsers: users }, credentials: { username: 'admin', password: 'secret' } });
    host = await startHostProcess({ Orthanc: { Url: orthanc.url, Username: 'admin', Password: 'secret' }, Recipes: { dashboard: { Enabled: true } } });
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
