/**
 * `createGateway`: the whole gateway as one fetch-style handler, `(Request) => Promise<Response>`,
 * mountable in any framework and testable without a socket. Routing only; each endpoint is its
 * own file under endpoints/, and every error leaves through errors.ts.
 */
import { randomBytes } from 'node:crypto';
import { type Logger, silentLogger } from '../logger.js';
import { OAuthError } from '../oauth/errors.js';
import { type Resolver, systemResolver } from '../oauth/ssrf.js';
import { createEncryptedStore } from '../store/encrypted.js';
import { parseEncryptionKey } from '../store/encryption-key.js';
import { createMemoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { ClientRegistry } from './clients/registry.js';
import { type GatewayConfig, type GatewayConfigInput, parseGatewayConfig } from './config.js';
import { type GatewayContext, gatewayUrls, type HeaderSource, type RequestInfo } from './context.js';
import { handleAuthorizationServerMetadata } from './endpoints/authorization-server-metadata.js';
import { handleAuthorize } from './endpoints/authorize.js';
import { handleCallback } from './endpoints/callback.js';
import { handleConsent } from './endpoints/consent.js';
import { handleHealthz } from './endpoints/healthz.js';
import { handleIntrospect } from './endpoints/introspect.js';
import { handleMcp, type McpDoorPolicies, mcpDoorPolicies, verifyAccessToken } from './endpoints/mcp.js';
import { handleProtectedResourceMetadata } from './endpoints/protected-resource-metadata.js';
import { handleRegister } from './endpoints/register.js';
import { handleRevoke } from './endpoints/revoke.js';
import { handleToken, serveToken } from './endpoints/token.js';
import { type PlainResponse, renderError } from './errors.js';
import { corsHeaders, preflightResponse, withCors } from './http/cors.js';
import { TokenBucketLimiter } from './http/rate-limit.js';
import { InteractionRecords } from './interaction/records.js';
import type { McpEndpoint } from './mcp/types.js';
import { AuthorizationCodes } from './tokens/codes.js';
import { pooledRandomBytes, type RandomBytes } from './tokens/format.js';
import { Grants } from './tokens/grants.js';
import { createDevUpstream } from './upstream/dev.js';
import { UpstreamLogins } from './upstream/logins.js';
import { createOidcUpstream } from './upstream/oidc.js';
import type { UpstreamIdentityProvider } from './upstream/types.js';

export interface GatewayDeps {
  /** Default: a memory store owned (and closed) by the gateway. */
  store?: Store;
  clock?: () => number;
  random?: RandomBytes;
  /** Used for CIMD documents (default: a fetch pinned to the SSRF-checked address) and the IdP. */
  fetch?: typeof fetch;
  /** DNS for the CIMD SSRF guard. */
  resolver?: Resolver;
  logger?: Logger;
  /** The MCP side (src/gateway/mcp); without one, authorized MCP requests get 503. */
  mcpEndpoint?: McpEndpoint;
  /** Replaces the provider built from `config.upstream`. */
  upstream?: UpstreamIdentityProvider;
  /** 32 bytes sealing upstream IdP tokens; default `config.encryptionKey`, else an ephemeral key. */
  encryptionKey?: Uint8Array;
}

export interface Gateway {
  readonly config: GatewayConfig;
  /** Serves one request. `info.remoteAddress` feeds the per-IP rate limits. */
  handle(request: Request, info?: RequestInfo): Promise<Response>;
  /** The bearer check behind the MCP path, for hosts that mount the MCP side themselves. */
  verifyAccessToken(token: string): ReturnType<typeof verifyAccessToken>;
  /** Internals the Node server needs for its fast paths; not for applications. */
  readonly internals: {
    ctx: GatewayContext;
    door: McpDoorPolicies;
    closeMcp(): Promise<void>;
    /** POST to the token endpoint without fetch objects: the same answer `handle` gives, CORS included. */
    token: {
      path: string;
      serve(
        headers: HeaderSource,
        readBody: () => Promise<Uint8Array | undefined>,
        info: RequestInfo,
      ): Promise<PlainResponse>;
    };
  };
  close(): Promise<void>;
}

type Handler = (request: Request, ctx: GatewayContext, info: RequestInfo) => Promise<Response>;
interface Route {
  methods: string[];
  handler: Handler;
  /** Public CORS (any origin, no credentials) for browser-based clients. */
  cors: boolean;
}

export function createGateway(input: GatewayConfigInput | GatewayConfig, deps: GatewayDeps = {}): Gateway {
  const config = isParsed(input) ? input : parseGatewayConfig(input);
  const clock = deps.clock ?? Date.now;
  const random: RandomBytes = deps.random ?? pooledRandomBytes();
  const logger = deps.logger ?? silentLogger;
  const ownsStore = deps.store === undefined;
  const store = deps.store ?? createMemoryStore({ clock });
  const urls = gatewayUrls(config);
  const key =
    deps.encryptionKey ??
    (config.encryptionKey ? parseEncryptionKey(config.encryptionKey, 'encryptionKey') : undefined);
  if (!key) logger.warn('no encryption key configured: upstream logins will not survive a restart');
  const upstream =
    deps.upstream ??
    (config.upstream.type === 'oidc'
      ? createOidcUpstream(config.upstream, { callbackUrl: urls.callback, clock, fetch: deps.fetch, logger })
      : createDevUpstream(config.upstream, {
          issuer: config.issuer,
          callbackUrl: urls.callback,
          store,
          clock,
          maxBodyBytes: config.maxBodyBytes,
        }));
  const redirectPolicy = { schemes: config.registration.redirectSchemes };
  const ctx: GatewayContext = {
    config,
    urls,
    store,
    clock,
    random,
    logger,
    grants: new Grants({
      store,
      clock,
      random,
      accessTokenTtl: config.tokens.accessTokenTtl,
      refreshTokenTtl: config.tokens.refreshTokenTtl,
      refreshGraceSeconds: config.tokens.refreshGraceSeconds,
      accessTokenCacheSeconds: config.tokens.accessTokenCacheSeconds,
    }),
    codes: new AuthorizationCodes({ store, clock, random, codeTtl: config.tokens.codeTtl }),
    clients: new ClientRegistry({
      store,
      statics: config.clients,
      registrationTtl: config.registration.ttlSeconds,
      cimd: config.cimd.enabled
        ? {
            store,
            clock,
            resolver: deps.resolver ?? systemResolver,
            fetch: deps.fetch,
            redirectPolicy,
            maxBytes: config.cimd.maxBytes,
            timeoutMs: config.cimd.timeoutMs,
            minCacheSeconds: config.cimd.minCacheSeconds,
            maxCacheSeconds: config.cimd.maxCacheSeconds,
            defaultCacheSeconds: config.cimd.defaultCacheSeconds,
          }
        : undefined,
    }),
    records: new InteractionRecords({
      store,
      clock,
      interactionTtl: config.interactionTtl,
      sessionTtl: config.sessionTtl,
      consentTtl: config.consentTtl,
    }),
    logins: new UpstreamLogins({
      store: createEncryptedStore(store, { key: key ?? randomBytes(32) }),
      clock,
      provider: upstream,
      skewSeconds: config.upstreamRefreshSkewSeconds,
      ttlSeconds: config.tokens.refreshTokenTtl,
      cacheSeconds: config.tokens.accessTokenCacheSeconds,
      logger,
    }),
    upstream,
    limiter: new TokenBucketLimiter(clock),
    cookies: { secure: new URL(config.issuer).protocol === 'https:' },
    redirectPolicy,
    mcp: deps.mcpEndpoint,
  };
  const door = mcpDoorPolicies(ctx);
  const routes = buildRoutes(config);

  async function handle(request: Request, info: RequestInfo = {}): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === config.mcpPath) {
      try {
        return await handleMcp(request, ctx, door);
      } catch (err) {
        return renderError(err, { kind: 'json' }, logger);
      }
    }
    const route = routes.get(path);
    if (!route) {
      const own = path.startsWith(`${config.basePath}/`) ? path.slice(config.basePath.length) : undefined;
      const served =
        own !== undefined
          ? await upstream.handle?.(request, own).catch((err) => renderError(err, { kind: 'page' }, logger))
          : undefined;
      return (
        served ??
        renderError(new OAuthError('not_found', `no endpoint at ${path}`, { status: 404 }), { kind: 'json' })
      );
    }
    const cors = route.cors ? corsHeaders(request.headers.get('origin'), { kind: 'public' }) : {};
    if (request.method === 'OPTIONS' && route.cors) return preflightResponse(request, { kind: 'public' });
    if (!route.methods.includes(request.method)) {
      return withCors(
        new Response(null, { status: 405, headers: { Allow: route.methods.join(', ') } }),
        cors,
      );
    }
    try {
      return withCors(await route.handler(request, ctx, info), cors);
    } catch (err) {
      return renderError(err, { kind: 'json', headers: cors }, logger);
    }
  }

  let mcpClosed: Promise<void> | undefined;
  const closeMcp = () => {
    mcpClosed ??= ctx.mcp?.close() ?? Promise.resolve();
    return mcpClosed;
  };
  return {
    config,
    handle,
    verifyAccessToken: (token) => verifyAccessToken(token, ctx),
    internals: {
      ctx,
      door,
      closeMcp,
      token: {
        path: `${config.basePath}/token`,
        serve: (headers, readBody, info) =>
          serveToken(headers, readBody, ctx, info, corsHeaders(headers.get('origin'), { kind: 'public' })),
      },
    },
    async close() {
      await closeMcp();
      if (ownsStore) await store.close();
    },
  };
}

