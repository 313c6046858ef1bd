/**
 * The connection manager for MCP hosts: many users × many servers, keyed by (userId, serverId).
 * One MCP session per key, opened on first use and re-used; OAuth state per key in the Store,
 * under namespaces only that key's auth fetch can address (key-store.ts); events for a UI;
 * cancellation of a pending login; removal with RFC 7009 revocation; and for web hosts the
 * begin/complete login flow wired to the same keys.
 */
import { type Logger, silentLogger } from '../logger.js';
import { assertSecureUrl, canonicalResourceUrl } from '../oauth/url-rules.js';
import { type Store, StoreError } from '../store/store.js';
import { isTransportError } from '../transport/errors.js';
import { type McpSession, openMcpSession } from '../transport/mcp-session.js';
import { createStreamableHttpClient } from '../transport/streamable-http.js';
import { createAuthFetch } from './auth-fetch.js';
import type { Authorizer } from './authorizer.js';
import { ClientError } from './errors.js';
import {
  assertConnectionKey,
  type ConnectionKey,
  connectionId,
  keyStore,
  registryNamespace,
} from './key-store.js';
import { ConnectionEvents } from './manager-events.js';
import { type ServerEntry, type ServerStatus, serverStatus } from './manager-status.js';
import type { RegistrationOptions } from './registration.js';
import { type RevocationResult, removeServerState } from './revoke.js';
import type { AuthFetch, Interaction } from './types.js';
import { type CompletedLogin, createWebFlow, storeGuard, type WebFlow } from './web-flow.js';

export interface ConnectionManagerOptions {
  store: Store;
  /** How a person is asked to log in for this key (e.g. a loopback interaction); none: no interactive login. */
  interactionFor?: (key: ConnectionKey) => Interaction | undefined;
  /** Web hosts: the https callback URL for `beginLogin` / `completeLogin`. */
  redirectUri?: string;
  /** Web hosts: 32 bytes mixed into the key sealing pending logins' PKCE verifiers. */
  encryptionKey?: Uint8Array;
  /** MCP `clientInfo`, also the default DCR `client_name`. */
  clientInfo?: { name: string; version: string };
  /** Registration defaults for every server (a server's own `registration` wins). */
  registration?: RegistrationOptions;
  refreshSkewSeconds?: number;
  authorizationTimeoutMs?: number;
  /** Per MCP request. Default 60 s. */
  requestTimeoutMs?: number;
  allowHttp?: boolean;
  fetch?: typeof fetch;
  clock?: () => number;
  logger?: Logger;
}

export interface AddServer extends ConnectionKey {
  url: string;
  headers?: Record<string, string>;
  registration?: RegistrationOptions;
  scope?: string;
}

export interface McpTool {
  name: string;
  description?: string;
  inputSchema?: Record<string, unknown>;
  [member: string]: unknown;
}

export interface CallToolResult {
  content: Array<Record<string, unknown>>;
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  [member: string]: unknown;
}

export interface RequestOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface ConnectionManager {
  readonly events: ConnectionEvents;
  addServer(server: AddServer): Promise<ServerEntry>;
  /** Opens (or re-uses) the key's MCP session, logging in first when the server asks for it. */
  connect(key: ConnectionKey): Promise<{ serverInfo: McpSession['serverInfo']; protocolVersion: string }>;
  listTools(key: ConnectionKey, opts?: RequestOptions): Promise<McpTool[]>;
  callTool(
    key: ConnectionKey,
    name: string,
    args?: Record<string, unknown>,
    opts?: RequestOptions,
  ): Promise<CallToolResult>;
  /** Aborts a login waiting for a person; the pending call rejects with `ClientError('aborted')`. */
  cancelLogin(key: ConnectionKey): boolean;
  /** Ends the key's session (DELETE) and forgets it in this process; stored credentials stay. */
  close(key: ConnectionKey): Promise<void>;
  /** Revokes the key's tokens (RFC 7009, best effort), deletes its state and registry entry. */
  removeServer(
    key: ConnectionKey,
  ): Promise<{ key: ConnectionKey; serverUrl: string; revocation: RevocationResult }>;
  list(userId: string): Promise<ServerStatus[]>;
  /** Web hosts: starts a login for the key; open `authorizationUrl` in a popup or redirect. */
  beginLogin(key: ConnectionKey): Promise<{ authorizationUrl: string; expiresAt: number }>;
  /** Web hosts: finishes the login the callback URL answers; `userId` from the host's own session. */
  completeLogin(input: { userId: string; callbackUrl: string | URL }): Promise<CompletedLogin>;
  closeAll(): Promise<void>;
}

