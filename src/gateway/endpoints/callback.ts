/**
 * The upstream IdP's redirect back to the gateway. The state must match one the gateway stored
 * after consent (exact, single use, ≤ 10 min: A35) and come back to the same browser; then the
 * provider validates the response (iss, code exchange, ID token, nonce), the upstream tokens
 * are sealed away, the consent is remembered for this user, a fresh session cookie is set
 * (no fixation), and the client finally gets its code.
 */
import { OAuthError } from '../../oauth/errors.js';
import type { GatewayContext } from '../context.js';
import { renderError } from '../errors.js';
import { newBrowserCookie, respondWithCode, sameBrowser } from '../interaction/flow.js';
import type { SignedInUser } from '../interaction/records.js';
import { UpstreamDeniedError } from '../upstream/types.js';

export async function handleCallback(request: Request, ctx: GatewayContext): Promise<Response> {
  const page = (err: unknown) => renderError(err, { kind: 'page' }, ctx.logger);
  const url = new URL(request.url);
  const state = url.searchParams.get('state');
  if (!state) return page(new OAuthError('invalid_request', 'the sign-in response has no state'));
  const expected = await ctx.records.takeUpstreamState(state);
  if (!expected)
    return page(new OAuthError('invalid_request', 'this sign-in has expired or was already completed'));
  const interaction = await ctx.records.takeInteraction(expected.interactionId);
  if (!interaction)
    return page(new OAuthError('invalid_request', 'this sign-in has expired; start again from the app'));
  if (!sameBrowser(request, ctx, interaction)) {
    return page(
      new OAuthError('access_denied', 'this sign-in was started in another browser', { status: 403 }),
    );
  }
  const authz = interaction.request;
  const back = (err: unknown) =>
    renderError(
      err,
      { kind: 'redirect', redirectUri: authz.redirectUri, state: authz.state, issuer: ctx.config.issuer },
      ctx.logger,
    );
  try {
    const identity = await ctx.upstream.complete(url, {
      state,
      codeVerifier: expected.codeVerifier,
      nonce: expected.nonce,
    });
    const loginId = identity.tokens ? await ctx.logins.save(identity.tokens) : undefined;
    const user: SignedInUser = {
      userId: identity.subject,
      claims: identity.claims,
      ...(loginId ? { loginId } : {}),
    };
    await ctx.records.rememberConsent(user.userId, authz.clientId, authz.registeredRedirectUri, authz.scopes);
    const cookie = newBrowserCookie(ctx);
    await ctx.records.putSession(cookie.value, user);
    ctx.logger.info({ userId: user.userId, clientId: authz.clientId }, 'upstream sign-in completed');
    return respondWithCode(ctx, authz, user, [cookie.setCookie]);
  } catch (err) {
    if (err instanceof UpstreamDeniedError)
      return back(new OAuthError('access_denied', 'sign-in was cancelled at the identity provider'));
    return back(err);
  }
}
