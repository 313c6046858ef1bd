/**
 * The consent form's target. A post counts only if it comes from the browser that started the
 * interaction (its cookie), carries the interaction's CSRF token, and — when the browser says
 * where it comes from — from the gateway's own origin. Approve leads to the upstream login (the
 * upstream state is created only now, A35) or, for a signed-in user, straight to the code;
 * deny answers the client with `access_denied` (OAuth 2.1 §4.1.2.1).
 */
import { OAuthError } from '../../oauth/errors.js';
import { generateCodeVerifier, randomToken } from '../../oauth/pkce.js';
import type { GatewayContext } from '../context.js';
import { renderError } from '../errors.js';
import { readForm } from '../http/body.js';
import { respondWithCode, safeEqual, sameBrowser } from '../interaction/flow.js';

export async function handleConsent(request: Request, ctx: GatewayContext): Promise<Response> {
  try {
    return await decide(request, ctx);
  } catch (err) {
    return renderError(err, { kind: 'page' }, ctx.logger);
  }
}

async function decide(request: Request, ctx: GatewayContext): Promise<Response> {
  const origin = request.headers.get('origin');
  if (origin !== null && origin !== new URL(ctx.config.issuer).origin) {
    throw new OAuthError('access_denied', 'this form can only be submitted from the gateway itself', {
      status: 403,
    });
  }
  const form = await readForm(request, ctx.config.maxBodyBytes);
  const interaction = await ctx.records.getInteraction(form.get('interaction') ?? '');
  if (!interaction)
    throw new OAuthError('invalid_request', 'this approval has expired; start again from the app');
  if (!sameBrowser(request, ctx, interaction) || !safeEqual(form.get('csrf') ?? '', interaction.csrf)) {
    ctx.logger.warn(
      { clientId: interaction.client.clientId },
      'consent post without a valid CSRF token or browser cookie',
    );
    throw new OAuthError(
      'access_denied',
      'the approval could not be verified (missing or wrong CSRF token)',
      {
        status: 403,
      },
    );
  }
  const { request: authz } = interaction;
  const back = {
    kind: 'redirect',
    redirectUri: authz.redirectUri,
    state: authz.state,
    issuer: ctx.config.issuer,
  } as const;
  if (form.get('decision') !== 'approve') {
    await ctx.records.takeInteraction(interaction.id);
    return renderError(new OAuthError('access_denied', 'the user denied the request'), back, ctx.logger);
  }
  if (interaction.user) {
    const taken = await ctx.records.takeInteraction(interaction.id);
    if (!taken) throw new OAuthError('invalid_request', 'this approval was already used');
    await ctx.records.rememberConsent(
      interaction.user.userId,
      authz.clientId,
      authz.registeredRedirectUri,
      authz.scopes,
    );
    return respondWithCode(ctx, authz, interaction.user);
  }
  const state = randomToken();
  const codeVerifier = generateCodeVerifier();
  const nonce = randomToken();
  try {
    const url = await ctx.upstream.authorizationUrl(state, codeVerifier, nonce);
    await ctx.records.putUpstreamState(state, { interactionId: interaction.id, codeVerifier, nonce });
    return new Response(null, { status: 303, headers: { Location: url.href, 'Cache-Control': 'no-store' } });
  } catch (err) {
    return renderError(err, back, ctx.logger);
  }
}
