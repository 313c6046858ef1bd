/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25
 * §Client ID Metadata Documents). The `client_id` is an https URL; the gateway fetches the
 * document behind it with the SSRF guard (no private, loopback, link-local or metadata address
 * after DNS resolution; the connection pinned to the checked address), within 5 KB and 5 s,
 * validates it, and caches it per its HTTP caching headers. Errors are never cached.
 */
import { boundedFetch } from '../../oauth/bounded-fetch.js';
import { OAuthError } from '../../oauth/errors.js';
import { ClientMetadata } from '../../oauth/metadata.js';
import { type Resolver, resolvePublicAddress } from '../../oauth/ssrf.js';
import type { Store } from '../../store/store.js';
import { pinnedFetch } from './pinned-fetch.js';
import { assertAllowedRedirectUri, type RedirectPolicy } from './redirect-uris.js';
import type { RegisteredClient } from './types.js';

export const CIMD_NS = 'gateway:cimd';

export interface CimdOptions {
  store: Store;
  clock: () => number;
  resolver: Resolver;
  /** Injected fetch (tests); by default a fetch pinned to the vetted address. */
  fetch?: typeof fetch | undefined;
  redirectPolicy: RedirectPolicy;
  maxBytes: number;
  timeoutMs: number;
  minCacheSeconds: number;
  maxCacheSeconds: number;
  defaultCacheSeconds: number;
}

/** MCP: a client_id that is an https URL is a metadata document URL. */
export function isClientIdMetadataUrl(clientId: string): boolean {
  return clientId.startsWith('https://');
}

