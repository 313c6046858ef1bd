/**
 * The connection manager's events, for a UI to subscribe to: an `EventTarget` of `CustomEvent`s
 * (works in any runtime, no emitter dependency) with a typed `on()` that hands the listener the
 * event's detail and returns the unsubscribe function.
 */
import type { ConnectionKey } from './key-store.js';
import type { RevocationResult } from './revoke.js';

interface Base {
  key: ConnectionKey;
  serverUrl: string;
}

export interface ConnectionEventMap {
  /** A person must log in: show `url` (terminal) or open it (popup); `cancelLogin(key)` aborts. */
  authorization_required: Base & { url: string };
  authorized: Base & { issuer?: string; scope?: string };
  token_refreshed: Base & { expiresAt?: number };
  /** Stored credentials stopped working (`reason`: the AS error, e.g. `invalid_grant`): show "Reconnect". */
  reauth_required: Base & { reason: string };
  /** The server was removed; `revocation` says what the AS revoked or why it could not. */
  revoked: Base & { revocation: RevocationResult };
  /** The MCP server ended the session (HTTP 404); a new one was initialized and the call retried. */
  session_reinitialized: Base & { reason: 'session_expired' };
}

export type ConnectionEventType = keyof ConnectionEventMap;

export const CONNECTION_EVENTS: readonly ConnectionEventType[] = [
  'authorization_required',
  'authorized',
  'token_refreshed',
  'reauth_required',
  'revoked',
  'session_reinitialized',
];

export class ConnectionEvents extends EventTarget {
  /** Subscribes to one event type; returns a function that unsubscribes. */
  on<K extends ConnectionEventType>(
    type: K,
    listener: (detail: ConnectionEventMap[K]) => void,
    options: { signal?: AbortSignal } = {},
  ): () => void {
    const handler = (event: Event) => listener((event as CustomEvent<ConnectionEventMap[K]>).detail);
    this.addEventListener(type, handler, options.signal ? { signal: options.signal } : {});
    return () => this.removeEventListener(type, handler);
  }

  emit<K extends ConnectionEventType>(type: K, detail: ConnectionEventMap[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
