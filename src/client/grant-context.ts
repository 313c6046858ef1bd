/**
 * What the Authorizer's token requests are made with: fetch options, the private_key_jwt key, and
 * whether the tokens are DPoP-bound (RFC 9449), which 'auto' decides from both ends.
 */
import type * as oauth from 'oauth4webapi';
import type { AuthorizationServerMetadata, ProtectedResourceMetadata } from '../oauth/metadata.js';
import type { AuthorizerOptions } from './authorizer-options.js';
import type { GrantContext } from './grants.js';
import type { TokenRecord } from './state.js';

/**
 * DPoP 'auto' needs both ends: the AS advertises it, and the resource takes DPoP-bound tokens
 * (MCP C32: Bearer is the default scheme; a Bearer-only resource refuses `Authorization: DPoP`).
 * A refresh keeps the binding of the token it replaces (RFC 9449 §5). `resourceAcceptsDpop` is
 * asked only when the answer turns on it.
 */
export async function shouldUseDpop(
  setting: AuthorizerOptions['dpop'],
  as: AuthorizationServerMetadata,
  replacing: TokenRecord | undefined,
  resourceAcceptsDpop: () => Promise<boolean>,
): Promise<boolean> {
  return (
    setting === true ||
    (setting !== false &&
      Boolean(as['dpop_signing_alg_values_supported']) &&
      (replacing ? replacing.tokenType.toLowerCase() === 'dpop' : await resourceAcceptsDpop()))
  );
}

/** RFC 9728 §2: the PRM fields by which a resource says it takes DPoP-bound tokens. */
export function prmAcceptsDpop(prm: ProtectedResourceMetadata | undefined): boolean {
  return (
    prm?.['dpop_bound_access_tokens_required'] === true ||
    Array.isArray(prm?.['dpop_signing_alg_values_supported'])
  );
}

export function grantContext(
  o: Pick<AuthorizerOptions, 'fetch' | 'allowHttp' | 'clock' | 'privateKeyPem' | 'signingAlgorithm'>,
  dpop: oauth.DPoPHandle | undefined,
): GrantContext {
  return {
    fetch: o.fetch,
    allowHttp: o.allowHttp ?? false,
    clock: o.clock,
    ...(o.privateKeyPem ? { privateKeyPem: o.privateKeyPem } : {}),
    ...(o.signingAlgorithm ? { signingAlgorithm: o.signingAlgorithm } : {}),
    ...(dpop ? { dpop } : {}),
  };
}
