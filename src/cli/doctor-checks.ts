/**
 * The checks behind `portcullis doctor <url>`, in the order a client meets them (MCP
 * Authorization §Discovery): reachability, the 401 and its Bearer challenge, Protected Resource
 * Metadata (RFC 9728) and its `resource`, authorization server metadata (RFC 8414 / OIDC), PKCE
 * S256, how a client can register, and what is stored. Each step says what is wrong and what to
 * do; a step that cannot run because an earlier one failed is not reported.
 */
import { checkResource, type DiscoveryContext, discoverAuthorizationServer } from '../client/discovery.js';
import { boundedFetch } from '../oauth/bounded-fetch.js';
import { OAuthError } from '../oauth/errors.js';
import {
  type AuthorizationServerMetadata,
  ProtectedResourceMetadata,
  parseDocument,
  readJson,
} from '../oauth/metadata.js';
import { wellKnownUrl } from '../oauth/url-rules.js';
import { bearerChallenge } from '../oauth/www-authenticate.js';
import type { ServerSettings } from './config.js';
import { isNetworkFailure } from './errors.js';

export type StepResult = 'ok' | 'warn' | 'fail';

export interface Step {
  result: StepResult;
  title: string;
  /** What to do about it (for `warn` and `fail`). */
  fix?: string;
  /** The failure was the server not answering (exit 4 rather than 1). */
  unreachable?: boolean;
}

