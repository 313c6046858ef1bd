/**
 * The user's upstream IdP access token, for the MCP server behind the gateway (R14: the upstream
 * gets its own token, never the client's). When the gateway cannot produce one, the user must sign
 * in again: an `invalid_token` the gateway's renderer turns into its 401 challenge.
 */
import { OAuthError } from '../../oauth/errors.js';
import type { McpPrincipal } from './types.js';

export async function requireUpstreamToken(principal: McpPrincipal): Promise<string> {
  let token: string | undefined;
  try {
    token = await principal.upstreamAccessToken();
  } catch (cause) {
    throw new OAuthError('invalid_token', 'the upstream sign-in could not be refreshed', { cause });
  }
  if (!token) throw new OAuthError('invalid_token', 'the upstream sign-in has expired; sign in again');
  return token;
}
