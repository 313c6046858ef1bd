/**
 * Discovery as the Authorizer runs it (RFC 9728, then RFC 8414): the MCP server's ServerRecord,
 * found again and stored, and whether its resource moved to another AS since (SEP-2352, C15).
 */
import type { AuthorizeRequest, AuthorizerOptions } from './authorizer-options.js';
import type { discoverProtectedResource, discoverServerRecord } from './discovery.js';
import { NS, type ServerRecord } from './state.js';

export type ServerDiscoveryContext = Pick<
  AuthorizerOptions,
  'store' | 'fetch' | 'allowHttp' | 'clock' | 'logger'
> & {
  /** The canonical MCP server URL the ServerRecord is kept under. */
  serverUrl: string;
};

/**
 * Discovers again, starting from the `previous` record, and stores the result. `requireS256` for
 * the authorization code grant (C19). `discover` is from the protocol steps, loaded by the caller.
 */
export async function discoverServer(
  ctx: ServerDiscoveryContext & { discover: typeof discoverServerRecord },
  previous: ServerRecord | undefined,
  request: AuthorizeRequest,
  requireS256: boolean,
): Promise<ServerRecord> {
  const record = await ctx.discover(
    ctx.serverUrl,
    previous,
    {
      resourceMetadataUrl: request.resourceMetadataUrl ?? previous?.resourceMetadataUrl,
      requireS256,
      now: ctx.clock(),
    },
    {
      fetch: ctx.fetch,
      allowHttp: ctx.allowHttp ?? false,
      ...(request.signal ? { signal: request.signal } : {}),
    },
  );
  const from = previous?.authorizationServer?.issuer;
  const to = record.authorizationServer?.issuer;
  // C15: the resource moved to another AS; credentials of the old one are never reused.
  if (from && from !== to) ctx.logger.info({ from, to }, 'authorization server changed');
  await ctx.store.set(NS.servers, ctx.serverUrl, record);
  return record;
}

/**
 * SEP-2352 (C15): re-reads the PRM of the stored `server` and compares issuers; false when there
 * is nothing to compare or the PRM cannot be read.
 */
export async function authorizationServerMoved(
  ctx: Pick<ServerDiscoveryContext, 'serverUrl' | 'fetch' | 'allowHttp'> & {
    discoverProtectedResource: typeof discoverProtectedResource;
  },
  server: ServerRecord | undefined,
  resourceMetadataUrl: string | undefined,
): Promise<boolean> {
  const known = server?.authorizationServer?.issuer;
  if (!server || !known || !server.protectedResource) return false;
  const found = await ctx
    .discoverProtectedResource(ctx.serverUrl, resourceMetadataUrl ?? server.resourceMetadataUrl, {
      fetch: ctx.fetch,
      allowHttp: ctx.allowHttp ?? false,
    })
    .catch(() => undefined);
  return found !== undefined && found.issuer !== known;
}
