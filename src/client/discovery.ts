/**
 * Discovery, in the order MCP Authorization prescribes:
 * 1. RFC 9728 Protected Resource Metadata: the 401's `resource_metadata` (C2), else the
 *    path-inserted well-known URL, then the root one (C3).
 * 2. RFC 8414 / OIDC Discovery for the chosen issuer (C7), with the issuer checked (C8).
 * 3. 2025-03-26 back-compat: no PRM at all → the server's origin is the AS, and when it has
 *    no metadata either, the default endpoints `/authorize`, `/token`, `/register`.
 */

import type { z } from 'zod';
import { boundedFetch } from '../oauth/bounded-fetch.js';
import { OAuthError } from '../oauth/errors.js';
import {
  AuthorizationServerMetadata,
  ProtectedResourceMetadata,
  parseDocument,
  readJson,
} from '../oauth/metadata.js';
import { assertSecureUrl, canonicalResourceUrl, wellKnownUrl } from '../oauth/url-rules.js';
import { ClientError } from './errors.js';

export interface DiscoveryContext {
  fetch: typeof fetch;
  allowHttp: boolean;
  signal?: AbortSignal;
  /** Headers sent on discovery requests (e.g. `MCP-Protocol-Version`). */
  headers?: Record<string, string>;
}

export interface DiscoveredResource {
  protectedResource?: ProtectedResourceMetadata;
  resourceMetadataUrl?: string;
  /** The issuer to use; undefined only when nothing at all was found. */
  issuer: string;
}

/** Fetches a metadata document; `undefined` on 404 (try the next location), throws otherwise. */
async function fetchDocument(url: URL, what: string, ctx: DiscoveryContext): Promise<unknown | undefined> {
  const response = await boundedFetch(
    url,
    { headers: { accept: 'application/json', ...ctx.headers }, redirect: 'follow' },
    { fetch: ctx.fetch, maxBytes: 256 * 1024, ...(ctx.signal ? { signal: ctx.signal } : {}) },
  ).catch(discoveryFailure);
  if (
    response.status === 404 ||
    response.status === 405 ||
    response.status === 400 ||
    response.status === 401
  ) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.ok) {
    throw new ClientError('discovery_failed', `${what} at ${url.href} answered HTTP ${response.status}`);
  }
  return readJson(response, `${what} at ${url.href}`).catch(discoveryFailure);
}

/** Oversized, non-JSON or malformed metadata is a `discovery_failed` that names the document. */
function discoveryFailure(err: unknown): never {
  if (err instanceof OAuthError && err.error === 'invalid_response') {
    throw new ClientError('discovery_failed', err.description ?? err.message, { cause: err });
  }
  throw err;
}

function parseMetadata<S extends z.ZodType>(schema: S, json: unknown, what: string): z.infer<S> {
  try {
    return parseDocument(schema, json, what);
  } catch (err) {
    discoveryFailure(err);
  }
}

/**
 * RFC 9728 §3.3: the PRM `resource` must identify the server we asked. Identical is the rule;
 * like the official SDK we also accept a same-origin parent path (a server publishing its origin
 * as the resource), and use the PRM's value as `resource`. Another origin is always refused (C4).
 */
export function checkResource(serverUrl: string, resource: string): void {
  const server = new URL(serverUrl);
  const claimed = new URL(resource);
  const samePath =
    claimed.pathname === server.pathname ||
    server.pathname.startsWith(claimed.pathname.endsWith('/') ? claimed.pathname : `${claimed.pathname}/`);
  if (claimed.origin !== server.origin || !samePath) {
    throw new ClientError(
      'discovery_failed',
      `protected resource metadata names resource ${canonicalResourceUrl(resource)}, which is not ${serverUrl}; refusing to continue (RFC 9728 §3.3)`,
    );
  }
}

export async function discoverProtectedResource(
  serverUrl: string,
  resourceMetadataUrl: string | undefined,
  ctx: DiscoveryContext,
): Promise<DiscoveredResource> {
  const candidates: URL[] = [];
  if (resourceMetadataUrl) {
    candidates.push(toSecure(resourceMetadataUrl, 'resource_metadata URL', ctx));
  } else {
    candidates.push(wellKnownUrl(serverUrl, 'oauth-protected-resource', 'insert'));
    const root = wellKnownUrl(serverUrl, 'oauth-protected-resource', 'root');
    if (root.href !== candidates[0]!.href) candidates.push(root);
  }
  for (const url of candidates) {
    const json = await fetchDocument(url, 'protected resource metadata', ctx);
    if (json === undefined) continue;
    const prm = parseMetadata(ProtectedResourceMetadata, json, `protected resource metadata at ${url.href}`);
    checkResource(serverUrl, prm.resource);
    const issuer = prm.authorization_servers?.[0];
    if (!issuer) {
      throw new ClientError(
        'discovery_failed',
        `protected resource metadata at ${url.href} lists no authorization server`,
      );
    }
    toSecure(issuer, 'authorization server', ctx);
    return { protectedResource: prm, resourceMetadataUrl: url.href, issuer };
  }
  if (resourceMetadataUrl) {
    throw new ClientError('discovery_failed', `no protected resource metadata at ${resourceMetadataUrl}`);
  }
  // 2025-03-26 back-compat: the MCP server's origin is the authorization server.
  return { issuer: new URL(serverUrl).origin };
}

