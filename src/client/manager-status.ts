/**
 * Per-server status for a host's UI, from what is stored for the key (so any replica sharing the
 * Store agrees) and what this process saw last.
 */
import type { Store } from '../store/store.js';
import type { ConnectionKey } from './key-store.js';
import type { RegistrationOptions } from './registration.js';
import { readServerState, type TokenRecord } from './state.js';

/** A server a user added, as the manager keeps it in the Store. */
export interface ServerEntry {
  serverId: string;
  url: string;
  /** Static headers sent beside OAuth (e.g. an API key). Wrap the Store with `createEncryptedStore`. */
  headers?: Record<string, string>;
  registration?: RegistrationOptions;
  scope?: string;
  addedAt: number;
}

/**
 * - `connected`: a session is open here, or usable tokens are stored (the next call needs no login);
 * - `needs-login`: the server wants OAuth and nothing usable is stored (or a login was cancelled);
 * - `reauth-required`: a refresh failed; a person must log in again ("Reconnect");
 * - `error`: the last attempt failed for another reason (see `error`);
 * - `disconnected`: nothing known yet: never connected, no OAuth state.
 */
export type ServerStatusKind = 'connected' | 'needs-login' | 'reauth-required' | 'error' | 'disconnected';

export interface ServerStatus {
  key: ConnectionKey;
  url: string;
  status: ServerStatusKind;
  sessionOpen: boolean;
  issuer?: string;
  scope?: string;
  expiresAt?: number;
  error?: { code: string; message: string };
}

export interface LocalFacts {
  sessionOpen: boolean;
  lastFailure?: { code: string; message: string } | undefined;
}

const LOGIN_CODES = new Set([
  'authorization_required',
  'aborted',
  'callback_timeout',
  'state_unknown',
  'state_expired',
  'state_replayed',
  'state_foreign',
]);

function usable(tokens: TokenRecord, now: number): boolean {
  return Boolean(tokens.refreshToken) || tokens.expiresAt === undefined || tokens.expiresAt > now;
}

export async function serverStatus(
  view: Store,
  key: ConnectionKey,
  entry: ServerEntry,
  local: LocalFacts,
  now: number,
): Promise<ServerStatus> {
  const { server, tokens } = await readServerState(view, entry.url);
  const status: ServerStatus = {
    key,
    url: entry.url,
    status: 'disconnected',
    sessionOpen: local.sessionOpen,
    ...(server?.authorizationServer ? { issuer: server.authorizationServer.issuer } : {}),
    ...(tokens?.scope ? { scope: tokens.scope } : {}),
    ...(tokens?.expiresAt !== undefined ? { expiresAt: tokens.expiresAt } : {}),
  };
  const stored = server?.lastError;
  if (tokens?.refreshError || (!tokens && stored?.code === 'reauth_required')) {
    status.status = 'reauth-required';
    if (stored) status.error = { code: stored.code, message: stored.message };
    return status;
  }
  if (local.sessionOpen || (tokens && usable(tokens, now))) {
    status.status = 'connected';
    return status;
  }
  const failure = local.lastFailure;
  if (failure) {
    status.error = failure;
    status.status =
      failure.code === 'reauth_required'
        ? 'reauth-required'
        : LOGIN_CODES.has(failure.code)
          ? 'needs-login'
          : 'error';
    return status;
  }
  if (server?.authorizationServer) status.status = 'needs-login';
  return status;
}
