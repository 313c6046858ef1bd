// The authorization servers the token benchmark (token.ts) measures, one process per role:
//   gateway        portcullis gateway (node server, SQLite store unless `--store memory:`),
//   oidc-builtin   oidc-provider@9 with its own in-memory adapter (the default when none is given:
//                  its MemoryAdapter over an LRU capped at 1000 entries),
//   oidc-builtin-unbounded  the same MemoryAdapter over an LRU that never evicts,
//   oidc-map       oidc-provider@9 with the test fixtures' Map adapter (no per-grant index),
//   floor          bare node:http reading the form and answering a random pair (no state, no
//                  checks): what any Node token endpoint pays before its own work.
// Both oidc-provider variants: opaque access tokens bound to the resource, refresh tokens
// rotated on every use (OAuth 2.1 §4.3.1), PKCE, a public client; no `openid` scope, so no ID
// token is signed per refresh (the gateway signs nothing either).
// Each server signs in `chains` times through its own login + consent pages (an HTTP user agent,
// a fresh cookie jar per chain, so every chain is its own grant), redeems each code, and prints
// one line `@bench { tokenUrl, clientId, refreshTokens }`. Then it answers each `stats` line on
// stdin with `@bench { cpuUs, rssBytes }` so the run can charge CPU per refresh, and each `grant`
// line with `@bench { refreshToken }` of a fresh grant (for a chain whose grant the server lost).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { openGateway } from '../../src/gateway/open.js';
import { startGatewayServer } from '../../src/gateway/server.js';
import { completeAuthorization } from '../../test/fixtures/browser-agent.js';
import { handleInteraction } from '../../test/fixtures/oidc-interactions.js';
import { OidcMemoryStore } from '../../test/fixtures/oidc-memory-adapter.js';

const [role = 'gateway', chainsArg = '16', storeSpec = ''] = process.argv.slice(2);
const chains = Number(chainsArg);
const CLIENT_ID = 'bench-client';
// The code is read off the redirect without loading it: nothing needs to listen there.
const REDIRECT_URI = 'http://127.0.0.1:9/callback';

interface Served {
  issuer: string;
  authorizeUrl: string;
  tokenUrl: string;
  resource: string;
  scope: string;
  login: string;
  password: string;
  close(): Promise<void>;
}

async function startPortcullis(): Promise<Served> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-token-bench-'));
  let gateway: Awaited<ReturnType<typeof openGateway>> | undefined;
  const server = await startGatewayServer(() => gateway, { port: 0, host: '127.0.0.1' });
  const issuer = `http://127.0.0.1:${server.port}`;
  gateway = await openGateway(
    {
      issuer,
      dev: true,
      upstream: { type: 'dev', users: [{ username: 'demo' }] },
      store: storeSpec || `sqlite:${path.join(dir, 'gateway.db')}`,
      encryptionKey: randomBytes(32).toString('base64url'),
      clients: [
        {
          clientId: CLIENT_ID,
          redirectUris: ['http://127.0.0.1/callback'],
          tokenEndpointAuthMethod: 'none',
        },
      ],
      // Limits stay on (their cost is part of a refresh) but far above the offered load.
      rateLimits: { token: { burst: 1e9, perMinute: 1e9 } },
    },
    { stateDir: dir },
  );
  return {
    issuer,
    authorizeUrl: `${issuer}/authorize`,
    tokenUrl: `${issuer}/token`,
    resource: gateway.config.resource,
    scope: 'mcp',
    login: 'demo',
    password: 'any',
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * oidc-provider's own MemoryAdapter over one LRU of `maxSize` entries (the shipped default builds
 * the same with 1000): the per-grant index and its cost, without the cache dropping entries.
 */
async function builtinAdapter(maxSize: number): Promise<(model: string) => unknown> {
  // Deep imports (the package has no exports map); typed here, as oidc-provider ships no types.
  const { default: MemoryAdapter } = (await import(
    'oidc-provider/lib/adapters/memory_adapter.js' as string
  )) as {
    default: new (model: string, store: unknown) => unknown;
  };
  const { default: LRU } = (await import('oidc-provider/lib/helpers/lru.js' as string)) as {
    default: new (opts: { maxSize: number }) => unknown;
  };
  const storage = new LRU({ maxSize });
  return (model) => new MemoryAdapter(model, storage);
}

