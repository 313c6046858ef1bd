// Shared setup for the gateway's unit tests: a gateway on a memory store with a controllable
// clock, no network (a resolver and fetch that record and refuse), the dev IdP as upstream, a
// recording MCP endpoint, and a tiny "browser" that walks /authorize → consent → login →
// callback through `gateway.handle` without a socket.
import { createHash, randomBytes } from 'node:crypto';
import { type GatewayConfigInput, parseGatewayConfig } from '../../src/gateway/config.js';
import { createGateway, type Gateway, type GatewayDeps } from '../../src/gateway/gateway.js';
import type { McpEndpoint, McpPrincipal } from '../../src/gateway/mcp/types.js';
import type { Resolver } from '../../src/oauth/ssrf.js';
import { createMemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/store.js';
import { CookieJar } from '../fixtures/cookie-jar.js';

export const ISSUER = 'https://gw.example';
export const MCP_URL = 'https://gw.example/mcp';
export const LOOPBACK_REDIRECT = 'http://127.0.0.1:7777/callback';

export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export function testClock(start = Date.UTC(2026, 0, 15, 12)): TestClock {
  let now = start;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

/**
 * `inner` with its first `get` held after reading, until `release()`: lets a test land a write
 * while a read that already saw the old value is still in flight.
 */
export function heldFirstRead(inner: Store): { store: Store; release: () => void } {
  let release: (() => void) | undefined;
  const store: Store = {
    ...inner,
    get: async <T>(ns: string, key: string) => {
      const value = await inner.get<T>(ns, key);
      if (release === undefined) await new Promise<void>((resolve) => (release = resolve));
      return value;
    },
  };
  return { store, release: () => release!() };
}

export interface RecordedMcpCall {
  url: string;
  method: string;
  headers: Headers;
  principal: McpPrincipal;
  body: string;
}

/** A stand-in for the MCP side: records what it was given and answers JSON. */
export function recordingMcpEndpoint(): McpEndpoint & { calls: RecordedMcpCall[] } {
  const calls: RecordedMcpCall[] = [];
  return {
    calls,
    async handle(request, principal) {
      calls.push({
        url: request.url,
        method: request.method,
        headers: request.headers,
        principal,
        body: request.body ? await request.text() : '',
      });
      return Response.json(
        { jsonrpc: '2.0', id: 1, result: { user: principal.userId } },
        { headers: { 'Mcp-Session-Id': 'session-1' } },
      );
    },
    async close() {},
  };
}

export interface NetworkLog {
  lookups: string[];
  fetches: string[];
}

export interface TestGateway {
  gw: Gateway;
  clock: TestClock;
  store: Store;
  mcp: ReturnType<typeof recordingMcpEndpoint>;
  net: NetworkLog;
  handle(path: string, init?: RequestInit): Promise<Response>;
}

export interface TestGatewayOptions {
  config?: Partial<GatewayConfigInput>;
  deps?: Partial<GatewayDeps>;
  /** DNS answers for the injected resolver (hostname → addresses); others fail. */
  dns?: Record<string, string[]>;
  /** Answers for the injected fetch (URL → response factory); others throw. */
  web?: Record<string, () => Response>;
}

export function createTestGateway(opts: TestGatewayOptions = {}): TestGateway {
  const clock = testClock();
  const store = opts.deps?.store ?? createMemoryStore({ clock: clock.now });
  const mcp = recordingMcpEndpoint();
  const net: NetworkLog = { lookups: [], fetches: [] };
  const resolver: Resolver = async (hostname) => {
    net.lookups.push(hostname);
    const answers = opts.dns?.[hostname];
    if (!answers) throw new Error(`ENOTFOUND ${hostname}`);
    return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  const fetchStub = (async (input: string | URL | Request) => {
    const url = input instanceof Request ? input.url : String(input);
    net.fetches.push(url);
    const answer = opts.web?.[url];
    if (!answer) throw new TypeError(`fetch failed: no route to ${url}`);
    return answer();
  }) as typeof fetch;
  const config = parseGatewayConfig({
    issuer: ISSUER,
    upstream: {
      type: 'dev',
      users: [{ username: 'alice', password: 'alice-pw', email: 'alice@example.test' }],
    },
    registration: { redirectSchemes: ['claude'] },
    ...opts.config,
  });
  const gw = createGateway(config, {
    store,
    clock: clock.now,
    resolver,
    fetch: fetchStub,
    mcpEndpoint: mcp,
    encryptionKey: randomBytes(32),
    ...opts.deps,
  });
  return {
    gw,
    clock,
    store,
    mcp,
    net,
    handle: (path, init) =>
      gw.handle(new Request(new URL(path, ISSUER), init), { remoteAddress: '203.0.113.7' }),
  };
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function form(params: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  };
}

export function json(body: unknown): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

export async function registerClient(
  t: TestGateway,
  metadata: Record<string, unknown> = {},
): Promise<Record<string, string>> {
  const response = await t.handle(
    '/register',
    json({
      redirect_uris: [LOOPBACK_REDIRECT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      client_name: 'Test Client',
      ...metadata,
    }),
  );
  if (response.status !== 201)
    throw new Error(`registration failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, string>;
}

/** Hidden inputs of the first form on a page. */
export function hiddenInputs(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    out[name!] = value!
      .replace(/&amp;/g, '&')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
  }
  return out;
}

/** A browser for `gateway.handle`: a cookie jar, and redirects followed while they stay on the gateway. */
export class TestBrowser {
  readonly jar = new CookieJar();
  constructor(private readonly t: TestGateway) {}

  async go(url: string | URL, init: RequestInit = {}): Promise<Response> {
    let target = new URL(url, ISSUER);
    let request: RequestInit = init;
    for (let i = 0; i < 10; i++) {
      const headers = new Headers(request.headers);
      const cookie = this.jar.header(target);
      if (cookie) headers.set('cookie', cookie);
      const response = await this.t.gw.handle(new Request(target, { ...request, headers }), {
        remoteAddress: '203.0.113.7',
      });
      this.jar.store(target, response.headers.getSetCookie());
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return response;
      const next = new URL(location, target);
      if (next.origin !== new URL(ISSUER).origin) return response;
      target = next;
      request = {};
    }
    throw new Error('too many redirects');
  }

  /** Submits the consent form on `page` with `decision`. */
  async decide(
    page: string,
    decision: 'approve' | 'deny',
    extra: Record<string, string> = {},
  ): Promise<Response> {
    const { interaction, csrf } = hiddenInputs(page);
    return this.go('/consent', {
      ...form({ interaction: interaction!, csrf: csrf!, decision, ...extra }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ISSUER },
    });
  }

  /** Signs in on the dev IdP login page (after a consent approve landed there). */
  async login(page: string, username = 'alice', password = 'alice-pw'): Promise<Response> {
    return this.go('/dev-idp/login', form({ ...hiddenInputs(page), username, password }));
  }
}

export interface AuthorizeOptions {
  clientId: string;
  redirectUri?: string;
  scope?: string;
  state?: string;
  challenge?: string;
  extra?: Record<string, string>;
}

export function authorizeUrl(o: AuthorizeOptions): string {
  const url = new URL('/authorize', ISSUER);
  const params: Record<string, string> = {
    response_type: 'code',
    client_id: o.clientId,
    redirect_uri: o.redirectUri ?? LOOPBACK_REDIRECT,
    state: o.state ?? 'state-123',
    code_challenge: o.challenge ?? pkcePair().challenge,
    code_challenge_method: 'S256',
    resource: MCP_URL,
    ...(o.scope ? { scope: o.scope } : {}),
    ...o.extra,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

/** The whole browser part: authorize, approve, sign in; returns the redirect back to the client. */
export async function authorizeInBrowser(
  t: TestGateway,
  o: AuthorizeOptions,
  browser = new TestBrowser(t),
): Promise<URL> {
  const consent = await browser.go(authorizeUrl(o));
  if (consent.status === 302) return new URL(consent.headers.get('location')!);
  if (consent.status !== 200)
    throw new Error(`authorize answered ${consent.status}: ${await consent.text()}`);
  const login = await browser.decide(await consent.text(), 'approve');
  if (login.status === 302) return new URL(login.headers.get('location')!);
  const back = await browser.login(await login.text());
  if (back.status !== 302) throw new Error(`login answered ${back.status}: ${await back.text()}`);
  return new URL(back.headers.get('location')!);
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

/** Registers a public client, runs the flow and redeems the code. */
export async function obtainTokens(
  t: TestGateway,
  opts: { scope?: string; client?: Record<string, string> } = {},
): Promise<{ tokens: Tokens; clientId: string; verifier: string }> {
  const client = opts.client ?? (await registerClient(t));
  const { verifier, challenge } = pkcePair();
  const back = await authorizeInBrowser(t, {
    clientId: client['client_id']!,
    challenge,
    ...(opts.scope ? { scope: opts.scope } : {}),
  });
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code: ${back.href}`);
  const response = await t.handle(
    '/token',
    form({
      grant_type: 'authorization_code',
      code,
      redirect_uri: LOOPBACK_REDIRECT,
      client_id: client['client_id']!,
      code_verifier: verifier,
      resource: MCP_URL,
      ...(client['client_secret'] ? { client_secret: client['client_secret'] } : {}),
    }),
  );
  if (response.status !== 200) throw new Error(`token answered ${response.status}: ${await response.text()}`);
  return { tokens: (await response.json()) as Tokens, clientId: client['client_id']!, verifier };
}

export function bearer(token: string, init: RequestInit = {}): RequestInit {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"ping"}', ...init, headers };
}

/** What `fn` throws, or undefined when it returns. */
export function catchError(fn: () => void): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