function buildRoutes(config: GatewayConfig): Map<string, Route> {
  const at = (p: string) => `${config.basePath}${p}`;
  const get = (handler: Handler, cors = false): Route => ({ methods: ['GET', 'HEAD'], handler, cors });
  const post = (handler: Handler, cors = false): Route => ({ methods: ['POST'], handler, cors });
  const asMetadata = get((r, c) => handleAuthorizationServerMetadata(r, c), true);
  const prm = get((r, c) => handleProtectedResourceMetadata(r, c), true);
  const routes = new Map<string, Route>([
    // RFC 8414 §3.1 path-inserted, and the root variant for issuers without a path.
    [`/.well-known/oauth-authorization-server${config.basePath}`, asMetadata],
    ['/.well-known/oauth-authorization-server', asMetadata],
    // RFC 9728 §3.1 path-inserted, and the root variant (MCP 2025-11-25 clients try both).
    [`/.well-known/oauth-protected-resource${config.mcpPath}`, prm],
    ['/.well-known/oauth-protected-resource', prm],
    [at('/authorize'), get(handleAuthorize)],
    [at('/consent'), post((r, c) => handleConsent(r, c))],
    [at('/callback'), get((r, c) => handleCallback(r, c))],
    [at('/token'), post(handleToken, true)],
    [at('/register'), post(handleRegister, true)],
    [at('/revoke'), post((r, c) => handleRevoke(r, c), true)],
    [at('/introspect'), post((r, c) => handleIntrospect(r, c))],
    ['/healthz', get((r, c) => handleHealthz(r, c))],
  ]);
  return routes;
}

function isParsed(input: GatewayConfigInput | GatewayConfig): input is GatewayConfig {
  return 'resource' in input && 'basePath' in input && 'defaultScopes' in input;
}
