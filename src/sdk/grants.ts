/**
 * The SDK adapter's non-interactive grants as token request parameters for the SDK's
 * `prepareTokenRequest` hook; the assertion (a host's own, or an ID-JAG from the IdP) comes from
 * the same code the auth-aware fetch uses.
 */
import { assertionFor, JWT_BEARER, type NonInteractiveGrant } from '../client/assertion-grants.js';

export type SdkGrant = NonInteractiveGrant;

export async function nonInteractiveGrant(
  grant: SdkGrant,
  ctx: {
    scope: string | undefined;
    issuer: string;
    resource: string;
    fetch: typeof fetch;
    clock: () => number;
  },
): Promise<URLSearchParams> {
  const params = new URLSearchParams();
  if (grant.type === 'client_credentials') {
    params.set('grant_type', 'client_credentials');
  } else {
    params.set('grant_type', JWT_BEARER);
    params.set(
      'assertion',
      await assertionFor(
        grant,
        { audience: ctx.issuer, resource: ctx.resource, scope: ctx.scope },
        { fetch: ctx.fetch, allowHttp: false, clock: ctx.clock },
      ),
    );
  }
  if (ctx.scope) params.set('scope', ctx.scope);
  return params;
}
