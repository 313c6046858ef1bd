// Shared setup for the host-app integration tests: the real oidc-provider AS protecting the real
// SDK MCP server, a loopback interaction whose "browser" logs in as a fixture user, and helpers
// to read or age what the manager stored for a key.
import { expect, onTestFinished } from 'vitest';
import type { ConnectionKey } from '../../src/client/key-store.js';
import { keyStore } from '../../src/client/key-store.js';
import { createLoopbackInteraction } from '../../src/client/loopback.js';
import { NS, readServerState, type TokenRecord, tokenKey } from '../../src/client/state.js';
import type { Interaction } from '../../src/client/types.js';
import type { Store } from '../../src/store/store.js';
import {
  type AuthorizationServerOptions,
  DEFAULT_USERS,
  startAuthorizationServer,
} from '../fixtures/authorization-server.js';
import { completeAuthorization } from '../fixtures/browser-agent.js';
import { type McpServerOptions, startMcpServer } from '../fixtures/mcp-server.js';

export async function startProtectedServer(
  asOpts: AuthorizationServerOptions = {},
  mcpOpts: McpServerOptions = {},
) {
  const as = await startAuthorizationServer(asOpts);
  onTestFinished(() => as.stop());
  const mcp = await startMcpServer({ authorizationServer: as, ...mcpOpts });
  onTestFinished(() => mcp.stop());
  onTestFinished(() => expect(as.serverErrors).toEqual([]));
  return { as, mcp };
}

/** A loopback interaction whose browser is the fixture agent logging in as `login`. */
export function browserLogin(login: string, opened: URL[] = []): Interaction {
  const password = DEFAULT_USERS[login]?.password ?? 'unknown';
  return createLoopbackInteraction({
    openBrowser: async (url) => {
      opened.push(url);
      await completeAuthorization(url, { login, password });
    },
  });
}

/** A loopback interaction whose browser never completes: a person who walked away. */
export function browserNeverCompletes(opened: URL[] = []): Interaction {
  return createLoopbackInteraction({
    openBrowser: async (url) => {
      opened.push(url);
    },
  });
}

export const textOf = (result: { content: Array<Record<string, unknown>> }) =>
  String(result.content[0]?.['text']);

/** What the manager stored for a key: server record, registration, tokens. */
export function storedFor(store: Store, key: ConnectionKey, serverUrl: string) {
  return readServerState(keyStore(store, key), serverUrl);
}

/** Makes the stored access token look expired, so the next use refreshes it. */
export async function expireAccessToken(
  store: Store,
  key: ConnectionKey,
  serverUrl: string,
): Promise<TokenRecord> {
  const view = keyStore(store, key);
  const { tokens } = await readServerState(view, serverUrl);
  if (!tokens) throw new Error('no tokens stored to expire');
  const aged = { ...tokens, expiresAt: Date.now() - 1_000 };
  await view.set(NS.tokens, tokenKey(serverUrl, tokens.issuer), aged);
  return aged;
}

/** Waits for the first event of `type` on `target`. */
export function nextEvent<T = Record<string, unknown>>(target: EventTarget, type: string): Promise<T> {
  return new Promise((resolve) =>
    target.addEventListener(type, (event) => resolve((event as CustomEvent<T>).detail), { once: true }),
  );
}
