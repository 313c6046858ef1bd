/**
 * Steps shared by /authorize, /consent and /callback: the browser cookie that binds an
 * interaction to the browser that started it, rendering the consent page, and the final
 * authorization response (OAuth 2.1 §4.1.2 with RFC 9207 `iss`).
 */
import { timingSafeEqual } from 'node:crypto';
import { randomToken } from '../../oauth/pkce.js';
import type { GatewayContext } from '../context.js';
import { NO_STORE } from '../errors.js';
import { cookieName, readCookie, serializeCookie } from '../http/cookies.js';
import { consentPage } from '../pages/consent.js';
import { pageResponse } from '../pages/layout.js';
import { hashToken } from '../tokens/format.js';
import type { AuthorizationRequest, Interaction, SignedInUser } from './records.js';

const BROWSER_COOKIE = 'portcullis-browser';

export function browserCookieName(ctx: GatewayContext): string {
  return cookieName(BROWSER_COOKIE, ctx.cookies);
}

/** The browser's cookie value, or a new one with the Set-Cookie header to send. */
export function browserCookie(request: Request, ctx: GatewayContext): { value: string; setCookie?: string } {
  const existing = readCookie(request, browserCookieName(ctx));
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return { value: existing };
  return newBrowserCookie(ctx);
}

/** A fresh browser cookie (also issued at sign-in, so a pre-login value is never promoted: fixation). */
export function newBrowserCookie(ctx: GatewayContext): { value: string; setCookie: string } {
  const value = randomToken();
  const maxAgeSeconds = Math.max(ctx.config.sessionTtl, ctx.config.interactionTtl);
  return { value, setCookie: serializeCookie(browserCookieName(ctx), value, ctx.cookies, { maxAgeSeconds }) };
}

/** True when the request comes from the browser that started the interaction. */
export function sameBrowser(request: Request, ctx: GatewayContext, interaction: Interaction): boolean {
  const value = readCookie(request, browserCookieName(ctx));
  return value !== undefined && safeEqual(hashToken(value), interaction.browser);
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function renderConsent(ctx: GatewayContext, interaction: Interaction, cookies: string[]): Response {
  const user = interaction.user;
  const display = user
    ? String(user.claims['email'] ?? user.claims['preferred_username'] ?? user.claims['name'] ?? user.userId)
    : undefined;
  return pageResponse(
    consentPage({
      action: ctx.urls.consent,
      interactionId: interaction.id,
      csrf: interaction.csrf,
      client: interaction.client,
      redirectUri: interaction.request.redirectUri,
      scopes: interaction.request.scopes,
      resource: interaction.request.resource,
      resourceName: ctx.config.resourceName,
      user: display,
      idpName: ctx.upstream.displayName,
    }),
    { cookies },
  );
}

/** Issues the code and sends the browser back to the client (OAuth 2.1 §4.1.2, RFC 9207 §2). */
export async function respondWithCode(
  ctx: GatewayContext,
  request: AuthorizationRequest,
  user: SignedInUser,
  cookies: string[] = [],
): Promise<Response> {
  const code = await ctx.codes.issue({
    clientId: request.clientId,
    redirectUri: request.redirectUri,
    redirectUriSent: request.redirectUriSent,
    codeChallenge: request.codeChallenge,
    scopes: request.scopes,
    resource: request.resource,
    userId: user.userId,
    claims: user.claims,
    ...(user.loginId ? { loginId: user.loginId } : {}),
  });
  const url = new URL(request.redirectUri);
  url.searchParams.set('code', code);
  if (request.state !== undefined) url.searchParams.set('state', request.state);
  url.searchParams.set('iss', ctx.config.issuer);
  ctx.logger.info(
    { clientId: request.clientId, userId: user.userId, scopes: request.scopes },
    'authorization code issued',
  );
  const headers = new Headers({ ...NO_STORE, Location: url.href });
  for (const c of cookies) headers.append('Set-Cookie', c);
  return new Response(null, { status: 302, headers });
}
