// Shared parts of the gateway end-to-end tests (gateway-e2e*.test.ts): gateways over real sockets
// on 127.0.0.1:0 federating to one real oidc-provider, and an in-memory OAuthClientProvider of the
// SDK's own shape, as a third-party MCP host would write it, whose "browser" is the fixture agent.
import { randomBytes } from 'node:crypto';
import { type OAuthClientProvider, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { createGateway, type Gateway, type GatewayDeps } from '../../src/gateway/gateway.js';
import type { McpEndpoint } from '../../src/gateway/mcp/types.js';
import { type GatewayServer, startGatewayServer } from '../../src/gateway/server.js';
import type { Store } from '../../src/store/store.js';
import { type AuthorizationServer, startAuthorizationServer } from '../fixtures/authorization-server.js';
import { completeAuthorization } from '../fixtures/browser-agent.js';
import { type CallbackListener, startCallbackListener } from '../fixtures/loopback-callback.js';

export const IDP_CLIENT = { id: 'portcullis-gateway', secret: randomBytes(24).toString('base64url') };
export const ALICE = { login: 'alice', password: 'alice-password' };

export interface GatewaySpec {
  /** Built once the gateway's clock exists (a store may want it). */
  mcpEndpoint: () => McpEndpoint;
  store?: (clock: () => number) => Promise<Store>;
  deps?: Pick<GatewayDeps, 'fetch' | 'resolver'>;
  tokens?: { accessTokenTtl?: number; refreshGraceSeconds?: number };
}

export interface ServedRequest {
  method: string;
  path: string;
  status: number;
}

export interface RunningGateway {
  gateway: Gateway;
  server: GatewayServer;
  issuer: string;
  /** The MCP endpoint: what clients connect to, and every token's audience. */
  mcpUrl: string;
  /** Requests answered by `Gateway.handle`: the AS pages and endpoints except /token (the Node fast path). */
  served: ServedRequest[];
  /** Moves this gateway's clock forward (the IdP and the client keep real time). */
  advance(seconds: number): void;
}

export interface Stack<K extends string> {
  idp: AuthorizationServer;
  gateways: Record<K, RunningGateway>;
  stop(): Promise<void>;
}

/**
 * One oidc-provider and one gateway per spec, each registered at the IdP as the same static
 * confidential client (one redirect URI per gateway, `${issuer}/callback`), `type: 'oidc'`.
 */
export async function startStack<K extends string>(specs: Record<K, GatewaySpec>): Promise<Stack<K>> {
  const names = Object.keys(specs) as K[];
  const current = new Map<K, Gateway>();
  const servers = new Map<K, GatewayServer>();
  for (const name of names) servers.set(name, await startGatewayServer(() => current.get(name)));
  const idp = await startAuthorizationServer({
    clients: [
      {
        client_id: IDP_CLIENT.id,
        client_secret: IDP_CLIENT.secret,
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: names.map((name) => `${servers.get(name)!.url}/callback`),
        grant_types: ['authorization_code', 'refresh_token'],
      },
    ],
  });
  const stores: Store[] = [];
  const gateways = {} as Record<K, RunningGateway>;
  for (const name of names) {
    const spec = specs[name];
    const server = servers.get(name)!;
    let offsetMs = 0;
    const clock = () => Date.now() + offsetMs;
    const store = spec.store ? await spec.store(clock) : undefined;
    if (store) stores.push(store);
    const gateway = createGateway(
      {
        issuer: server.url,
        dev: true, // plain http on 127.0.0.1
        upstream: {
          type: 'oidc',
          issuer: idp.issuer,
          clientId: IDP_CLIENT.id,
          clientSecret: IDP_CLIENT.secret,
          scopes: ['openid', 'email', 'profile', 'offline_access'],
        },
        ...(spec.tokens ? { tokens: spec.tokens } : {}),
      },
      {
        clock,
        encryptionKey: randomBytes(32),
        mcpEndpoint: spec.mcpEndpoint(),
        ...(store ? { store } : {}),
        ...spec.deps,
      },
    );
    const served: ServedRequest[] = [];
    current.set(name, {
      ...gateway,
      async handle(request, info) {
        const response = await gateway.handle(request, info);
        const { pathname } = new URL(request.url);
        served.push({ method: request.method, path: pathname, status: response.status });
        return response;
      },
    });
    gateways[name] = {
      gateway,
      server,
      issuer: gateway.config.issuer,
      mcpUrl: gateway.config.resource,
      served,
      advance: (seconds) => {
        offsetMs += seconds * 1000;
      },
    };
  }
  return {
    idp,
    gateways,
    async stop() {
      await Promise.allSettled([...servers.values()].map((s) => s.close()));
      await Promise.allSettled(stores.map((s) => s.close()));
      await idp.stop();
    },
  };
}

/** What the browser agent saw at one step of an authorization: the URL and, for HTML, the page. */
export interface SeenPage {
  url: string;
  status: number;
  html: string;
}

/**
 * An in-memory `OAuthClientProvider`, written the way a third-party host writes one. Its
 * `redirectToAuthorization` plays the person: the fixture browser agent approves the gateway's
 * consent page and signs in at the IdP; the code arrives at a loopback listener and waits in
 * `code` for the host to call `transport.finishAuth`.
 */
export class MemoryOAuthProvider implements OAuthClientProvider {
  readonly clientMetadataUrl?: string;
  /** Every token set the SDK saved, in order (rotation history). */
  readonly savedTokens: OAuthTokens[] = [];
  /** Every authorization URL the SDK sent the person to. */
  readonly authorizations: URL[] = [];
  /** Every authorization response that reached the redirect URI. */
  readonly callbacks: URL[] = [];
  /** The pages of the latest authorization, as the browser agent saw them. */
  pages: SeenPage[] = [];
  code: string | undefined;
  #client: OAuthClientInformationMixed | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier: string | undefined;

  private constructor(
    private readonly listener: CallbackListener,
    opts: { clientMetadataUrl?: string | undefined },
  ) {
    if (opts.clientMetadataUrl !== undefined) this.clientMetadataUrl = opts.clientMetadataUrl;
  }

  static async create(opts: { clientMetadataUrl?: string } = {}): Promise<MemoryOAuthProvider> {
    return new MemoryOAuthProvider(await startCallbackListener(), opts);
  }

  get redirectUrl(): string {
    return this.listener.redirectUri;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'E2E SDK Host',
      redirect_uris: [this.listener.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.#client;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.#client = info;
  }

  tokens(): OAuthTokens | undefined {
    return this.#tokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.#tokens = tokens;
    this.savedTokens.push(tokens);
  }

  saveCodeVerifier(verifier: string): void {
    this.#verifier = verifier;
  }

  codeVerifier(): string {
    if (!this.#verifier) throw new Error('no code verifier saved');
    return this.#verifier;
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'all' || scope === 'client') this.#client = undefined;
    if (scope === 'all' || scope === 'tokens') this.#tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this.#verifier = undefined;
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizations.push(url);
    const pages: SeenPage[] = [];
    this.pages = pages;
    const recording: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const html = (response.headers.get('content-type') ?? '').includes('html')
        ? await response.clone().text()
        : '';
      pages.push({ url: String(input), status: response.status, html });
      return response;
    };
    await completeAuthorization(url, {
      ...ALICE,
      approve: true,
      redirectUri: this.listener.redirectUri,
      fetch: recording,
    });
    const callback = await this.listener.next();
    this.callbacks.push(callback);
    this.code = callback.searchParams.get('code') ?? undefined;
  }

  /** The code of the latest authorization, once. */
  takeCode(): string {
    const code = this.code;
    this.code = undefined;
    if (!code) throw new Error(`no authorization code: ${this.callbacks.at(-1)?.href ?? 'no callback'}`);
    return code;
  }

  stop(): Promise<void> {
    return this.listener.stop();
  }
}

export interface Connection {
  client: Client;
  transport: StreamableHTTPClientTransport;
}

/**
 * The host's connect loop (as /work/shared/conformance/example-client.mjs): connect; on
 * UnauthorizedError the provider has been through the browser, so finish with the code and
 * connect again on a fresh transport.
 */
export async function connectSdk(mcpUrl: string, provider: MemoryOAuthProvider): Promise<Connection> {
  const client = new Client({ name: 'gateway-e2e-host', version: '1.0.0' });
  let transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  try {
    await client.connect(transport);
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
    await transport.finishAuth(provider.takeCode());
    transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
    await client.connect(transport);
  }
  return { client, transport };
}

export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? '').join('');
}

/** A bare JSON-RPC ping to the MCP endpoint with `token`: the gateway's bearer check, nothing else. */
export async function mcpWithToken(
  mcpUrl: string,
  token: string,
): Promise<{ status: number; challenge: string | null }> {
  const response = await fetch(mcpUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  await response.body?.cancel();
  return { status: response.status, challenge: response.headers.get('www-authenticate') };
}

/** A form POST to a gateway endpoint (token, revoke) as a public client. */
export async function postForm(
  url: string,
  form: Record<string, string>,
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> | undefined }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}

/** RFC 7662 at the IdP, authenticated as the gateway: is this the IdP's own live token, and whose? */
export async function introspectAtIdp(
  idp: AuthorizationServer,
  token: string,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${idp.issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${IDP_CLIENT.id}:${IDP_CLIENT.secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  });
  if (!response.ok) throw new Error(`introspection answered ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

/** The page text without markup, whitespace collapsed. */
export function pageText(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
