/**
 * `openGateway`: a gateway built from configuration alone — it opens the configured store,
 * loads the key that seals upstream IdP tokens, and builds the MCP side from `mcpUpstream`.
 * (`createGateway` takes all of those as dependencies and does no I/O.)
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { type Logger, silentLogger } from '../logger.js';
import { loadEncryptionKey, parseEncryptionKey } from '../store/encryption-key.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import {
  type GatewayConfig,
  type GatewayConfigInput,
  type McpUpstreamConfig,
  parseGatewayConfig,
} from './config.js';
import { createGateway, type Gateway, type GatewayDeps } from './gateway.js';
import { createHttpUpstream } from './mcp/http-upstream.js';
import { sessionSecretFromKey } from './mcp/session-binding.js';
import { createStdioUpstream } from './mcp/stdio-upstream.js';
import type { McpEndpoint } from './mcp/types.js';

export interface OpenGatewayOptions extends GatewayDeps {
  /** Where the key file lives when no key is configured (default: the store's state directory). */
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
}

/** The MCP side for a configured upstream: a streaming HTTP proxy or stdio children per session. */
export function mcpEndpointFor(
  upstream: McpUpstreamConfig,
  logger: Logger,
  encryptionKey?: Uint8Array,
): McpEndpoint {
  if ('http' in upstream) {
    return createHttpUpstream({
      url: upstream.http,
      credential: upstream.credential,
      ...(upstream.headers ? { headers: upstream.headers } : {}),
      // Session ids stay valid across replicas sharing the key, and across restarts.
      ...(encryptionKey ? { sessionSecret: sessionSecretFromKey(encryptionKey) } : {}),
      logger,
    });
  }
  return createStdioUpstream({
    command: upstream.stdio,
    ...(upstream.env ? { env: upstream.env } : {}),
    logger,
  });
}

export async function openGateway(
  input: GatewayConfigInput | GatewayConfig,
  opts: OpenGatewayOptions = {},
): Promise<Gateway> {
  const config =
    'resource' in input && 'basePath' in input ? (input as GatewayConfig) : parseGatewayConfig(input);
  const logger = opts.logger ?? silentLogger;
  const env = opts.env ?? process.env;
  let store: Store | undefined;
  const opened = opts.store === undefined;
  try {
    store =
      opts.store ?? (await openStore(config.store, { ...(opts.clock ? { clock: opts.clock } : {}), logger }));
    // A memory store forgets the logins anyway: its key need not outlive the process either.
    const ephemeral = config.store.startsWith('memory:') && opts.stateDir === undefined;
    const encryptionKey =
      opts.encryptionKey ??
      (config.encryptionKey
        ? parseEncryptionKey(config.encryptionKey, 'encryptionKey')
        : ephemeral
          ? randomBytes(32)
          : await loadEncryptionKey({
              env,
              ...(opts.stateDir ? { keyFile: path.join(opts.stateDir, 'gateway.key') } : {}),
            }));
    const mcpEndpoint =
      opts.mcpEndpoint ??
      (config.mcpUpstream ? mcpEndpointFor(config.mcpUpstream, logger, encryptionKey) : undefined);
    const gateway = createGateway(config, {
      ...opts,
      store,
      encryptionKey,
      logger,
      ...(mcpEndpoint ? { mcpEndpoint } : {}),
    });
    if (!opened) return gateway;
    const owned = store;
    return {
      ...gateway,
      async close() {
        try {
          await gateway.close();
        } finally {
          await owned.close();
        }
      },
    };
  } catch (err) {
    if (opened) await store?.close().catch(() => {});
    throw err;
  }
}