/** C7: the metadata URLs for an issuer, in order. */
export function authorizationServerMetadataUrls(issuer: string): URL[] {
  const url = new URL(issuer);
  const hasPath = url.pathname !== '/' && url.pathname !== '';
  if (!hasPath) {
    return [
      wellKnownUrl(issuer, 'oauth-authorization-server', 'root'),
      wellKnownUrl(issuer, 'openid-configuration', 'root'),
    ];
  }
  return [
    wellKnownUrl(issuer, 'oauth-authorization-server', 'insert'),
    wellKnownUrl(issuer, 'openid-configuration', 'insert'),
    wellKnownUrl(issuer, 'openid-configuration', 'append'),
  ];
}

export async function discoverAuthorizationServer(
  issuer: string,
  ctx: DiscoveryContext,
  opts: { legacy: boolean },
): Promise<AuthorizationServerMetadata> {
  toSecure(issuer, 'authorization server', ctx);
  for (const url of authorizationServerMetadataUrls(issuer)) {
    const json = await fetchDocument(url, 'authorization server metadata', ctx);
    if (json === undefined) continue;
    const metadata = parseMetadata(
      AuthorizationServerMetadata,
      json,
      `authorization server metadata at ${url.href}`,
    );
    // RFC 8414 §3.3 / SEP-2468 (C8): the issuer must be the one the URL was built from.
    // (2025-03-26 servers without PRM predate that rule: their origin's metadata is taken as is.)
    if (!opts.legacy && !sameIssuer(metadata.issuer, issuer)) {
      throw new ClientError(
        'discovery_failed',
        `authorization server metadata at ${url.href} claims issuer ${metadata.issuer}, expected ${issuer} (RFC 8414 §3.3)`,
      );
    }
    checkEndpoints(metadata, ctx);
    return metadata;
  }
  if (opts.legacy) {
    // 2025-03-26 §2.3.3: default endpoints relative to the server's origin.
    const origin = new URL(issuer).origin;
    return {
      issuer,
      authorization_endpoint: `${origin}/authorize`,
      token_endpoint: `${origin}/token`,
      registration_endpoint: `${origin}/register`,
      code_challenge_methods_supported: ['S256'],
    };
  }
  throw new ClientError('discovery_failed', `no authorization server metadata found for ${issuer}`);
}

/** Issuers compare as strings; a lone trailing slash on a bare origin is the one tolerated difference. */
function sameIssuer(a: string, b: string): boolean {
  if (a === b) return true;
  const strip = (s: string) => (/^[a-z]+:\/\/[^/]+\/$/i.test(s) ? s.slice(0, -1) : s);
  return strip(a) === strip(b);
}

function checkEndpoints(metadata: AuthorizationServerMetadata, ctx: DiscoveryContext) {
  for (const name of [
    'authorization_endpoint',
    'token_endpoint',
    'registration_endpoint',
    'revocation_endpoint',
  ] as const) {
    const value = metadata[name];
    if (value) toSecure(value, `${name} of ${metadata.issuer}`, ctx);
  }
}

function toSecure(url: string, what: string, ctx: DiscoveryContext): URL {
  try {
    return assertSecureUrl(url, what, { allowHttp: ctx.allowHttp });
  } catch (cause) {
    const message =
      cause instanceof OAuthError && cause.description ? cause.description : `${what} is not a valid URL`;
    throw new ClientError('insecure_url', message, { cause });
  }
}

/**
 * The whole discovery for one server: its PRM (or the 2025-03-26 fallback), its AS metadata, and
 * the S256 check (C19, only where a PKCE flow will run), as the server record to store.
 * The record keeps what `previous` knew beyond discovery (callback port, scopes, last error).
 */
export async function discoverServerRecord<R extends ServerRecordLike>(
  serverUrl: string,
  previous: R | undefined,
  opts: { resourceMetadataUrl?: string | undefined; requireS256: boolean; now: number },
  ctx: DiscoveryContext,
): Promise<R> {
  const found = await discoverProtectedResource(serverUrl, opts.resourceMetadataUrl, ctx);
  // No PRM: the 2025-03-26 rules apply (the origin is the AS, whatever issuer it names).
  const authorizationServer = await discoverAuthorizationServer(found.issuer, ctx, {
    legacy: !found.protectedResource,
  });
  // C19: refuse an AS that does not advertise S256, naming it.
  if (opts.requireS256 && !authorizationServer.code_challenge_methods_supported?.includes('S256')) {
    throw new ClientError(
      'unsupported_authorization_server',
      `${authorizationServer.issuer} does not advertise S256 in code_challenge_methods_supported; MCP requires PKCE with S256, so portcullis will not log in there`,
    );
  }
  const record = {
    ...previous,
    serverUrl,
    resource: found.protectedResource ? canonicalResourceUrl(found.protectedResource.resource) : serverUrl,
    ...(found.resourceMetadataUrl ? { resourceMetadataUrl: found.resourceMetadataUrl } : {}),
    ...(found.protectedResource ? { protectedResource: found.protectedResource } : {}),
    authorizationServer,
    updatedAt: opts.now,
  } as R;
  if (!found.protectedResource) delete record.protectedResource;
  delete record.authorizationServerUrl; // these records are keyed by the metadata's issuer
  return record;
}

/** The discovery fields of a server record (src/client/state.ts `ServerRecord`). */
interface ServerRecordLike {
  serverUrl: string;
  resource?: string;
  resourceMetadataUrl?: string;
  protectedResource?: ProtectedResourceMetadata;
  authorizationServer?: AuthorizationServerMetadata;
  authorizationServerUrl?: string;
  updatedAt: number;
}
