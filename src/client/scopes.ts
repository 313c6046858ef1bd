/**
 * Scope selection (MCP §Scope Selection Strategy, C23–C26, C36):
 * the challenge's `scope` if present, else PRM `scopes_supported`, else none; a step-up asks for
 * the union of what was requested before and what is challenged; `offline_access` only when the
 * AS lists it.
 */
import type { AuthorizationServerMetadata, ProtectedResourceMetadata } from '../oauth/metadata.js';

export function splitScope(scope: string | undefined): string[] {
  return scope ? scope.split(/\s+/).filter(Boolean) : [];
}

export function selectScopes(input: {
  configured?: string | undefined;
  challenged?: string | undefined;
  previous?: string[] | undefined;
  stepUp: boolean;
  protectedResource?: ProtectedResourceMetadata | undefined;
  authorizationServer: AuthorizationServerMetadata;
  wantRefreshToken: boolean;
}): string[] {
  let scopes: string[];
  if (input.configured) scopes = splitScope(input.configured);
  else if (input.challenged) scopes = splitScope(input.challenged);
  else scopes = input.protectedResource?.scopes_supported ?? [];
  if (input.stepUp) scopes = [...(input.previous ?? []), ...scopes];
  if (
    input.wantRefreshToken &&
    scopes.length > 0 &&
    input.authorizationServer.scopes_supported?.includes('offline_access')
  ) {
    scopes.push('offline_access');
  }
  return [...new Set(scopes)];
}
