/**
 * The connection manager for MCP hosts: many users × many servers, keyed by (userId, serverId).
 * One MCP session per key, opened on first use and re-used; OAuth state per key in the Store,
 * under namespaces only that key's auth fetch can address (key-store.ts); events for a UI;
 * cancellation of a pending login; removal with RFC 7009 revocation; and for web hosts the
 * begin/complete login flow wired to the same keys.
 */
import { type Logger, silentLogger } from '../logger.js';
import { assertSecureUrl, canonicalResourceUrl } from '../oauth/url-rules.js';
import type { Store } from '../store/store.js';
import { isTransportError } from '../transport/errors.js';
import type { McpSession } from '../transport/mcp-session.js';
import { ClientError } from './errors.js';
import {
  assertConnectionKey,
  assertId,
  type ConnectionKey,
  connectionId,
  keyStore,
  registryNamespace,
} from './key-store.js';
import { KeyConnection } from './manager-connection.js';
import { ConnectionEvents } from './manager-events.js';
import { type ServerEntry, type ServerStatus, serverStatus } from './manager-status.js';
import type { RegistrationOptions } from './registration.js';
import { type RevocationResult, removeServerState } from './revoke.js';
import type { Interaction } from './types.js';
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

export function createConnectionManager(options: ConnectionManagerOptions): ConnectionManager {
  const { store } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? Date.now;
  const clientInfo = options.clientInfo ?? { name: 'portcullis-host', version: '1.0.0' };
  const events = new ConnectionEvents();
  const connections = new Map<string, Promise<KeyConnection>>();
  /** The same connections once built, for synchronous access (cancelLogin, status). */
  const live = new Map<string, KeyConnection>();
  /** The last failure per key in this process, for `list()`; cleared by the next success. */
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

  function connection(key: ConnectionKey): Promise<KeyConnection> {
    const id = connectionId(key);
    const existing = connections.get(id);
    if (existing) return existing;
    const building: Promise<KeyConnection> = requireEntry(key).then((entry) => {
      const built = new KeyConnection(key, entry, {
        store,
        events,
        clientInfo,
        interaction: options.interactionFor?.({ userId: key.userId, serverId: key.serverId }),
        registration: options.registration,
        refreshSkewSeconds: options.refreshSkewSeconds,
        authorizationTimeoutMs: options.authorizationTimeoutMs,
        requestTimeoutMs: options.requestTimeoutMs,
        allowHttp: options.allowHttp,
        fetch: options.fetch,
        clock,
        logger,
      });
      if (connections.get(id) === building) live.set(id, built);
      return built;
    });
    building.catch(() => {
      if (connections.get(id) === building) connections.delete(id);
    });
    connections.set(id, building);
    return building;
  }

  /** Runs `op` on the key's session, keeping the outcome for `list()`. */
  async function run<T>(key: ConnectionKey, op: (session: McpSession) => Promise<T>): Promise<T> {
    const id = connectionId(key);
    try {
      const result = await (await connection(key)).run(op);
      failures.delete(id);
      return result;
    } catch (err) {
      if (err instanceof ClientError || isTransportError(err))
        failures.set(id, { code: err.code, message: err.message });
      throw err;
    }
  }

  async function close(key: ConnectionKey): Promise<void> {
    const id = connectionId(key);
    const pending = connections.get(id);
    connections.delete(id);
    live.delete(id);
    await (await pending?.catch(() => undefined))?.close();
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
      // Changed settings (headers, registration, scope): the next use builds the connection afresh.
      const { addedAt: _was, ...before } = existing ?? { addedAt: 0 };
      const { addedAt: _now, ...after } = entry;
      if (existing && JSON.stringify(before) !== JSON.stringify(after)) await close(server);
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
      return live.get(connectionId(key))?.cancelLogin() ?? false;
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
      assertId(userId, 'userId');
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
              { sessionOpen: conn?.sessionOpen ?? false, lastFailure: failures.get(connectionId(key)) },
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
