// examples/web-host end to end in headless Chromium (playwright-core + Debian's chromium), all on
// 127.0.0.1: a real oidc-provider protecting a real SDK MCP server, the example started in-process
// on Postgres (a schema of its own, dropped afterwards) behind the encrypted store. Connect through
// the popup, call a tool, a refused refresh shown as "Reconnect", reconnect, remove with RFC 7009
// revocation; the opener ignoring messages from another origin or window; CSRF refusals.
// Screenshots are kept under test-results/.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebHost, type WebHost } from '../../examples/web-host/app.js';
import { createEncryptedStore } from '../../src/store/encrypted.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { type AuthorizationServer, startAuthorizationServer } from '../fixtures/authorization-server.js';
import { type McpTestServer, startMcpServer } from '../fixtures/mcp-server.js';
import { launchChromium } from './chromium.js';

const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = `portcullis_web_host_${randomUUID().replace(/-/g, '')}`;
const PASSWORDS: Record<string, string> = { alice: 'alice-password', bob: 'bob-password' };

let browser: Browser;
let as: AuthorizationServer;
let serverAheadMs = 0;
let mcp: McpTestServer;
let store: Store;
let host: WebHost;
let attacker: Server;
let attackerOrigin: string;

beforeAll(async () => {
  as = await startAuthorizationServer();
  // The MCP server's clock can run ahead, so a token expires there as it would in time.
  mcp = await startMcpServer({ authorizationServer: as, now: () => new Date(Date.now() + serverAheadMs) });
  store = createEncryptedStore(
    await createPostgresStore({ connectionString: POSTGRES_URL, schema: SCHEMA }),
    {
      key: randomBytes(32),
    },
  );
  host = await startWebHost({
    port: 0,
    store,
    servers: [{ id: 'fixture', name: 'Fixture MCP', url: mcp.url }],
    encryptionKey: randomBytes(32),
  });
  // Another origin (another port) that posts a forged "connected" to whichever window opened it.
  attacker = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(
      `<!doctype html><title>not the app</title><script>window.opener.postMessage({ type: 'portcullis:connected', serverId: 'fixture' }, '*');</script>`,
    );
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerOrigin = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
  browser = await launchChromium();
  await mkdir('test-results', { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (attacker ? attacker.close(() => resolve()) : resolve()));
  await host?.close();
  await store?.close();
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).finally(() => client.end());
  await mcp?.stop();
  await as?.stop();
  expect(as.serverErrors).toEqual([]);
});

async function signedInPage(user: string, setup?: (page: Page) => Promise<void>): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 900, height: 520 } });
  const page = await context.newPage();
  await setup?.(page);
  await page.goto(host.origin);
  await page.getByLabel('User name').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#user').filter({ hasText: user }).waitFor();
  return page;
}

const row = (page: Page, status?: string) =>
  page.locator(status ? `tr[data-server="fixture"][data-status="${status}"]` : 'tr[data-server="fixture"]');

/** Clicks Connect or Reconnect and returns the popup the page opened. */
async function openPopup(page: Page, label: 'Connect' | 'Reconnect'): Promise<Page> {
  const [popup] = await Promise.all([
    page.waitForEvent('popup'),
    row(page).getByRole('button', { name: label, exact: true }).click(),
  ]);
  return popup;
}

/** In the popup: the IdP's login form when it asks (no IdP session yet), then its consent page. */
async function approveInPopup(popup: Page, user: string): Promise<void> {
  const login = popup.locator('input[name=login]');
  const approve = popup.getByRole('button', { name: 'Approve' });
  await login.or(approve).first().waitFor();
  if (await login.isVisible()) {
    await login.fill(user);
    await popup.locator('input[name=password]').fill(PASSWORDS[user]!);
    await popup.getByRole('button', { name: 'Sign-in' }).click();
  }
  const closed = popup.waitForEvent('close');
  await approve.click();
  await closed;
}

async function callEcho(page: Page): Promise<string | null> {
  await row(page).getByRole('button', { name: 'Call echo' }).click();
  const result = row(page).locator('output.result').filter({ hasText: 'echo →' });
  await result.waitFor();
  return result.textContent();
}

