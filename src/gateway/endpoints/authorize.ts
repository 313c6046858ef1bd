/**
 * The authorization endpoint (OAuth 2.1 §4.1.1). Order matters:
 * 1. client_id and redirect_uri are checked first; when either is bad the user sees an error
 *    page and is never redirected (OAuth 2.1 §4.1.2.1, A11).
 * 2. Everything else is answered by redirect to the validated URI, always with `iss` (RFC 9207).
 * 3. A valid request becomes an interaction bound to this browser; the consent page comes next,
 *    before any upstream redirect and before any code (MCP SBP §Confused Deputy, A32–A35),
 *    unless this browser's signed-in user already approved this client for these scopes.
 */
import { OAuthError } from '../../oauth/errors.js';
import { randomToken } from '../../oauth/pkce.js';
import { matchRedirectUri } from '../clients/redirect-uris.js';
import type { RegisteredClient } from '../clients/types.js';
import { clientIp, enforceRateLimit, type GatewayContext, type RequestInfo } from '../context.js';
import { renderError } from '../errors.js';
import { singleValued } from '../http/body.js';
import { browserCookie, renderConsent, respondWithCode } from '../interaction/flow.js';
import type { AuthorizationRequest } from '../interaction/records.js';
import { hashToken } from '../tokens/format.js';

const CHALLENGE = /^[A-Za-z0-9\-._~]{43,128}$/; // RFC 7636 §4.2

export async function handleAuthorize(
  request: Request,
  ctx: GatewayContext,
  info: RequestInfo,
): Promise<Response> {
  const page = (err: unknown) => renderError(err, { kind: 'page' }, ctx.logger);
  let params: Map<string, string>;
  let client: RegisteredClient;
  let redirectUri: string;
  let registeredRedirectUri: string;
  try {
    enforceRateLimit(ctx, 'authorize', [`ip:${clientIp(request, info, ctx.config.trustProxy)}`]);
    params = singleValued(new URL(request.url).searchParams);
    const clientId = params.get('client_id');
    if (!clientId) throw new OAuthError('invalid_request', 'client_id is missing');
    enforceRateLimit(ctx, 'authorize', [`client:${clientId}`]);
    const found = await ctx.clients.find(clientId);
    if (!found) throw new OAuthError('invalid_client', 'this client_id is not registered with the gateway');
    client = found;
    ({ redirectUri, registeredRedirectUri } = resolveRedirectUri(client, params.get('redirect_uri')));
  } catch (err) {
    return page(err);
  }

  const state = params.get('state');
  const redirect = (err: unknown) =>
    renderError(err, { kind: 'redirect', redirectUri, state, issuer: ctx.config.issuer }, ctx.logger);
  try {
    const authz = validateRequest(ctx, client, params, redirectUri, registeredRedirectUri);
    const cookie = browserCookie(request, ctx);
    const cookies = cookie.setCookie ? [cookie.setCookie] : [];
    const prompt = new Set((params.get('prompt') ?? '').split(' ').filter(Boolean));
    const session = prompt.has('login') ? undefined : await ctx.records.getSession(cookie.value);
    const remembered =
      session !== undefined &&
      !prompt.has('consent') &&
      rememberable(client, registeredRedirectUri) &&
      (await ctx.records.hasConsent(session.userId, client.clientId, registeredRedirectUri, authz.scopes));
    if (remembered) return respondWithCode(ctx, authz, session, cookies);
    // OIDC Core §3.1.2.1 `prompt=none`: no page may be shown.
    if (prompt.has('none')) {
      throw new OAuthError(session ? 'consent_required' : 'login_required', 'user interaction is required');
    }
    const interaction = await ctx.records.createInteraction({
      id: randomToken(),
      browser: hashToken(cookie.value),
      csrf: randomToken(),
      client: {
        clientId: client.clientId,
        ...(client.clientName ? { name: client.clientName } : {}),
        source: client.source,
        redirectUris: client.redirectUris,
      },
      request: authz,
      ...(session ? { user: session } : {}),
    });
    return renderConsent(ctx, interaction, cookies);
  } catch (err) {
    return redirect(err);
  }
}

/**
 * MCP §Localhost Redirect URI Risks / CIMD §6.4: a CIMD client_id is public, so any program on
 * the user's machine can claim one together with a loopback (or app-scheme) redirect URI. Such
 * requests are always shown to the user; remembered consent applies to every other client.
 */
function rememberable(client: RegisteredClient, redirectUri: string): boolean {
  if (client.source.kind !== 'cimd') return true;
  return redirectUri.startsWith('https://');
}

/**
 * OAuth 2.1 §4.1.1 / §2.3.1: exact match against the registered URIs, with RFC 8252 §7.3 loopback
 * port relaxation; may be omitted only when exactly one URI is registered.
 */
function resolveRedirectUri(
  client: RegisteredClient,
  requested: string | undefined,
): { redirectUri: string; registeredRedirectUri: string } {
  if (requested === undefined) {
    const only = client.redirectUris.length === 1 ? client.redirectUris[0] : undefined;
    if (!only)
      throw new OAuthError('invalid_request', 'redirect_uri is required: the client registered several');
    return { redirectUri: only, registeredRedirectUri: only };
  }
  const match = matchRedirectUri(requested, client.redirectUris);
  if (!match) throw new OAuthError('invalid_request', 'redirect_uri is not registered for this client');
  return { redirectUri: requested, registeredRedirectUri: match };
}

function validateRequest(
  ctx: GatewayContext,
  client: RegisteredClient,
  params: Map<string, string>,
  redirectUri: string,
  registeredRedirectUri: string,
): AuthorizationRequest {
  if (params.get('response_type') !== 'code') {
    throw new OAuthError('unsupported_response_type', 'response_type must be code');
  }
  const mode = params.get('response_mode');
  if (mode !== undefined && mode !== 'query')
    throw new OAuthError('invalid_request', 'response_mode must be query');
  if (!client.grantTypes.includes('authorization_code')) {
    throw new OAuthError('unauthorized_client', 'client may not use the authorization code grant');
  }
  // OAuth 2.1 §4.1.1 / §7.5.2: PKCE required, S256 only (absent method means plain: refused).
  const challenge = params.get('code_challenge');
  if (!challenge) throw new OAuthError('invalid_request', 'code_challenge is required (PKCE with S256)');
  const method = params.get('code_challenge_method');
  if (method !== 'S256') throw new OAuthError('invalid_request', 'code_challenge_method must be S256');
  if (!CHALLENGE.test(challenge)) throw new OAuthError('invalid_request', 'code_challenge is malformed');
  // RFC 8707 §2: this AS issues tokens for one resource, the MCP URL (MCP §Token Audience Binding).
  const resource = params.get('resource');
  if (resource !== undefined && resource !== ctx.config.resource) {
    throw new OAuthError('invalid_target', `resource must be ${ctx.config.resource}`);
  }
  const requested = [...new Set((params.get('scope') ?? '').split(' ').filter(Boolean))];
  const allowed = new Set([...ctx.config.scopes.supported, 'offline_access']);
  const unknown = requested.filter((s) => !allowed.has(s));
  if (unknown.length) throw new OAuthError('invalid_scope', `unknown scope: ${unknown.join(' ')}`);
  const scopes = requested.length ? requested : ctx.config.defaultScopes;
  const state = params.get('state');
  return {
    clientId: client.clientId,
    redirectUri,
    registeredRedirectUri,
    redirectUriSent: params.has('redirect_uri'),
    ...(state !== undefined ? { state } : {}),
    codeChallenge: challenge,
    scopes,
    resource: ctx.config.resource,
  };
}
