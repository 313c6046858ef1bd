/**
 * Which client registration a grant uses: the stored one while it still fits, else a new one
 * (pre-registered, CIMD or DCR, C9), stored per MCP server and AS issuer.
 */
import type { AuthorizationServerMetadata } from '../oauth/metadata.js';
import type { AuthorizerOptions } from './authorizer-options.js';
import type { registerClient } from './registration.js';
import { type ClientRecord, clientKey, NS } from './state.js';

export type ClientLookupContext = Pick<
  AuthorizerOptions,
  'store' | 'registration' | 'fetch' | 'allowHttp' | 'clock' | 'logger'
> & {
  /** The canonical MCP server URL the records are kept under. */
  serverUrl: string;
  /** From the protocol steps, which the caller loads on first use. */
  registerClient: typeof registerClient;
};

/**
 * A stored registration fits while its secret has not expired (RFC 7591 `client_secret_expires_at`,
 * 0 for never), it is the configured `client_id`, and, from DCR, it lists the `redirect_uri`.
 */
function fits(stored: ClientRecord, redirectUri: string | undefined, ctx: ClientLookupContext): boolean {
  const expired = stored.clientSecretExpiresAt && stored.clientSecretExpiresAt <= ctx.clock();
  const configuredId = ctx.registration?.clientId;
  return (
    !expired &&
    (!configuredId || stored.clientId === configuredId) &&
    (!redirectUri || stored.source !== 'dcr' || stored.redirectUris.includes(redirectUri))
  );
}

export async function lookUpClient(
  as: AuthorizationServerMetadata,
  redirectUri: string | undefined,
  scope: string | undefined,
  ctx: ClientLookupContext,
): Promise<ClientRecord> {
  const key = clientKey(ctx.serverUrl, as.issuer);
  const stored = await ctx.store.get<ClientRecord>(NS.clients, key);
  if (stored && fits(stored, redirectUri, ctx)) return stored;
  const client = await ctx.registerClient(as, redirectUri, scope, ctx.registration ?? {}, {
    fetch: ctx.fetch,
    allowHttp: ctx.allowHttp ?? false,
    clock: ctx.clock,
  });
  await ctx.store.set(NS.clients, key, client);
  ctx.logger.info({ issuer: as.issuer, source: client.source }, 'client registration ready');
  return client;
}

/**
 * After `invalid_client` the AS no longer knows the stored client: a DCR one is dropped so the
 * next lookup registers again (true when it was). Other registrations are the user's to fix.
 */
export async function dropDcrClient(
  ctx: Pick<ClientLookupContext, 'serverUrl' | 'store' | 'logger'>,
  issuer: string,
): Promise<boolean> {
  const key = clientKey(ctx.serverUrl, issuer);
  const stale = await ctx.store.get<ClientRecord>(NS.clients, key);
  if (stale?.source !== 'dcr') return false;
  ctx.logger.info({ issuer }, 'the authorization server no longer knows this client; registering again');
  await ctx.store.delete(NS.clients, key);
  return true;
}
