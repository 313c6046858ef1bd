/**
 * The embedded default (`portcullis gateway --dev`, `npm start`): plain http on 127.0.0.1, the
 * built-in dev IdP with one demo user, SQLite under `./.portcullis/`, and the key sealing
 * upstream tokens in a 0600 file beside it. Plain-http loopback is the one place the consent
 * cookies go without `__Host-` and Secure (browsers refuse Secure cookies over http).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Logger, silentLogger } from '../logger.js';
import type { GatewayConfigInput, McpUpstreamConfig } from './config.js';
import type { Gateway } from './gateway.js';
import { openGateway } from './open.js';
import { startGatewayServer } from './server.js';

export interface DevGatewayOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default `./.portcullis`. */
  stateDir?: string;
  mcpUpstream: McpUpstreamConfig | { http: string } | { stdio: string[]; env?: Record<string, string> };
  logger?: Logger;
  /** Extra config merged over the dev defaults (e.g. `corsOrigins`, `clients`). */
  overrides?: Partial<GatewayConfigInput>;
}

export interface DevGateway {
  gateway: Gateway;
  /** The MCP URL to give clients. */
  mcpUrl: string;
  issuer: string;
  port: number;
  close(): Promise<void>;
}

export const DEV_USER = { username: 'demo', name: 'Demo User', email: 'demo@example.com' } as const;

export async function startDevGateway(opts: DevGatewayOptions): Promise<DevGateway> {
  const stateDir = path.resolve(opts.stateDir ?? '.portcullis');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const logger = opts.logger ?? silentLogger;
  let gateway: Gateway | undefined;
  const server = await startGatewayServer(() => gateway, { port: opts.port ?? 0, host: '127.0.0.1', logger });
  try {
    const issuer = `http://127.0.0.1:${server.port}`;
    const config: GatewayConfigInput = {
      issuer,
      dev: true,
      upstream: { type: 'dev', users: [{ ...DEV_USER }] },
      mcpUpstream: opts.mcpUpstream as McpUpstreamConfig,
      store: `sqlite:${path.join(stateDir, 'gateway.db')}`,
      registration: { redirectSchemes: ['claude', 'cursor', 'vscode'] },
      resourceName: 'Portcullis dev gateway',
      ...opts.overrides,
    };
    gateway = await openGateway(config, { logger, stateDir });
    const ready = gateway;
    return {
      gateway: ready,
      mcpUrl: ready.config.resource,
      issuer: ready.config.issuer,
      port: server.port,
      close: () => server.close(),
    };
  } catch (err) {
    await server.close();
    throw err;
  }
}
