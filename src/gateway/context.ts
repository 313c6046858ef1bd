/**
 * Everything an endpoint needs, built once by `createGateway` and passed to each handler:
 * no module-level state, so tests control time, randomness, network and storage.
 */
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import type { RedirectPolicy } from './clients/redirect-uris.js';
import type { ClientRegistry } from './clients/registry.js';
import type { GatewayConfig } from './config.js';
import { GatewayError } from './errors.js';
import type { CookiePolicy } from './http/cookies.js';
import type { TokenBucketLimiter } from './http/rate-limit.js';
import type { InteractionRecords } from './interaction/records.js';
import type { McpEndpoint } from './mcp/types.js';
import type { AuthorizationCodes } from './tokens/codes.js';
import type { RandomBytes } from './tokens/format.js';
import type { Grants } from './tokens/grants.js';
import type { UpstreamLogins } from './upstream/logins.js';
import type { UpstreamIdentityProvider } from './upstream/types.js';

/** Request headers, case-insensitively: a fetch `Headers`, or the Node server's view of an IncomingMessage. */
export interface HeaderSource {
  get(name: string): string | null;
}

/** Per-request facts the `Request` object cannot carry. */
export interface RequestInfo {
  /** The TCP peer address (the Node server fills it in). */
  remoteAddress?: string;
}

export interface GatewayUrls {
  authorizationServerMetadata: string;
  protectedResourceMetadata: string;
  authorize: string;
  token: string;
  register: string;
  revoke: string;
  introspect: string;
  consent: string;
  callback: string;
}

export interface GatewayContext {
  config: GatewayConfig;
  urls: GatewayUrls;
  store: Store;
  clock: () => number;
  random: RandomBytes;
  logger: Logger;
  grants: Grants;
  codes: AuthorizationCodes;
  clients: ClientRegistry;
  records: InteractionRecords;
  logins: UpstreamLogins;
  upstream: UpstreamIdentityProvider;
  limiter: TokenBucketLimiter;
  cookies: CookiePolicy;
  redirectPolicy: RedirectPolicy;
  mcp: McpEndpoint | undefined;
}

export function gatewayUrls(config: GatewayConfig): GatewayUrls {
  const origin = new URL(config.issuer).origin;
  const at = (path: string) => `${config.issuer}${path}`;
  return {
    authorizationServerMetadata: `${origin}/.well-known/oauth-authorization-server${config.basePath}`,
    protectedResourceMetadata: `${origin}/.well-known/oauth-protected-resource${config.mcpPath}`,
    authorize: at('/authorize'),
    token: at('/token'),
    register: at('/register'),
    revoke: at('/revoke'),
    introspect: at('/introspect'),
    consent: at('/consent'),
    callback: at('/callback'),
  };
}

/** The client's IP: the TCP peer, or the first `X-Forwarded-For` hop behind a trusted proxy. */
export function clientIp(request: { headers: HeaderSource }, info: RequestInfo, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = request.headers.get('x-forwarded-for')?.split(',')[0]?.trim();
    if (forwarded) return forwarded;
  }
  return info.remoteAddress ?? 'unknown';
}

/** Takes a token from each bucket; any empty one is a 429 with Retry-After. */
export function enforceRateLimit(
  ctx: GatewayContext,
  endpoint: 'register' | 'token' | 'authorize',
  keys: Array<string | undefined>,
): void {
  if (!ctx.config.rateLimits.enabled) return;
  const rule = ctx.config.rateLimits[endpoint];
  for (const key of keys) {
    if (key === undefined) continue;
    const decision = ctx.limiter.take(`${endpoint}|${key}`, rule);
    if (!decision.ok) {
      throw new GatewayError('temporarily_unavailable', 'too many requests, slow down', {
        status: 429,
        headers: { 'Retry-After': String(decision.retryAfterSeconds) },
      });
    }
  }
}
