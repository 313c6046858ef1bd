import { describe, expect, it } from 'vitest';
import {
  authorizeInBrowser,
  authorizeUrl,
  createTestGateway,
  form,
  hiddenInputs,
  ISSUER,
  LOOPBACK_REDIRECT,
  pkcePair,
  registerClient,
  TestBrowser,
  type TestGateway,
} from './helpers.js';

async function codesIssued(t: TestGateway): Promise<number> {
  return (await t.store.list('gateway:codes')).length;
}

function expectErrorPage(response: Response, status = 400) {
  expect(response.status).toBe(status);
  expect(response.headers.get('location')).toBeNull();
  expect(response.headers.get('content-type')).toContain('text/html');
}

describe('/authorize: bad client or redirect URI shows a page and never redirects (OAuth 2.1 §4.1.2.1)', () => {
  it('refuses an unknown client', async () => {
    const t = createTestGateway();
    const response = await t.handle(authorizeUrl({ clientId: 'dcr_unknown' }));
    expectErrorPage(response);
    expect(await response.text()).toContain('invalid_client');
    expect(await codesIssued(t)).toBe(0);
  });

  it('refuses a missing client_id', async () => {
    const t = createTestGateway();
    expectErrorPage(await t.handle('/authorize?response_type=code'));
  });

  const lookalikes = [
    'http://127.0.0.1:7777/callback/evil',
    'http://127.0.0.1:7777/callbackx',
    'http://127.0.0.1:7777/Callback',
    'http://127.0.0.2:7777/callback',
    'http://localhost:7777/callback',
    'https://evil.example/callback',
    'https://127.0.0.1.evil.example/callback',
    'http://127.0.0.1:7777/callback?next=https://evil.example',
    'http://127.0.0.1:7777/callback#frag',
    'javascript:alert(1)',
  ];
  for (const redirectUri of lookalikes) {
    it(`refuses the redirect URI ${redirectUri} (exact match only)`, async () => {
      const t = createTestGateway();
      const { client_id } = await registerClient(t);
      const response = await t.handle(authorizeUrl({ clientId: client_id!, redirectUri }));
      expectErrorPage(response);
      expect(await codesIssued(t)).toBe(0);
    });
  }

  it('refuses an omitted redirect_uri when the client registered several', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t, {
      redirect_uris: [LOOPBACK_REDIRECT, 'https://app.example/cb'],
    });
    const url = new URL(authorizeUrl({ clientId: client_id! }));
    url.searchParams.delete('redirect_uri');
    expectErrorPage(await t.handle(url.href));
  });

  it('accepts any port on a loopback IP redirect URI (RFC 8252 §7.3) and answers on that port', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const back = await authorizeInBrowser(t, {
      clientId: client_id!,
      redirectUri: 'http://127.0.0.1:50123/callback',
    });
    expect(back.origin).toBe('http://127.0.0.1:50123');
    expect(back.searchParams.get('code')).toBeTruthy();
    expect(back.searchParams.get('iss')).toBe(ISSUER);
  });

  it('accepts a registered private-use scheme (claude:) but no other', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t, {
      redirect_uris: ['claude://oauth/callback'],
      application_type: 'native',
    });
    const back = await authorizeInBrowser(t, {
      clientId: client_id!,
      redirectUri: 'claude://oauth/callback',
    });
    expect(back.protocol).toBe('claude:');
    expect(back.searchParams.get('code')).toBeTruthy();
  });
});

describe('/authorize: other errors go back to the client with state and iss (RFC 9207)', () => {
  async function errorRedirect(t: TestGateway, extra: Record<string, string>, drop: string[] = []) {
    const { client_id } = await registerClient(t);
    const url = new URL(authorizeUrl({ clientId: client_id!, extra }));
    for (const p of drop) url.searchParams.delete(p);
    const response = await t.handle(url.href);
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(LOOPBACK_REDIRECT);
    expect(location.searchParams.get('iss')).toBe(ISSUER);
    expect(location.searchParams.get('state')).toBe('state-123');
    expect(location.searchParams.get('code')).toBeNull();
    expect(await codesIssued(t)).toBe(0);
    return location.searchParams;
  }

  it('requires PKCE: a missing code_challenge is invalid_request', async () => {
    const t = createTestGateway();
    const params = await errorRedirect(t, {}, ['code_challenge', 'code_challenge_method']);
    expect(params.get('error')).toBe('invalid_request');
    expect(params.get('error_description')).toMatch(/code_challenge/);
  });

  it('refuses the plain PKCE method', async () => {
    const t = createTestGateway();
    const params = await errorRedirect(t, { code_challenge_method: 'plain' });
    expect(params.get('error')).toBe('invalid_request');
  });

  it('refuses a challenge without a method (which would mean plain, RFC 7636 §4.3)', async () => {
    const t = createTestGateway();
    const params = await errorRedirect(t, {}, ['code_challenge_method']);
    expect(params.get('error')).toBe('invalid_request');
  });

  it('refuses a resource other than the MCP URL with invalid_target (RFC 8707)', async () => {
    const t = createTestGateway();
    const params = await errorRedirect(t, { resource: 'https://other.example/mcp' });
    expect(params.get('error')).toBe('invalid_target');
  });

  it('refuses unknown scopes with invalid_scope', async () => {
    const t = createTestGateway();
    const params = await errorRedirect(t, { scope: 'mcp admin:everything' });
    expect(params.get('error')).toBe('invalid_scope');
  });

  it('refuses other response types', async () => {
    const t = createTestGateway();
    const params = await errorRedirect(t, { response_type: 'token' });
    expect(params.get('error')).toBe('unsupported_response_type');
  });

  it('answers prompt=none without a session with login_required', async () => {
    const t = createTestGateway();
    const params = await errorRedirect(t, { prompt: 'none' });
    expect(params.get('error')).toBe('login_required');
  });
});

