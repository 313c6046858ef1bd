/**
 * What the client keeps in the Store, and under which keys. Everything is per MCP server
 * (canonical URL); registrations and tokens are also per authorization server issuer, so
 * credentials are never reused at another AS (SEP-2352, C6/C15/C33).
 */
import type { AuthorizationServerMetadata, ProtectedResourceMetadata } from '../oauth/metadata.js';
import type { Store } from '../store/store.js';

export const NS = {
  servers: 'servers',
  clients: 'clients',
  tokens: 'tokens',
  flows: 'flows',
} as const;

/** Discovery results and per-server facts, keyed by the canonical server URL. */
export interface ServerRecord {
  serverUrl: string;
  /** The RFC 8707 resource value sent (PRM `resource`, else the server URL). */
  resource?: string;
  resourceMetadataUrl?: string;
  protectedResource?: ProtectedResourceMetadata;
  authorizationServer?: AuthorizationServerMetadata;
  /**
   * The AS identifier records are keyed by, when it is not the metadata's `issuer` (the SDK
   * adapter keys by the SDK's `authorizationServerUrl`, which 2025-03-26 servers let differ).
   */
  authorizationServerUrl?: string;
  /** Scopes last requested, so a step-up asks for their union with the challenged ones. */
  requestedScopes?: string[];
  /** Loopback callback port that worked last time, reused so the registration stays valid. */
  callbackPort?: number;
  lastError?: { code: string; message: string; at: number };
  updatedAt: number;
}

/** A client registration at one AS (pre-registered, CIMD or DCR). */
export interface ClientRecord {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  tokenEndpointAuthMethod: string;
  redirectUris: string[];
  source: 'pre-registered' | 'cimd' | 'dcr';
  /** DCR only: the full registration response (RFC 7591 §3.2.1), for `status` and re-use. */
  registeredAt: number;
  clientSecretExpiresAt?: number;
}

/** Tokens for one server at one AS. Times are epoch milliseconds. */
export interface TokenRecord {
  issuer: string;
  accessToken: string;
  tokenType: string;
  refreshToken?: string;
  scope?: string;
  issuedAt: number;
  expiresAt?: number;
  /** Set when the last refresh failed; cleared by the next success. */
  refreshError?: { error: string; at: number };
}

export const clientKey = (serverUrl: string, issuer: string) => `${serverUrl} ${issuer}`;
export const tokenKey = clientKey;

/** Everything stored for one server (for `status` and `logout`). */
/** The issuer string a server's client and token records are keyed by. */
export function recordIssuer(server: ServerRecord | undefined): string | undefined {
  return server?.authorizationServerUrl ?? server?.authorizationServer?.issuer;
}

export async function readServerState(store: Store, serverUrl: string) {
  const server = await store.get<ServerRecord>(NS.servers, serverUrl);
  const issuer = recordIssuer(server);
  const client = issuer ? await store.get<ClientRecord>(NS.clients, clientKey(serverUrl, issuer)) : undefined;
  const tokens = issuer ? await store.get<TokenRecord>(NS.tokens, tokenKey(serverUrl, issuer)) : undefined;
  return { server, client, tokens };
}

/** Deletes every record of one server (registration, tokens, discovery). */
export async function forgetServer(store: Store, serverUrl: string): Promise<void> {
  const { server } = await readServerState(store, serverUrl);
  const issuer = recordIssuer(server);
  if (issuer) {
    await store.delete(NS.tokens, tokenKey(serverUrl, issuer));
    await store.delete(NS.clients, clientKey(serverUrl, issuer));
  }
  await store.delete(NS.servers, serverUrl);
}