export interface DoctorInput {
  serverUrl: string;
  settings: ServerSettings;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

const explain = (error: unknown) =>
  error instanceof OAuthError
    ? (error.description ?? error.message)
    : error instanceof Error
      ? error.message
      : String(error);

/** Runs every check, handing each step to `report` as soon as it is known. */
export async function runDoctorChecks(input: DoctorInput, report: (step: Step) => void): Promise<void> {
  const { serverUrl, settings } = input;
  const baseFetch = input.fetch ?? globalThis.fetch;
  const tried: string[] = [];
  const recordingFetch: typeof fetch = async (url, init) => {
    const response = await baseFetch(url, init);
    tried.push(`${String(url)} → ${response.status}`);
    return response;
  };
  const ctx: DiscoveryContext = {
    fetch: recordingFetch,
    allowHttp: settings.allowHttp ?? false,
    ...(input.signal ? { signal: input.signal } : {}),
  };

  // 1. Reachability: what an MCP client sends first, without a token.
  let response: Response;
  const started = performance.now();
  try {
    response = await boundedFetch(
      serverUrl,
      {
        method: 'POST',
        headers: {
          ...settings.headers,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-11-25',
            capabilities: {},
            clientInfo: { name: 'portcullis-doctor', version: '1' },
          },
        }),
      },
      { fetch: baseFetch, maxBytes: 64 * 1024, ...(input.signal ? { signal: input.signal } : {}) },
    );
  } catch (error) {
    return report({
      result: 'fail',
      title: `cannot reach ${serverUrl}: ${explain(error)}${causeOf(error)}`,
      fix: 'check the URL, that the server is running, and any proxy or firewall in between',
      unreachable: isNetworkFailure(error),
    });
  }
  report({
    result: 'ok',
    title: `reachable: HTTP ${response.status} in ${Math.round(performance.now() - started)} ms`,
  });

  // 2. RFC 6750 §3 + RFC 9728 §5.1: 401 with a Bearer challenge naming the metadata.
  const challenge = bearerChallenge(response.headers.get('www-authenticate'));
  if (response.status === 200) {
    report({
      result: 'warn',
      title: 'the server answered without asking for authorization: it does not use OAuth',
      fix: 'nothing to log in to; tools and call work without a login',
    });
  } else if (response.status === 404 || response.status === 405) {
    return report({
      result: 'fail',
      title: `HTTP ${response.status}: no MCP endpoint at this URL`,
      fix: 'check the path (often /mcp); a 405 may mean an HTTP+SSE (2024-11-05) server whose URL ends in /sse',
    });
  } else if (response.status !== 401) {
    report({
      result: 'warn',
      title: `HTTP ${response.status} where a 401 was expected (MCP Authorization §Protected Resource)`,
      ...(challenge
        ? {}
        : { fix: 'an unauthenticated request should get 401 with WWW-Authenticate: Bearer' }),
    });
  } else if (!challenge) {
    report({
      result: 'fail',
      title: '401 without a Bearer challenge in WWW-Authenticate (RFC 6750 §3)',
      fix: 'the server must answer WWW-Authenticate: Bearer resource_metadata="…" (RFC 9728 §5.1)',
    });
  } else if (!challenge['resource_metadata']) {
    report({
      result: 'warn',
      title: `401 with a Bearer challenge${scopeNote(challenge)}, but no resource_metadata`,
      fix: 'clients fall back to the well-known URLs; adding resource_metadata (RFC 9728 §5.1) is more robust',
    });
  } else {
    report({ result: 'ok', title: `401 with a Bearer challenge: resource_metadata${scopeNote(challenge)}` });
  }

  // 3. RFC 9728: where the PRM is, and that its `resource` is this server.
  const candidates = challenge?.['resource_metadata']
    ? [new URL(challenge['resource_metadata'])]
    : [
        ...new Set([
          wellKnownUrl(serverUrl, 'oauth-protected-resource', 'insert').href,
          wellKnownUrl(serverUrl, 'oauth-protected-resource', 'root').href,
        ]),
      ].map((u) => new URL(u));
  let prm: ProtectedResourceMetadata | undefined;
  for (const url of candidates) {
    try {
      const found = await boundedFetch(
        url,
        { headers: { accept: 'application/json' } },
        { fetch: recordingFetch },
      );
      if (!found.ok) continue;
      prm = parseDocument(
        ProtectedResourceMetadata,
        await readJson(found, url.href),
        `protected resource metadata at ${url.href}`,
      );
      report({ result: 'ok', title: `protected resource metadata at ${url.href}` });
      break;
    } catch (error) {
      return report({
        result: 'fail',
        title: `protected resource metadata at ${url.href}: ${explain(error)}`,
        fix: 'serve a valid RFC 9728 document (JSON with resource and authorization_servers)',
        unreachable: isNetworkFailure(error),
      });
    }
  }
  let issuer: string;
  if (!prm) {
    report({
      result: 'warn',
      title: `no protected resource metadata (tried ${candidates.map((u) => u.href).join(', ')})`,
      fix: 'serve RFC 9728 metadata; until then clients treat the origin as the authorization server (2025-03-26 rules)',
    });
    issuer = new URL(serverUrl).origin;
  } else {
    try {
      checkResource(serverUrl, prm.resource);
      report({ result: 'ok', title: `resource ${prm.resource} matches the server URL` });
    } catch (error) {
      return report({
        result: 'fail',
        title: explain(error),
        fix: `the metadata's "resource" must be ${serverUrl}; fix the server's configuration (or use the URL it names)`,
      });
    }
    const first = prm.authorization_servers?.[0];
    if (!first) {
      return report({
        result: 'fail',
        title: 'the protected resource metadata lists no authorization_servers',
        fix: 'add the issuer URL of the authorization server to authorization_servers',
      });
    }
    issuer = first;
  }

  // 4. RFC 8414 / OIDC Discovery for that issuer.
  let as: AuthorizationServerMetadata;
  const before = tried.length;
  try {
    as = await discoverAuthorizationServer(issuer, ctx, { legacy: !prm });
  } catch (error) {
    return report({
      result: 'fail',
      title: `authorization server ${issuer}: ${explain(error)}`,
      fix: `serve RFC 8414 metadata at ${wellKnownUrl(issuer, 'oauth-authorization-server', 'insert').href} (or OpenID Connect Discovery)`,
      unreachable: isNetworkFailure(error),
    });
  }
  const found = tried.slice(before).find((line) => line.endsWith('→ 200'));
  report({
    result: 'ok',
    title: `authorization server ${as.issuer}${found ? ` (metadata at ${found.split(' → ')[0]})` : ' (default endpoints, no metadata)'}`,
  });

  // 5. OAuth 2.1 §7.5.2 / MCP: PKCE with S256 is required.
  if (as.code_challenge_methods_supported?.includes('S256')) {
    report({ result: 'ok', title: 'PKCE S256 advertised' });
  } else {
    report({
      result: 'fail',
      title: 'the authorization server does not list S256 in code_challenge_methods_supported',
      fix: 'MCP clients refuse such a server; ask its operator to enable and advertise PKCE S256',
    });
  }

  // 6. How a client gets a client id here (MCP: pre-registered → CIMD → DCR).
  const cimd = as.client_id_metadata_document_supported === true;
  const dcr = Boolean(as.registration_endpoint);
  const offers = `the AS offers ${[cimd && 'Client ID Metadata Documents', dcr && 'dynamic registration'].filter(Boolean).join(' and ') || 'neither CIMD nor dynamic registration'}`;
  if (settings.clientId) {
    report({
      result: 'ok',
      title: `registration: the configured client id ${settings.clientId} (${offers})`,
    });
  } else if (settings.clientMetadataUrl && cimd) {
    report({
      result: 'ok',
      title: `registration: Client ID Metadata Document ${settings.clientMetadataUrl}`,
    });
  } else if (dcr) {
    report({
      result: 'ok',
      title: `registration: dynamic client registration at ${as.registration_endpoint} (${offers})`,
    });
  } else {
    report({
      result: 'fail',
      title: `registration: no way to get a client id (${offers})`,
      fix: 'register a client with the authorization server and pass --client-id (and --client-secret), or set them in the config',
    });
  }

  // 7. RFC 7009: what logout can do.
  report(
    as.revocation_endpoint
      ? {
          result: 'ok',
          title: `token revocation offered (logout revokes tokens at ${as.revocation_endpoint})`,
        }
      : {
          result: 'warn',
          title: 'no revocation_endpoint',
          fix: 'logout can only forget tokens locally; they stay valid until they expire',
        },
  );
}

function scopeNote(challenge: Record<string, string>): string {
  return challenge['scope'] ? `, scope "${challenge['scope']}"` : '';
}

function causeOf(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  const inner = cause?.cause instanceof Error ? cause.cause : cause;
  return inner?.message ? ` (${inner.message})` : '';
}