/** CIMD §3: https, a path, no dot segments, no fragment, no credentials. */
export function assertValidClientIdUrl(clientId: string): URL {
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    throw invalid(clientId, 'client_id is not a valid URL');
  }
  if (url.protocol !== 'https:') throw invalid(clientId, 'client_id URL must use https');
  if (clientId.includes('#')) throw invalid(clientId, 'client_id URL must not have a fragment');
  if (url.username || url.password) throw invalid(clientId, 'client_id URL must not contain credentials');
  if (url.pathname === '/' || url.pathname === '') throw invalid(clientId, 'client_id URL must have a path');
  const rawPath = clientId.slice(clientId.indexOf('/', 'https://'.length)).split(/[?#]/)[0] ?? '';
  if (rawPath.split('/').some((seg) => /^(\.|%2e){1,2}$/i.test(seg))) {
    throw invalid(clientId, 'client_id URL must not contain dot segments');
  }
  return url;
}

function invalid(clientId: string, why: string, cause?: unknown): OAuthError {
  return new OAuthError('invalid_client', `${why} (${hostOf(clientId)})`, { cause });
}

function hostOf(clientId: string): string {
  try {
    return new URL(clientId).host;
  } catch {
    return 'invalid URL';
  }
}

interface CachedDocument {
  client: RegisteredClient;
  expiresAt: number;
}

/** Resolves a CIMD client: from the cache, else fetched and validated. */
export async function resolveMetadataDocumentClient(
  clientId: string,
  o: CimdOptions,
): Promise<RegisteredClient> {
  const url = assertValidClientIdUrl(clientId);
  const cached = await o.store.get<CachedDocument>(CIMD_NS, clientId);
  if (cached && cached.expiresAt > o.clock()) return cached.client;

  let address: string;
  try {
    address = await resolvePublicAddress(url, o.resolver); // CIMD §6.5, MCP SBP §SSRF
  } catch (cause) {
    throw invalid(
      clientId,
      cause instanceof OAuthError ? (cause.description ?? cause.error) : 'refused',
      cause,
    );
  }
  let response: Response;
  try {
    response = await boundedFetch(
      url,
      { headers: { Accept: 'application/json' }, redirect: 'manual' },
      { fetch: o.fetch ?? pinnedFetch(address), maxBytes: o.maxBytes, timeoutMs: o.timeoutMs },
    );
  } catch (cause) {
    throw invalid(clientId, `client metadata document could not be fetched: ${describe(cause)}`, cause);
  }
  if (response.status !== 200) {
    throw invalid(clientId, `client metadata document answered HTTP ${response.status}`);
  }
  const client = validateDocument(clientId, await response.text(), o.redirectPolicy);
  const ttl = cacheSeconds(response.headers, o);
  if (ttl > 0) {
    await o.store.set<CachedDocument>(
      CIMD_NS,
      clientId,
      { client, expiresAt: o.clock() + ttl * 1000 },
      { ttlSeconds: ttl },
    );
  }
  return client;
}

function describe(cause: unknown): string {
  return cause instanceof OAuthError ? (cause.description ?? cause.error) : 'network error';
}

/** CIMD §4.1 and MCP §CIMD Implementation Requirements. */
function validateDocument(clientId: string, text: string, policy: RedirectPolicy): RegisteredClient {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw invalid(clientId, 'client metadata document is not JSON', cause);
  }
  const parsed = ClientMetadata.safeParse(json);
  if (!parsed.success || typeof json !== 'object' || json === null) {
    throw invalid(
      clientId,
      `client metadata document is malformed at ${parsed.error?.issues[0]?.path.join('.') ?? '(root)'}`,
    );
  }
  const doc = parsed.data;
  // CIMD §4.1: client_id in the document equals the URL, by simple string comparison.
  if ((json as Record<string, unknown>)['client_id'] !== clientId) {
    throw invalid(clientId, 'client metadata document has a client_id different from its URL');
  }
  // CIMD §4.1 / §6.2: no shared secrets for a client whose id is public.
  if ('client_secret' in json || doc.token_endpoint_auth_method?.startsWith('client_secret')) {
    throw invalid(clientId, 'client metadata document must not use a client secret');
  }
  if (doc.token_endpoint_auth_method && doc.token_endpoint_auth_method !== 'none') {
    throw invalid(
      clientId,
      `token_endpoint_auth_method ${doc.token_endpoint_auth_method} is not supported here (use none)`,
    );
  }
  if (!doc.redirect_uris?.length) throw invalid(clientId, 'client metadata document has no redirect_uris');
  for (const uri of doc.redirect_uris) {
    try {
      assertAllowedRedirectUri(uri, policy, doc.application_type);
    } catch (cause) {
      throw invalid(clientId, (cause as OAuthError).description ?? 'redirect URI not allowed', cause);
    }
  }
  const url = new URL(clientId);
  return {
    clientId,
    ...(doc.client_name ? { clientName: doc.client_name } : {}),
    ...(doc.client_uri ? { clientUri: doc.client_uri } : {}),
    redirectUris: doc.redirect_uris,
    tokenEndpointAuthMethod: 'none',
    grantTypes: doc.grant_types ?? ['authorization_code', 'refresh_token'],
    ...(doc.application_type ? { applicationType: doc.application_type } : {}),
    source: { kind: 'cimd', url: clientId, host: url.host },
  };
}

/** RFC 9111 §5.2.2: `no-store`/`no-cache`/`max-age=0` → not cached; else max-age, Expires, or the default; clamped. */
function cacheSeconds(headers: Headers, o: CimdOptions): number {
  const cc = (headers.get('cache-control') ?? '').toLowerCase();
  if (/(^|,)\s*(no-store|no-cache|private)\b/.test(cc)) return 0;
  const maxAge = /(^|,)\s*max-age\s*=\s*"?(\d+)/.exec(cc)?.[2];
  let ttl: number;
  if (maxAge !== undefined) ttl = Number(maxAge);
  else if (headers.get('expires')) {
    const expires = Date.parse(headers.get('expires') ?? '');
    const date = Date.parse(headers.get('date') ?? '') || o.clock();
    ttl = Number.isFinite(expires) ? Math.floor((expires - date) / 1000) : 0;
  } else ttl = o.defaultCacheSeconds;
  if (ttl <= 0) return 0;
  return Math.min(o.maxCacheSeconds, Math.max(o.minCacheSeconds, ttl));
}
