/**
 * `probe(url)`: what kind of server is this, before anyone logs in? One unauthenticated MCP
 * `initialize` POST (MCP §Streamable HTTP: Accept both JSON and SSE), the session it may open
 * ended with DELETE, and for an OAuth challenge the RFC 9728 resource metadata and RFC 8414
 * authorization server metadata read — no login, no registration, nothing stored.
 */
import { OAuthError } from '../oauth/errors.js';
import type { AuthorizationServerMetadata, ProtectedResourceMetadata } from '../oauth/metadata.js';
import { type Resolver, resolvePublicAddress } from '../oauth/ssrf.js';
import { assertSecureUrl, canonicalResourceUrl } from '../oauth/url-rules.js';
import { parseWwwAuthenticate } from '../oauth/www-authenticate.js';
import { discoverAuthorizationServer, discoverProtectedResource } from './discovery.js';
import { ClientError } from './errors.js';
import { readInitializeResult } from './probe-body.js';

export type ProbeResult =
  | {
      kind: 'oauth';
      status: number;
      resourceMetadataUrl?: string;
      protectedResource?: ProtectedResourceMetadata;
      authorizationServers: string[];
      /** Metadata of the first authorization server (the one a login would use). */
      authorizationServerMetadata?: AuthorizationServerMetadata;
      /** The challenge's `scope`, else the resource metadata's `scopes_supported`. */
      scopes?: string[];
      scopeSource?: 'challenge' | 'resource_metadata';
      /** The Bearer challenge's parameters (RFC 6750 §3, RFC 9728 §5.1). */
      challenge: Record<string, string>;
      /** Discovery failed part-way: what went wrong (the server still wants OAuth). */
      problem?: string;
    }
  | { kind: 'open'; status: number; protocolVersion?: string; serverInfo?: Record<string, unknown> }
  | { kind: 'static-credentials'; status: number; scheme?: string; hint: string }
  | {
      kind: 'unreachable';
      code: 'dns' | 'refused' | 'timeout' | 'tls' | 'network' | 'unavailable' | 'blocked';
      reason: string;
    }
  | { kind: 'not-mcp'; status: number; reason: string };

export interface ProbeOptions {
  fetch?: typeof fetch;
  /** The whole probe, discovery included. Default 10 s. */
  timeoutMs?: number;
  /** Permit cleartext http to a non-loopback host (never the default). */
  allowHttp?: boolean;
  /**
   * For URLs a user typed into a multi-tenant host (MCP SBP §SSRF): refuse hosts that resolve
   * to private, loopback or link-local addresses, and do not follow redirects.
   */
  publicOnly?: boolean | { resolver?: Resolver };
}

const PROBE_CLIENT = { name: 'portcullis-probe', version: '1' };
const PROTOCOL_VERSION = '2025-11-25';

export async function probe(url: string | URL, options: ProbeOptions = {}): Promise<ProbeResult> {
  let serverUrl: string;
  try {
    serverUrl = canonicalResourceUrl(
      assertSecureUrl(url, 'MCP server URL', { allowHttp: options.allowHttp ?? false }),
    );
  } catch (cause) {
    throw new ClientError('insecure_url', (cause as Error).message, { cause });
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const signal = AbortSignal.timeout(timeoutMs);
  const doFetch = guardedFetch(options);
  let response: Response;
  try {
    response = await doFetch(serverUrl, {
      method: 'POST',
      redirect: 'manual',
      signal,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: PROBE_CLIENT },
      }),
    });
  } catch (err) {
    return unreachable(err, serverUrl, signal, timeoutMs);
  }
  const status = response.status;
  if (status === 401 || status === 403) {
    await response.body?.cancel().catch(() => {});
    return challenged(serverUrl, response, { fetch: doFetch, signal, allowHttp: options.allowHttp ?? false });
  }
  if (status >= 200 && status < 300) {
    const result = await readInitializeResult(response, signal).catch(() => undefined);
    await endSession(doFetch, serverUrl, response.headers.get('mcp-session-id'), result?.protocolVersion);
    if (!result) {
      const type = response.headers.get('content-type') ?? 'no content-type';
      return {
        kind: 'not-mcp',
        status,
        reason: `${serverUrl} answered HTTP ${status} (${type}) without a JSON-RPC response`,
      };
    }
    return {
      kind: 'open',
      status,
      ...(result.protocolVersion ? { protocolVersion: result.protocolVersion } : {}),
      ...(result.serverInfo ? { serverInfo: result.serverInfo } : {}),
    };
  }
  await response.body?.cancel().catch(() => {});
  if (status >= 300 && status < 400) {
    const location = response.headers.get('location');
    return {
      kind: 'not-mcp',
      status,
      reason: `${serverUrl} redirects${location ? ` to ${location}` : ''}; use the MCP endpoint's own URL`,
    };
  }
  if (status === 502 || status === 503 || status === 504) {
    return {
      kind: 'unreachable',
      code: 'unavailable',
      reason: `${serverUrl} is temporarily unavailable (HTTP ${status})`,
    };
  }
  const why =
    status === 405 || status === 404
      ? 'not a Streamable HTTP MCP endpoint (perhaps a legacy HTTP+SSE server, or the wrong path)'
      : 'it refused an MCP initialize request';
  return { kind: 'not-mcp', status, reason: `${serverUrl} answered HTTP ${status}: ${why}` };
}