describe('/authorize: consent before any upstream redirect and before any code (A32–A35)', () => {
  it('shows a consent page that cannot be framed or cached', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t, { client_name: 'Shiny <b>Agent</b>' });
    const response = await new TestBrowser(t).go(authorizeUrl({ clientId: client_id! }));
    expect(response.status).toBe(200);
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response.headers.get('cache-control')).toBe('no-store');
    const cookie = response.headers.getSetCookie()[0]!;
    expect(cookie).toMatch(/^__Host-portcullis-browser=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\//);
    const html = await response.text();
    expect(html).toContain('Shiny &lt;b&gt;Agent&lt;/b&gt;'); // escaped
    expect(html).toContain('Registered itself with this gateway');
    expect(html).toContain('an app on this computer (127.0.0.1:7777)');
    expect(html).toContain('Only approve if you just started this');
    expect(hiddenInputs(html)['csrf']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Nothing has gone upstream yet: no upstream state exists before consent.
    expect(await t.store.list('gateway:upstream-states')).toEqual([]);
  });

  it('answers a denial with access_denied, state and iss, and issues nothing', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const browser = new TestBrowser(t);
    const page = await (await browser.go(authorizeUrl({ clientId: client_id! }))).text();
    const response = await browser.decide(page, 'deny');
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('iss')).toBe(ISSUER);
    expect(location.searchParams.get('state')).toBe('state-123');
    expect(await codesIssued(t)).toBe(0);
  });

  it('rejects a forged approve without the CSRF token', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const browser = new TestBrowser(t);
    const page = await (await browser.go(authorizeUrl({ clientId: client_id! }))).text();
    const { interaction } = hiddenInputs(page);
    const response = await browser.go('/consent', {
      ...form({ interaction: interaction!, decision: 'approve' }),
    });
    expectErrorPage(response, 403);
    expect(await t.store.list('gateway:upstream-states')).toEqual([]);
    expect(await codesIssued(t)).toBe(0);
  });

  it('rejects an approve with the right CSRF token from another browser (no interaction cookie)', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const page = await (await new TestBrowser(t).go(authorizeUrl({ clientId: client_id! }))).text();
    const response = await new TestBrowser(t).decide(page, 'approve');
    expectErrorPage(response, 403);
    expect(await t.store.list('gateway:upstream-states')).toEqual([]);
  });

  it('rejects a cross-site form post (Origin not the gateway)', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const browser = new TestBrowser(t);
    const page = await (await browser.go(authorizeUrl({ clientId: client_id! }))).text();
    const response = await browser.go('/consent', {
      ...form({ ...hiddenInputs(page), decision: 'approve' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
    });
    expectErrorPage(response, 403);
  });

  it('refuses a callback whose state was never issued or is replayed', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const browser = new TestBrowser(t);
    const page = await (await browser.go(authorizeUrl({ clientId: client_id! }))).text();
    const login = await (await browser.decide(page, 'approve')).text();
    expectErrorPage(await browser.go('/callback?code=x&state=forged'));
    const state = hiddenInputs(login)['state']!;
    const back = await browser.login(login);
    expect(back.status).toBe(302);
    expectErrorPage(await browser.go(`/callback?code=x&state=${state}`));
  });

  it('remembers consent per user + client + redirect URI: a signed-in user is not asked twice', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const browser = new TestBrowser(t);
    const first = await authorizeInBrowser(t, { clientId: client_id! }, browser);
    expect(first.searchParams.get('code')).toBeTruthy();
    const again = await browser.go(authorizeUrl({ clientId: client_id!, state: 's2' }));
    expect(again.status).toBe(302);
    const location = new URL(again.headers.get('location')!);
    expect(location.searchParams.get('code')).toBeTruthy();
    expect(location.searchParams.get('state')).toBe('s2');
    // Another client, same user: consent again, and the page names the user.
    const other = await registerClient(t, { client_name: 'Other' });
    const page = await browser.go(authorizeUrl({ clientId: other.client_id! }));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('alice@example.test');
  });

  it('asks again when prompt=consent', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const browser = new TestBrowser(t);
    await authorizeInBrowser(t, { clientId: client_id! }, browser);
    const again = await browser.go(authorizeUrl({ clientId: client_id!, extra: { prompt: 'consent' } }));
    expect(again.status).toBe(200);
    const back = await browser.decide(await again.text(), 'approve');
    expect(back.status).toBe(302); // signed in: straight to the code
    expect(new URL(back.headers.get('location')!).searchParams.get('code')).toBeTruthy();
  });

  it('expires an interaction after 10 minutes', async () => {
    const t = createTestGateway();
    const { client_id } = await registerClient(t);
    const browser = new TestBrowser(t);
    const page = await (await browser.go(authorizeUrl({ clientId: client_id! }))).text();
    t.clock.advance(601_000);
    expectErrorPage(await browser.decide(page, 'approve'));
  });

  it('rate-limits /authorize per IP', async () => {
    const t = createTestGateway({ config: { rateLimits: { authorize: { burst: 2, perMinute: 1 } } } });
    const { client_id } = await registerClient(t);
    const { challenge } = pkcePair();
    expect((await t.handle(authorizeUrl({ clientId: client_id!, challenge }))).status).toBe(200);
    expect((await t.handle(authorizeUrl({ clientId: client_id!, challenge }))).status).toBe(200);
    const limited = await t.handle(authorizeUrl({ clientId: client_id!, challenge }));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
  });
});
