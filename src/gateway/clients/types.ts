/**
 * A client as the gateway knows it, whatever registered it: static config, RFC 7591 dynamic
 * registration, or a Client ID Metadata Document. `source` is shown on the consent page.
 */
export type TokenEndpointAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

export type ClientSource =
  | { kind: 'static' }
  | { kind: 'dcr'; registeredAt: number }
  | { kind: 'cimd'; url: string; host: string };

export interface RegisteredClient {
  clientId: string;
  clientName?: string;
  clientUri?: string;
  redirectUris: string[];
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  grantTypes: string[];
  applicationType?: 'native' | 'web';
  /** SHA-256 (base64url) of the client secret; present only for confidential clients. */
  secretHash?: string;
  source: ClientSource;
}

export function isConfidential(client: RegisteredClient): boolean {
  return client.tokenEndpointAuthMethod !== 'none';
}