describe('examples/web-host in headless Chromium', () => {
  it('connects through a popup, calls echo, shows Reconnect after a refused refresh, reconnects, and removes with revocation', {
    timeout: 60_000,
  }, async () => {
    const page = await signedInPage('alice');
    await row(page).getByRole('button', { name: 'Add' }).click();
    await row(page, 'disconnected').waitFor();
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));

    const callback = page.context().waitForEvent('response', (r) => r.url().includes('/oauth/callback'));
    const popup = await openPopup(page, 'Connect');
    await approveInPopup(popup, 'alice');
    const headers = (await callback).headers();
    expect(headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'sha256-[\w+/=]+';/);
    expect(headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(headers['referrer-policy']).toBe('no-referrer');

    await row(page, 'connected').waitFor();
    expect(await page.locator('#notice').textContent()).toBe('Connected to fixture.');
    expect(await page.evaluate(() => (window as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await callEcho(page)).toBe('echo → hello from alice');
    await page.screenshot({ path: 'test-results/web-host-connected.png', fullPage: true });

    // The AS forgets the grant, and the access token expires (as the MCP server sees it): the
    // refresh is refused. Tokens issued from now on live an hour, so the reconnect's are good.
    as.revokeAllGrants();
    as.settings.accessTokenTtlSeconds = 3600;
    serverAheadMs = 10 * 60_000;
    const refreshes = as.requests.grants('refresh_token');
    await row(page).getByRole('button', { name: 'Call echo' }).click();
    await row(page, 'reauth-required').getByRole('button', { name: 'Reconnect' }).waitFor();
    expect(
      as.requests
        .filter({ grantType: 'refresh_token' })
        .slice(refreshes)
        .map((r) => r.status),
    ).toEqual([400]);
    expect(await page.locator('#notice').textContent()).toBe(
      'Your login to fixture expired or was revoked: press Reconnect.',
    );
    await page.screenshot({ path: 'test-results/web-host-reconnect.png', fullPage: true });

    await approveInPopup(await openPopup(page, 'Reconnect'), 'alice');
    await row(page, 'connected').waitFor();
    expect(await callEcho(page)).toBe('echo → hello from alice');

    const revocations = as.requests.count('/token/revocation');
    await row(page).getByRole('button', { name: 'Remove' }).click();
    await row(page, 'not-added').waitFor();
    expect(await page.locator('#notice').textContent()).toBe('Removed fixture; token revocation: revoked.');
    // The refresh token is revoked (200); the JWT access token cannot be (unsupported_token_type).
    expect(
      as.requests
        .filter({ path: '/token/revocation' })
        .slice(revocations)
        .map((r) => r.status),
    ).toEqual([200, 400]);
    expect(await page.evaluate(() => (window as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await page.context().close();
  });

  it('ignores a message from another origin or another window, and notices a popup closed without one', async () => {
    const listed: string[] = [];
    // A fake clock: the popup.closed interval runs only when the test says so.
    const page = await signedInPage('bob', async (p) => {
      await p.clock.install();
      p.on('request', (r) => {
        if (new URL(r.url()).pathname === '/api/servers') listed.push(r.method());
      });
    });
    await row(page).getByRole('button', { name: 'Add' }).click();
    await row(page, 'disconnected').waitFor();
    const popup = await openPopup(page, 'Connect');
    await popup.locator('input[name=login]').waitFor();

    const warned = (text: string) => page.waitForEvent('console', (m) => m.text().includes(text));
    const foreign = warned(`ignored a message from another origin (${attackerOrigin})`);
    await popup.goto(`${attackerOrigin}/`);
    await foreign;
    const notPopup = warned('not our login popup');
    await page.evaluate(() =>
      window.postMessage({ type: 'portcullis:connected', serverId: 'fixture' }, window.location.origin),
    );
    await notPopup;
    expect(await page.locator('#notice').textContent()).toBe('Logging in to fixture in the popup window…');

    const before = listed.length;
    await popup.close();
    const refreshed = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/servers');
    await page.clock.runFor(5_000);
    await refreshed;
    await page.locator('#notice').filter({ hasText: 'The login window was closed.' }).waitFor();
    await page.clock.runFor(5_000);
    // A request issued after all of the above: any list request the interval made is recorded by now.
    await page.evaluate(() => fetch('/api/session'));
    expect(listed.length - before).toBe(1);
    // The login was begun (discovery stored) but never finished.
    await row(page, 'needs-login').waitFor();
    await page.context().close();
  });

  it('tells the opener when the person denies access in the popup, which stays open to say why', async () => {
    // The host's user and the IdP account are separate identities: dave here, bob at the IdP.
    const page = await signedInPage('dave');
    await row(page).getByRole('button', { name: 'Add' }).click();
    const popup = await openPopup(page, 'Connect');
    await popup.locator('input[name=login]').fill('bob');
    await popup.locator('input[name=password]').fill(PASSWORDS['bob']!);
    await popup.getByRole('button', { name: 'Sign-in' }).click();
    await popup.getByRole('button', { name: 'Deny' }).click();
    await popup.locator('h1').filter({ hasText: 'Login failed' }).waitFor();
    await page
      .locator('#notice')
      .filter({ hasText: /^Login failed: .*access_denied/ })
      .waitFor();
    await row(page, 'needs-login').waitFor();
    expect(popup.isClosed()).toBe(false);
    await page.context().close();
  });

  it('refuses a state-changing request without the CSRF token or from another origin, and a cross-site /connect', async () => {
    const json = { 'content-type': 'application/json' };
    const foreign = await fetch(`${host.origin}/api/session`, {
      method: 'POST',
      headers: { ...json, origin: attackerOrigin },
      body: JSON.stringify({ user: 'carol' }),
    });
    expect(foreign.status).toBe(403);
    const signIn = await fetch(`${host.origin}/api/session`, {
      method: 'POST',
      headers: { ...json, origin: host.origin },
      body: JSON.stringify({ user: 'carol' }),
    });
    const setCookie = signIn.headers.getSetCookie()[0]!;
    expect(setCookie).toMatch(/; HttpOnly; SameSite=Lax;/);
    const cookie = setCookie.split(';')[0]!;
    const { csrfToken } = (await signIn.json()) as { csrfToken: string };
    const add = (headers: Record<string, string>) =>
      fetch(`${host.origin}/api/servers/fixture/add`, {
        method: 'POST',
        headers: { ...json, cookie, ...headers },
      });

    expect((await add({ origin: host.origin })).status).toBe(403);
    expect((await add({ origin: host.origin, 'x-csrf-token': 'forged' })).status).toBe(403);
    expect((await add({ origin: attackerOrigin, 'x-csrf-token': csrfToken })).status).toBe(403);
    expect((await add({ origin: host.origin, 'x-csrf-token': csrfToken })).status).toBe(200);

    const connect = (site: string) =>
      fetch(`${host.origin}/connect?server=fixture`, {
        headers: { cookie, 'sec-fetch-site': site },
        redirect: 'manual',
      });
    expect((await connect('cross-site')).status).toBe(403);
    const started = await connect('same-origin');
    expect(started.status).toBe(303);
    expect(new URL(started.headers.get('location')!).origin).toBe(as.issuer);
  });
});
