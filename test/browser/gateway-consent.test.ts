// The gateway's browser-facing pages in headless Chromium (playwright-core + Debian's chromium),
// with a real oidc-provider as the upstream IdP, everything on 127.0.0.1: the full flow (gateway
// consent, IdP login and consent, code back to the client) approved and denied, a screenshot of
// the consent page kept under test-results/, a forged approve without the CSRF token refused,
// and the consent page refusing to load in a frame on another origin.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import { type GatewayServer, startGatewayServer } from '../../src/gateway/server.js';
import { type AuthorizationServer, startAuthorizationServer } from '../fixtures/authorization-server.js';
import { type CallbackListener, startCallbackListener } from '../fixtures/loopback-callback.js';
import { recordingMcpEndpoint } from '../gateway/helpers.js';
import { launchChromium } from './chromium.js';

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'; // RFC 7636 Appendix B

let browser: Browser;
let idp: AuthorizationServer;
let server: GatewayServer;
let gateway: Gateway;
let listener: CallbackListener;
let attacker: Server;
let attackerOrigin: string;
let clientId: string;

beforeAll(async () => {
  let current: Gateway | undefined;
  server = await startGatewayServer(() => current);
  const secret = randomBytes(24).toString('base64url');
  idp = await startAuthorizationServer({
    clients: [
      {
        client_id: 'portcullis-gateway',
        client_secret: secret,
        redirect_uris: [`${server.url}/callback`],
        grant_types: ['authorization_code', 'refresh_token'],
      },
    ],
  });
  gateway = createGateway(
    {
      issuer: server.url,
      dev: true,
      resourceName: 'Acme Docs MCP',
      upstream: { type: 'oidc', issuer: idp.issuer, clientId: 'portcullis-gateway', clientSecret: secret },
    },
    { encryptionKey: randomBytes(32), mcpEndpoint: recordingMcpEndpoint() },
  );
  current = gateway;
  listener = await startCallbackListener();
  const registration = await fetch(`${server.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Acme Desktop',
      redirect_uris: [listener.redirectUri],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      application_type: 'native',
    }),
  });
  clientId = ((await registration.json()) as { client_id: string }).client_id;
  attacker = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(
      `<!doctype html><title>totally legit</title><iframe id="victim" src="${decodeURIComponent(
        new URL(req.url ?? '/', 'http://x').searchParams.get('src') ?? '',
      )}" width="600" height="600"></iframe>`,
    );
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerOrigin = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await listener?.stop();
  await new Promise<void>((resolve) => (attacker ? attacker.close(() => resolve()) : resolve()));
  await server?.close();
  await idp?.stop();
});

function authorizeUrl(state: string): string {
  const url = new URL(`${server.url}/authorize`);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: listener.redirectUri,
    state,
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    resource: gateway.config.resource,
    scope: 'mcp',
  }))
    url.searchParams.set(k, v);
  return url.href;
}

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 520, height: 820 } });
  return context.newPage();
}

describe('gateway pages in headless Chromium', () => {
  it('approve: gateway consent, IdP login and consent, then a code at the client with iss', async () => {
    const page = await newPage();
    await page.goto(authorizeUrl('approve-1'));
    expect(await page.locator('h1').textContent()).toBe('Allow access to Acme Docs MCP?');
    expect(await page.locator('.app strong').textContent()).toBe('Acme Desktop');
    expect(await page.locator('.warn').textContent()).toContain('Only approve if you just started this');
    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/gateway-consent.png', fullPage: true });

    const next = listener.next();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.locator('input[name=login]').fill('alice');
    await page.locator('input[name=password]').fill('alice-password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Approve' }).click();
    const callback = await next;
    expect(callback.searchParams.get('code')).toMatch(/^pcc_/);
    expect(callback.searchParams.get('state')).toBe('approve-1');
    expect(callback.searchParams.get('iss')).toBe(gateway.config.issuer);
    await page.context().close();
  });

  it('deny: the client gets access_denied with state and iss, and the IdP is never asked', async () => {
    const page = await newPage();
    const before = idp.requests.count({ path: '/auth' });
    await page.goto(authorizeUrl('deny-1'));
    const next = listener.next();
    await page.getByRole('button', { name: 'Deny' }).click();
    const callback = await next;
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe('deny-1');
    expect(callback.searchParams.get('iss')).toBe(gateway.config.issuer);
    expect(idp.requests.count({ path: '/auth' })).toBe(before);
    await page.context().close();
  });

  it('refuses a forged approve without the CSRF token', async () => {
    const page = await newPage();
    await page.goto(authorizeUrl('forged-1'));
    await page.locator('input[name=csrf]').evaluate((input) => input.remove());
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/consent')),
      page.getByRole('button', { name: 'Allow' }).click(),
    ]);
    expect(response.status()).toBe(403);
    expect(await page.locator('h1').textContent()).toBe('Request refused');
    expect(await page.locator('body').textContent()).toContain('CSRF');
    expect(page.url()).toBe(`${server.url}/consent`);
    await page.context().close();
  });

  it('refuses to render the consent page inside a frame on another origin', async () => {
    const page = await newPage();
    const refusals: string[] = [];
    page.on('console', (message) => refusals.push(message.text()));
    const victim = authorizeUrl('framed-1');
    const framed = page.waitForResponse((r) => r.url().startsWith(`${server.url}/authorize`));
    await page.goto(`${attackerOrigin}/?src=${encodeURIComponent(victim)}`);
    const response = await framed;
    expect(response.headers()['x-frame-options']).toBe('DENY');
    expect(response.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    const frame = page.frames().find((f) => f !== page.mainFrame());
    expect(frame).toBeDefined();
    await expect.poll(() => frame!.url()).not.toBe(victim);
    expect(await frame!.locator('button').count()).toBe(0);
    await expect.poll(() => refusals.some((m) => /frame-ancestors|X-Frame-Options/i.test(m))).toBe(true);
    await page.context().close();
  });
});
