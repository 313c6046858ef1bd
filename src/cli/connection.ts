/**
 * From merged settings to a working connection: the client core's auth-aware fetch (with the
 * CLI's interaction), and for `tools` / `call` an MCP session over our own transport on it.
 */
import { createAuthFetch } from '../client/auth-fetch.js';
import type { Authorizer, GrantOption } from '../client/authorizer.js';
import type { AuthFetch } from '../client/types.js';
import { createClientTransport } from '../transport/client-transport.js';
import { type McpSession, openMcpSession } from '../transport/mcp-session.js';
import type { ServerSettings } from './config.js';
import type { Cli } from './context.js';
import { createCliInteraction } from './interaction.js';
import { parseServerUrl, parseStoredServerUrl } from './options.js';
import { defined, type ServerCommandFlags } from './server-options.js';
import { VERSION } from './version.js';

export const CLIENT_INFO = { name: 'portcullis', version: VERSION };

export interface ConnectionOptions {
  /** Print the URL and read a pasted redirect URL instead of opening a browser. */
  noBrowser: boolean;
  /** `connect`: stdin carries JSON-RPC, so nothing is read from it. */
  stdinIsInteractive?: boolean;
  /** The fetch underneath (e.g. the bridge's proxy-aware one). */
  fetch?: typeof fetch;
  grant?: GrantOption;
  authorizationTimeoutMs?: number | undefined;
  /** RFC 8707 `resource` override: a URL, or false to omit it (overrides the server's settings). */
  resource?: string | false;
}

export async function createCliAuthFetch(
  cli: Cli,
  serverUrl: string,
  settings: ServerSettings,
  opts: ConnectionOptions,
): Promise<AuthFetch & { authorizer: Authorizer }> {
  const interaction = createCliInteraction(cli, {
    serverUrl,
    noBrowser: opts.noBrowser,
    port: settings.callbackPort,
    ...(opts.stdinIsInteractive === false ? { stdinIsInteractive: false } : {}),
  });
  return createAuthFetch({
    serverUrl,
    store: await cli.store(),
    interaction,
    registration: {
      clientName: 'portcullis',
      softwareId: 'portcullis',
      softwareVersion: VERSION,
      ...defined({
        clientId: settings.clientId,
        clientSecret: settings.clientSecret,
        clientMetadataUrl: settings.clientMetadataUrl,
      }),
    },
    headers: settings.headers,
    logger: cli.logger,
    ...defined({
      fetch: opts.fetch,
      grant: opts.grant,
      authorizationTimeoutMs: opts.authorizationTimeoutMs,
      scope: settings.scope,
      resource: settings.resource,
      refreshSkewSeconds: settings.refreshSkewSeconds,
      allowHttp: settings.allowHttp,
      dpop: settings.dpop,
    }),
    ...(opts.resource !== undefined ? { resource: opts.resource } : {}),
  });
}

/**
 * Makes sure a token exists first (logging in, abortable with Ctrl-C), then opens the session:
 * Streamable HTTP, falling back to HTTP+SSE for 2024-11-05 servers.
 */
export async function openCliSession(cli: Cli, serverUrl: string, authFetch: AuthFetch): Promise<McpSession> {
  await authFetch.authorize({ signal: cli.signal });
  const transport = createClientTransport({
    url: serverUrl,
    fetch: authFetch,
    logger: cli.logger,
    strategy: 'http-first',
  });
  try {
    return await openMcpSession({
      transport,
      clientInfo: CLIENT_INFO,
      logger: cli.logger,
      signal: cli.signal,
    });
  } catch (err) {
    await transport.close().catch(() => {});
    throw err;
  }
}

/** Runs `use` on an MCP session with `url`, logging in first when needed; always closes it. */
export async function withSession<T>(
  cli: Cli,
  url: string,
  flags: ServerCommandFlags,
  use: (session: McpSession) => Promise<T>,
): Promise<T> {
  const serverUrl = parseStoredServerUrl(url);
  cli.serverUrl = serverUrl;
  const settings = await cli.settingsFor(serverUrl, {
    headers: flags.header ?? {},
    ...(flags.allowHttp ? { allowHttp: true } : {}),
  });
  parseServerUrl(serverUrl, { allowHttp: settings.allowHttp });
  const authFetch = await createCliAuthFetch(cli, serverUrl, settings, { noBrowser: !flags.browser });
  const session = await openCliSession(cli, serverUrl, authFetch);
  try {
    return await use(session);
  } finally {
    await session.close().catch(() => {});
  }
}