async function challenged(
  serverUrl: string,
  response: Response,
  ctx: { fetch: typeof fetch; signal: AbortSignal; allowHttp: boolean },
): Promise<ProbeResult> {
  const status = response.status;
  const challenges = parseWwwAuthenticate(response.headers.get('www-authenticate'));
  const bearer = challenges.find((c) => c.scheme === 'bearer' || c.scheme === 'dpop');
  const withMetadata = challenges.find((c) => c.params['resource_metadata']);
  const params = (bearer ?? withMetadata)?.params;
  if (!params) {
    // 2025-03-26 servers may answer 401 with no challenge at all: look for resource metadata first.
    if (challenges.length === 0 && status === 401) {
      const found = await discoverProtectedResource(serverUrl, undefined, { ...ctx }).catch(() => undefined);
      if (found?.protectedResource) return oauthResult(serverUrl, status, {}, ctx);
    }
    const scheme = challenges[0]?.scheme;
    const hint = scheme
      ? `${serverUrl} asks for ${scheme} credentials (WWW-Authenticate: ${scheme}), not OAuth; configure them as a static header`
      : `${serverUrl} refused an unauthenticated request (HTTP ${status}) without an OAuth challenge; it probably expects an API key or another static header`;
    return { kind: 'static-credentials', status, ...(scheme ? { scheme } : {}), hint };
  }
  return oauthResult(serverUrl, status, params, ctx);
}

async function oauthResult(
  serverUrl: string,
  status: number,
  challenge: Record<string, string>,
  ctx: { fetch: typeof fetch; signal: AbortSignal; allowHttp: boolean },
): Promise<ProbeResult> {
  const result: Extract<ProbeResult, { kind: 'oauth' }> = {
    kind: 'oauth',
    status,
    authorizationServers: [],
    challenge,
  };
  const challenged = challenge['scope']?.split(/\s+/).filter(Boolean);
  if (challenged?.length) {
    result.scopes = challenged;
    result.scopeSource = 'challenge';
  }
  try {
    const found = await discoverProtectedResource(serverUrl, challenge['resource_metadata'], ctx);
    if (found.resourceMetadataUrl) result.resourceMetadataUrl = found.resourceMetadataUrl;
    if (found.protectedResource) {
      result.protectedResource = found.protectedResource;
      result.authorizationServers = found.protectedResource.authorization_servers ?? [];
      const supported = found.protectedResource.scopes_supported;
      if (!result.scopes && supported?.length) {
        result.scopes = supported;
        result.scopeSource = 'resource_metadata';
      }
    } else {
      result.authorizationServers = [found.issuer];
    }
    result.authorizationServerMetadata = await discoverAuthorizationServer(found.issuer, ctx, {
      legacy: !found.protectedResource,
    });
  } catch (err) {
    result.problem = err instanceof Error ? err.message : String(err);
  }
  return result;
}

/** §Session Management: a client that no longer needs a session SHOULD end it. */
async function endSession(
  doFetch: typeof fetch,
  serverUrl: string,
  sessionId: string | null,
  protocolVersion: string | undefined,
): Promise<void> {
  if (!sessionId) return;
  const headers: Record<string, string> = { 'mcp-session-id': sessionId };
  if (protocolVersion) headers['mcp-protocol-version'] = protocolVersion;
  try {
    const res = await doFetch(serverUrl, { method: 'DELETE', headers, signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel().catch(() => {});
  } catch {
    // Best effort: the server reaps idle sessions anyway.
  }
}

function guardedFetch(options: ProbeOptions): typeof fetch {
  const base = options.fetch ?? globalThis.fetch;
  if (!options.publicOnly) return base;
  const resolver = typeof options.publicOnly === 'object' ? options.publicOnly.resolver : undefined;
  return async (input, init) => {
    const target = new URL(input instanceof Request ? input.url : String(input));
    await resolvePublicAddress(target, resolver);
    return base(input, { ...init, redirect: 'manual' });
  };
}

const TLS_CODE = /^(CERT_|ERR_TLS|ERR_SSL|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH)/;

function unreachable(err: unknown, serverUrl: string, signal: AbortSignal, timeoutMs: number): ProbeResult {
  if (signal.aborted) {
    return {
      kind: 'unreachable',
      code: 'timeout',
      reason: `${serverUrl} did not answer within ${timeoutMs} ms`,
    };
  }
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String(cause.code) : '';
  const host = new URL(serverUrl).host;
  if (err instanceof OAuthError) {
    return { kind: 'unreachable', code: 'blocked', reason: err.message };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return {
      kind: 'unreachable',
      code: 'dns',
      reason: `the name ${new URL(serverUrl).hostname} does not resolve (${code})`,
    };
  if (code === 'ECONNREFUSED')
    return {
      kind: 'unreachable',
      code: 'refused',
      reason: `nothing listens at ${host} (connection refused)`,
    };
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT')
    return { kind: 'unreachable', code: 'timeout', reason: `connecting to ${host} timed out` };
  if (TLS_CODE.test(code))
    return { kind: 'unreachable', code: 'tls', reason: `the TLS handshake with ${host} failed (${code})` };
  const detail = cause instanceof Error ? cause.message : String(cause);
  return { kind: 'unreachable', code: 'network', reason: `could not reach ${host}: ${code || detail}` };
}