async function startOidcProvider(adapter: 'builtin' | 'unbounded' | 'map'): Promise<Served> {
  const users = { alice: { password: 'alice-password' } };
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const resource = `${issuer}/mcp`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const store = new OidcMemoryStore();
  const adapterOption =
    adapter === 'map'
      ? { adapter: (name: string) => store.adapterFor(name) }
      : adapter === 'unbounded'
        ? { adapter: (await builtinAdapter(100_000_000)) as never }
        : {}; // oidc-provider's default: its MemoryAdapter over an LRU of 1000 entries
  const provider = new Provider(issuer, {
    ...adapterOption,
    clients: [
      {
        client_id: CLIENT_ID,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'bench', alg: 'RS256', use: 'sig' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({
          scope: 'mcp',
          audience: resource,
          accessTokenTTL: 3600,
          accessTokenFormat: 'opaque',
        }),
      },
    },
    issueRefreshToken: async () => true,
    rotateRefreshToken: true,
    expiresWithSession: async () => false,
    ttl: {
      AccessToken: 3600,
      RefreshToken: 30 * 24 * 3600,
      Grant: 30 * 24 * 3600,
      Session: 3600,
      Interaction: 600,
    },
  });
  // Why a refresh failed (the response only says invalid_grant): once per distinct reason, on stderr.
  const reported = new Set<string>();
  provider.on('grant.error', (_ctx: unknown, err: unknown) => {
    const { error_detail, message } = (err ?? {}) as { error_detail?: string; message?: string };
    const detail = error_detail ?? message ?? String(err);
    if (reported.has(detail)) return;
    reported.add(detail);
    process.stderr.write(`[${role}] grant error: ${detail}\n`);
  });
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    if (await handleInteraction(provider, users, req, res)) return;
    callback(req, res);
  });
  return {
    issuer,
    authorizeUrl: `${issuer}/auth`,
    tokenUrl: `${issuer}/token`,
    resource,
    scope: 'mcp',
    login: 'alice',
    password: 'alice-password',
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The floor: node:http reading the form and answering a fresh random pair, no checks, no
 * state. What any Node token endpoint pays before doing its own work.
 */
async function startFloor(): Promise<{ tokenUrl: string; refreshTokens: string[]; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (form.get('grant_type') !== 'refresh_token' || !form.get('refresh_token')) {
        res.writeHead(400).end();
        return;
      }
      const body = JSON.stringify({
        access_token: randomBytes(32).toString('base64url'),
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: randomBytes(32).toString('base64url'),
        scope: 'mcp',
      });
      res
        .writeHead(200, {
          'content-type': 'application/json',
          'cache-control': 'no-store',
          'content-length': Buffer.byteLength(body),
        })
        .end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  return {
    tokenUrl,
    refreshTokens: Array.from({ length: chains }, () => randomBytes(32).toString('base64url')),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One authorization code flow in a fresh "browser": a new grant, its first refresh token. */
async function firstRefreshToken(s: Served): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(s.authorizeUrl);
  const state = randomBytes(16).toString('base64url');
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope: s.scope,
    resource: s.resource,
    state,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const landed = await completeAuthorization(url, {
    login: s.login,
    password: s.password,
    redirectUri: REDIRECT_URI,
    visitRedirectUri: false,
  });
  const code = landed.searchParams.get('code');
  if (!code || landed.searchParams.get('state') !== state) throw new Error(`no code: ${landed.href}`);
  const response = await fetch(s.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      client_id: CLIENT_ID,
      resource: s.resource,
    }),
  });
  const body = (await response.json()) as { refresh_token?: string };
  if (!response.ok || !body.refresh_token) throw new Error(`code exchange failed: ${JSON.stringify(body)}`);
  return body.refresh_token;
}

if (role === 'floor') {
  const floor = await startFloor();
  process.stdout.write(
    `@bench ${JSON.stringify({ tokenUrl: floor.tokenUrl, clientId: CLIENT_ID, refreshTokens: floor.refreshTokens })}\n`,
  );
  await answerStats();
  await floor.close();
  process.exit(0);
}

async function answerStats(newGrant?: () => Promise<string>): Promise<void> {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'grant' && newGrant) {
      process.stdout.write(`@bench ${JSON.stringify({ refreshToken: await newGrant() })}\n`);
    } else if (line === 'stats') {
      const { user, system } = process.cpuUsage();
      process.stdout.write(
        `@bench ${JSON.stringify({ cpuUs: user + system, rssBytes: process.memoryUsage().rss })}\n`,
      );
    }
  }
}

const served =
  role === 'gateway'
    ? await startPortcullis()
    : role === 'oidc-builtin'
      ? await startOidcProvider('builtin')
      : role === 'oidc-builtin-unbounded'
        ? await startOidcProvider('unbounded')
        : role === 'oidc-map'
          ? await startOidcProvider('map')
          : undefined;
if (!served) throw new Error(`unknown role ${role}`);
const refreshTokens: string[] = [];
for (let i = 0; i < chains; i++) refreshTokens.push(await firstRefreshToken(served));
// oidc-provider writes notices to stdout too: protocol lines carry a prefix.
process.stdout.write(
  `@bench ${JSON.stringify({ tokenUrl: served.tokenUrl, clientId: CLIENT_ID, refreshTokens })}\n`,
);

await answerStats(() => firstRefreshToken(served));
await served.close();
process.exit(0);
