/**
 * One key's connection inside the manager: the auth fetch over the key's Store view, its events
 * relayed with the key, the host's interaction wrapped so a pending login can be cancelled, and
 * one MCP session opened on first use, re-used, and re-initialized when the server ends it.
 */
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import { StoreError } from '../store/store.js';
import { isTransportError } from '../transport/errors.js';
import { type McpSession, openMcpSession } from '../transport/mcp-session.js';
import { createStreamableHttpClient } from '../transport/streamable-http.js';
import { createAuthFetch } from './auth-fetch.js';
import type { Authorizer } from './authorizer.js';
import { ClientError } from './errors.js';
import { type ConnectionKey, keyStore } from './key-store.js';
import type { ConnectionEvents } from './manager-events.js';
import type { ServerEntry } from './manager-status.js';
import type { RegistrationOptions } from './registration.js';
import type { AuthFetch, Interaction } from './types.js';

export interface ConnectionSettings {
  store: Store;
  events: ConnectionEvents;
  clientInfo: { name: string; version: string };
  interaction: Interaction | undefined;
  registration: RegistrationOptions | undefined;
  refreshSkewSeconds?: number | undefined;
  authorizationTimeoutMs?: number | undefined;
  requestTimeoutMs?: number | undefined;
  allowHttp?: boolean | undefined;
  fetch?: typeof fetch | undefined;
  clock: () => number;
  logger: Logger;
}

/** The auth fetch's own events, re-emitted with the key. */
const RELAYED = ['authorization_required', 'authorized', 'token_refreshed', 'reauth_required'] as const;

export class KeyConnection {
  readonly key: ConnectionKey;
  readonly entry: ServerEntry;
  readonly authFetch: AuthFetch & { authorizer: Authorizer };
  private readonly s: ConnectionSettings;
  private session: McpSession | undefined;
  private opening: Promise<McpSession> | undefined;
  private login: AbortController | undefined;
  private reinitialize: 'session_expired' | undefined;
  /** A session the server ended, closed once its successor is open (closing it now would fail its calls). */
  private retired: McpSession | undefined;

  constructor(key: ConnectionKey, entry: ServerEntry, settings: ConnectionSettings) {
    this.key = { userId: key.userId, serverId: key.serverId };
    this.entry = entry;
    this.s = settings;
    this.authFetch = createAuthFetch({
      serverUrl: entry.url,
      store: keyStore(settings.store, key),
      ...(settings.interaction ? { interaction: this.cancellable(settings.interaction) } : {}),
      registration: { clientName: settings.clientInfo.name, ...settings.registration, ...entry.registration },
      ...(entry.scope ? { scope: entry.scope } : {}),
      ...(entry.headers ? { headers: entry.headers } : {}),
      ...(settings.refreshSkewSeconds !== undefined
        ? { refreshSkewSeconds: settings.refreshSkewSeconds }
        : {}),
      ...(settings.authorizationTimeoutMs !== undefined
        ? { authorizationTimeoutMs: settings.authorizationTimeoutMs }
        : {}),
      ...(settings.allowHttp ? { allowHttp: true } : {}),
      ...(settings.fetch ? { fetch: settings.fetch } : {}),
      clock: settings.clock,
      logger: settings.logger,
    });
    for (const type of RELAYED) {
      this.authFetch.events.addEventListener(type, (event) => {
        const { serverUrl: _, ...detail } = (event as CustomEvent<Record<string, unknown>>).detail ?? {};
        settings.events.dispatchEvent(
          new CustomEvent(type, { detail: { ...detail, key: this.key, serverUrl: entry.url } }),
        );
      });
    }
  }

  get sessionOpen(): boolean {
    return this.session !== undefined;
  }

  /** Aborts a login waiting for a person; false when none is pending. */
  cancelLogin(): boolean {
    const login = this.login;
    if (!login || login.signal.aborted) return false;
    login.abort();
    return true;
  }

  /**
   * Runs `op` on the key's session, opening it first (logging in when the server asks). A session
   * the server ended (HTTP 404) is re-initialized and `op` retried once; errors come out as the
   * ClientError behind them, so hosts switch on one `code`.
   */
  async run<T>(op: (session: McpSession) => Promise<T>): Promise<T> {
    try {
      let session = await this.ensureSession();
      try {
        return await op(session);
      } catch (err) {
        if (!isTransportError(err, 'session_expired')) throw err;
        this.retire(session);
        session = await this.ensureSession();
        return await op(session);
      }
    } catch (err) {
      throw normalizeError(err);
    }
  }

  async close(): Promise<void> {
    this.login?.abort();
    const session = this.session ?? (await this.opening?.catch(() => undefined));
    this.session = undefined;
    await this.retired?.close().catch(() => {});
    this.retired = undefined;
    await session?.close().catch((err: unknown) => this.s.logger.debug({ err }, 'closing a session failed'));
  }

  /** Wraps the host's interaction so `cancelLogin()` aborts it, whatever it does with signals. */
  private cancellable(inner: Interaction): Interaction {
    return {
      redirectUri: (hint) => {
        this.login ??= new AbortController();
        return inner.redirectUri(hint);
      },
      authorize: async (url, signal) => {
        this.login ??= new AbortController();
        const cancel = this.login;
        const cancelled = new Promise<never>((_, reject) => {
          const fail = () => reject(new ClientError('aborted', `login to ${this.key.serverId} cancelled`));
          if (cancel.signal.aborted) fail();
          cancel.signal.addEventListener('abort', fail, { once: true });
        });
        try {
          return await Promise.race([
            inner.authorize(url, AbortSignal.any([signal, cancel.signal])),
            cancelled,
          ]);
        } finally {
          if (this.login === cancel) this.login = undefined;
        }
      },
      close: async () => {
        this.login = undefined;
        await inner.close?.();
      },
    };
  }

  private async openSession(): Promise<McpSession> {
    const { logger } = this.s;
    const transport = createStreamableHttpClient({ url: this.entry.url, fetch: this.authFetch, logger });
    try {
      const session = await openMcpSession({
        transport,
        clientInfo: this.s.clientInfo,
        logger,
        ...(this.s.requestTimeoutMs ? { timeoutMs: this.s.requestTimeoutMs } : {}),
      });
      transport.onsessionexpired = () => this.retire(session);
      return session;
    } catch (err) {
      await transport.close().catch(() => {});
      throw err;
    }
  }

  /** MCP §Session Management: a 404 to the session id means the server ended it; the next use starts anew. */
  private retire(session: McpSession): void {
    if (this.session !== session) return;
    this.session = undefined;
    this.reinitialize = 'session_expired';
    this.retired = session;
  }

  private ensureSession(): Promise<McpSession> {
    if (this.session) return Promise.resolve(this.session);
    this.opening ??= this.openSession()
      .then((session) => {
        this.session = session;
        const reason = this.reinitialize;
        this.reinitialize = undefined;
        this.retired?.close().catch(() => {});
        this.retired = undefined;
        if (reason)
          this.s.events.emit('session_reinitialized', { key: this.key, serverUrl: this.entry.url, reason });
        return session;
      })
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }
}

/** The ClientError (or Store failure) behind a transport error, so hosts switch on one `code`. */
export function normalizeError(err: unknown): unknown {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof ClientError) return current;
    if (current instanceof StoreError) {
      return new ClientError('store_unavailable', `the token store failed (${current.message}); try again`, {
        cause: current,
      });
    }
    current = current.cause;
  }
  return err;
}