interface Connection {
  key: ConnectionKey;
  entry: ServerEntry;
  authFetch: AuthFetch & { authorizer: Authorizer };
  session: McpSession | undefined;
  opening: Promise<McpSession> | undefined;
  login: AbortController | undefined;
  reinitialize: 'session_expired' | undefined;
  /** A session the server ended, closed once its successor is open (closing it now would fail its calls). */
  retired: McpSession | undefined;
  lastFailure: { code: string; message: string } | undefined;
}

const RELAYED = ['authorization_required', 'authorized', 'token_refreshed', 'reauth_required'] as const;

export function createConnectionManager(options: ConnectionManagerOptions): ConnectionManager {
  const { store } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? Date.now;
  const clientInfo = options.clientInfo ?? { name: 'portcullis-host', version: '1.0.0' };
  const events = new ConnectionEvents();
  const connections = new Map<string, Promise<Connection>>();
  /** The same connections once built, for synchronous access (cancelLogin, status). */
  const live = new Map<string, Connection>();
  // Sessions that failed after a login had started: their status is kept here.
  const failures = new Map<string, { code: string; message: string }>();
  let webFlow: WebFlow | undefined;

  const readEntry = (key: ConnectionKey) =>
    storeGuard(() => store.get<ServerEntry>(registryNamespace(key.userId), key.serverId));

  async function requireEntry(key: ConnectionKey): Promise<ServerEntry> {
    assertConnectionKey(key);
    const entry = await readEntry(key);
    if (!entry) {
      throw new ClientError(
        'unknown_server',
        `no MCP server "${key.serverId}" is registered for this user; add it first`,
      );
    }
    return entry;
  }

  function connection(key: ConnectionKey): Promise<Connection> {
    const id = connectionId(key);
    let conn = connections.get(id);
    if (!conn) {
      const building: Promise<Connection> = requireEntry(key).then((entry) => {
        const built = createConnection(key, entry);
        if (connections.get(id) === building) live.set(id, built);
        return built;
      });
      building.catch(() => {
        if (connections.get(id) === building) connections.delete(id);
      });
      connections.set(id, building);
      conn = building;
    }
    return conn;
  }

  function createConnection(key: ConnectionKey, entry: ServerEntry): Connection {
    const conn: Connection = {
      key: { userId: key.userId, serverId: key.serverId },
      entry,
      authFetch: undefined as unknown as Connection['authFetch'],
      session: undefined,
      opening: undefined,
      login: undefined,
      reinitialize: undefined,
      retired: undefined,
      lastFailure: undefined,
    };
    const interaction = options.interactionFor?.(conn.key);
    conn.authFetch = createAuthFetch({
      serverUrl: entry.url,
      store: keyStore(store, key),
      ...(interaction ? { interaction: cancellable(interaction, conn) } : {}),
      registration: { clientName: clientInfo.name, ...options.registration, ...entry.registration },
      ...(entry.scope ? { scope: entry.scope } : {}),
      ...(entry.headers ? { headers: entry.headers } : {}),
      ...(options.refreshSkewSeconds !== undefined ? { refreshSkewSeconds: options.refreshSkewSeconds } : {}),
      ...(options.authorizationTimeoutMs !== undefined
        ? { authorizationTimeoutMs: options.authorizationTimeoutMs }
        : {}),
      ...(options.allowHttp ? { allowHttp: true } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      clock,
      logger,
    });
    for (const type of RELAYED) {
      conn.authFetch.events.addEventListener(type, (event) => {
        const { serverUrl: _, ...detail } = (event as CustomEvent<Record<string, unknown>>).detail ?? {};
        events.dispatchEvent(
          new CustomEvent(type, { detail: { ...detail, key: conn.key, serverUrl: entry.url } }),
        );
      });
    }
    return conn;
  }

  /** Wraps the host's interaction so `cancelLogin(key)` can abort it, whatever it does with signals. */
  function cancellable(inner: Interaction, conn: Connection): Interaction {
    return {
      redirectUri: (hint) => {
        conn.login ??= new AbortController();
        return inner.redirectUri(hint);
      },
      authorize: async (url, signal) => {
        conn.login ??= new AbortController();
        const cancel = conn.login;
        const cancelled = new Promise<never>((_, reject) => {
          const fail = () => reject(new ClientError('aborted', `login to ${conn.key.serverId} cancelled`));
          if (cancel.signal.aborted) fail();
          cancel.signal.addEventListener('abort', fail, { once: true });
        });
        try {
          return await Promise.race([
            inner.authorize(url, AbortSignal.any([signal, cancel.signal])),
            cancelled,
          ]);
        } finally {
          if (conn.login === cancel) conn.login = undefined;
        }
      },
      close: async () => {
        conn.login = undefined;
        await inner.close?.();
      },
    };
  }

  async function openSession(conn: Connection): Promise<McpSession> {
    const transport = createStreamableHttpClient({ url: conn.entry.url, fetch: conn.authFetch, logger });
    try {
      const session = await openMcpSession({
        transport,
        clientInfo,
        logger,
        ...(options.requestTimeoutMs ? { timeoutMs: options.requestTimeoutMs } : {}),
      });
      transport.onsessionexpired = () => retire(conn, session);
      return session;
    } catch (err) {
      await transport.close().catch(() => {});
      throw err;
    }
  }

  /** §Session Management: a 404 to the session id means the server ended it; the next use starts anew. */
  function retire(conn: Connection, session: McpSession): void {
    if (conn.session !== session) return;
    conn.session = undefined;
    conn.reinitialize = 'session_expired';
    conn.retired = session;
  }

  async function ensureSession(conn: Connection): Promise<McpSession> {
    if (conn.session) return conn.session;
    conn.opening ??= openSession(conn)
      .then((session) => {
        conn.session = session;
        const reason = conn.reinitialize;
        conn.reinitialize = undefined;
        conn.retired?.close().catch(() => {});
        conn.retired = undefined;
        if (reason)
          events.emit('session_reinitialized', { key: conn.key, serverUrl: conn.entry.url, reason });
        return session;
      })
      .finally(() => {
        conn.opening = undefined;
      });
    return conn.opening;
  }

  /** Runs `op` on the key's session; a session the server ended (404) is re-initialized and `op` retried once. */
  async function run<T>(key: ConnectionKey, op: (session: McpSession) => Promise<T>): Promise<T> {
    const conn = await connection(key);
    const id = connectionId(key);
    try {
      let session = await ensureSession(conn);
      let result: T;
      try {
        result = await op(session);
      } catch (err) {
        if (!isTransportError(err, 'session_expired')) throw err;
        retire(conn, session);
        session = await ensureSession(conn);
        result = await op(session);
      }
      conn.lastFailure = undefined;
      failures.delete(id);
      return result;
    } catch (err) {
      const failure = normalize(err);
      if (failure instanceof ClientError || isTransportError(failure)) {
        conn.lastFailure = { code: failure.code, message: failure.message };
        failures.set(id, conn.lastFailure);
      }
      throw failure;
    }
  }

  async function close(key: ConnectionKey): Promise<void> {
    const id = connectionId(key);
    const pending = connections.get(id);
    connections.delete(id);
    live.delete(id);
    const conn = await pending?.catch(() => undefined);
    if (!conn) return;
    conn.login?.abort();
    const session = conn.session ?? (await conn.opening?.catch(() => undefined));
    conn.session = undefined;
    await conn.retired?.close().catch(() => {});
    conn.retired = undefined;
    await session?.close().catch((err: unknown) => logger.debug({ err }, 'closing a session failed'));
  }

  const web = (): WebFlow => {
    if (!options.redirectUri) throw new TypeError('beginLogin and completeLogin need the redirectUri option');
    webFlow ??= createWebFlow({
      store,
      redirectUri: options.redirectUri,
      registration: { clientName: clientInfo.name, ...options.registration },
      ...(options.encryptionKey ? { encryptionKey: options.encryptionKey } : {}),
      ...(options.allowHttp ? { allowHttp: true } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      clock,
      logger,
    });
    return webFlow;
  };

  return {
    events,

    async addServer(server) {
      assertConnectionKey(server);
      let url: string;
      try {
        url = canonicalResourceUrl(
          assertSecureUrl(server.url, 'MCP server URL', { allowHttp: options.allowHttp ?? false }),
        );
      } catch (cause) {
        throw new ClientError('insecure_url', (cause as Error).message, { cause });
      }
      const existing = await readEntry(server);
      if (existing && existing.url !== url) {
        throw new ClientError(
          'server_exists',
          `"${server.serverId}" is already registered for ${existing.url}; remove it before adding another URL under that id`,
        );
      }
      const entry: ServerEntry = {
        serverId: server.serverId,
        url,
        ...(server.headers ? { headers: { ...server.headers } } : {}),
        ...(server.registration ? { registration: { ...server.registration } } : {}),
        ...(server.scope ? { scope: server.scope } : {}),
        addedAt: existing?.addedAt ?? clock(),
      };
      await storeGuard(() => store.set(registryNamespace(server.userId), server.serverId, entry));
      // Settings may have changed: the next use builds the connection afresh.
      if (existing) await close(server);
      return entry;
    },

    connect: (key) =>
      run(key, async (session) => ({
        serverInfo: session.serverInfo,
        protocolVersion: session.protocolVersion,
      })),

    listTools: (key, opts = {}) =>
      run(key, async (session) => {
        const tools: McpTool[] = [];
        let cursor: string | undefined;
        for (let page = 0; page < 100; page++) {
          const result = await session.request<{ tools?: McpTool[]; nextCursor?: unknown }>(
            'tools/list',
            cursor ? { cursor } : undefined,
            opts,
          );
          tools.push(...(result.tools ?? []));
          cursor = typeof result.nextCursor === 'string' && result.nextCursor ? result.nextCursor : undefined;
          if (!cursor) break;
        }
        return tools;
      }),

    callTool: (key, name, args = {}, opts = {}) =>
      run(key, (session) => session.request<CallToolResult>('tools/call', { name, arguments: args }, opts)),

    cancelLogin(key) {
      assertConnectionKey(key);
      const login = live.get(connectionId(key))?.login;
      if (!login || login.signal.aborted) return false;
      login.abort();
      return true;
    },

    close,

    async removeServer(key) {
      const entry = await requireEntry(key);
      await close(key);
      failures.delete(connectionId(key));
      const revocation = await storeGuard(() =>
        removeServerState(keyStore(store, key), entry.url, {
          ...(options.fetch ? { fetch: options.fetch } : {}),
          ...(options.allowHttp ? { allowHttp: true } : {}),
          clock,
          logger,
        }),
      );
      await storeGuard(() => store.delete(registryNamespace(key.userId), key.serverId));
      events.emit('revoked', {
        key: { userId: key.userId, serverId: key.serverId },
        serverUrl: entry.url,
        revocation,
      });
      return { key, serverUrl: entry.url, revocation };
    },

    async list(userId) {
      assertConnectionKey({ userId, serverId: '-' });
      return storeGuard(async () => {
        const ids = (await store.list(registryNamespace(userId))).sort();
        const statuses: ServerStatus[] = [];
        for (const serverId of ids) {
          const key = { userId, serverId };
          const entry = await readEntry(key);
          if (!entry) continue;
          const conn = live.get(connectionId(key));
          statuses.push(
            await serverStatus(
              keyStore(store, key),
              key,
              entry,
              { sessionOpen: Boolean(conn?.session), lastFailure: failures.get(connectionId(key)) },
              clock(),
            ),
          );
        }
        return statuses;
      });
    },

    async beginLogin(key) {
      const entry = await requireEntry(key);
      const begun = await web().begin({
        ...key,
        serverUrl: entry.url,
        ...(entry.registration ? { registration: entry.registration } : {}),
        ...(entry.scope ? { scope: entry.scope } : {}),
      });
      events.emit('authorization_required', { key, serverUrl: entry.url, url: begun.authorizationUrl });
      return begun;
    },

    async completeLogin(input) {
      const done = await web().complete(input);
      failures.delete(connectionId(done.key));
      const conn = live.get(connectionId(done.key));
      if (conn) conn.lastFailure = undefined;
      events.emit('authorized', {
        key: done.key,
        serverUrl: done.serverUrl,
        issuer: done.issuer,
        ...(done.scope ? { scope: done.scope } : {}),
      });
      return done;
    },

    async closeAll() {
      const keys = [...connections.keys()].map((id) => {
        const [userId = '', serverId = ''] = id.split('\0');
        return { userId, serverId };
      });
      await Promise.all(keys.map((key) => close(key)));
    },
  };
}

/** The ClientError (or Store failure) behind a transport error, so hosts switch on one `code`. */
function normalize(err: unknown): unknown {
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
