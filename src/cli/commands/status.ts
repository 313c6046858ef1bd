/**
 * `portcullis status [url] [--json]`: what is stored per server, read locally (no network):
 * authorization server, client registration, token expiry, scopes, refresh token, last error.
 * Never a token or a secret. Exit 3 when a server shown needs a login.
 */
import type { Command } from 'commander';
import { NS, readServerState } from '../../client/state.js';
import { action } from '../command.js';
import type { Cli } from '../context.js';
import { ExitCode } from '../errors.js';
import { parseStoredServerUrl } from '../options.js';
import { describeAgo, describeExpiry } from '../output.js';

export type LoginState =
  | 'logged_in' // a valid access token
  | 'refreshable' // the access token expired, a refresh token will get another
  | 'expired' // expired and nothing to refresh with
  | 'not_logged_in';

/** One server, as `status --json` prints it. Times are ISO 8601. */
export interface ServerStatus {
  url: string;
  state: LoginState;
  /** True when a command can use the server without a new login. */
  usable: boolean;
  authorizationServer: string | null;
  resource: string | null;
  registration: { source: 'pre-registered' | 'cimd' | 'dcr'; clientId: string; registeredAt: string } | null;
  token: {
    type: string;
    expiresAt: string | null;
    expiresInSeconds: number | null;
    scopes: string[];
    refreshToken: boolean;
    refreshError: { error: string; at: string } | null;
  } | null;
  callbackPort: number | null;
  lastError: { code: string; message: string; at: string } | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

export async function serverStatus(cli: Cli, url: string, now: number): Promise<ServerStatus> {
  const { server, client, tokens } = await readServerState(await cli.store(), url);
  let state: LoginState = 'not_logged_in';
  if (tokens) {
    const expired = tokens.expiresAt !== undefined && tokens.expiresAt <= now;
    state = !expired ? 'logged_in' : tokens.refreshToken ? 'refreshable' : 'expired';
  }
  return {
    url,
    state,
    usable: state === 'logged_in' || state === 'refreshable',
    authorizationServer: server?.authorizationServer?.issuer ?? null,
    resource: server?.resource ?? null,
    registration: client
      ? { source: client.source, clientId: client.clientId, registeredAt: iso(client.registeredAt) }
      : null,
    token: tokens
      ? {
          type: tokens.tokenType,
          expiresAt: tokens.expiresAt === undefined ? null : iso(tokens.expiresAt),
          expiresInSeconds:
            tokens.expiresAt === undefined ? null : Math.round((tokens.expiresAt - now) / 1000),
          scopes: tokens.scope?.split(' ').filter(Boolean) ?? [],
          refreshToken: Boolean(tokens.refreshToken),
          refreshError: tokens.refreshError
            ? { error: tokens.refreshError.error, at: iso(tokens.refreshError.at) }
            : null,
        }
      : null,
    callbackPort: server?.callbackPort ?? null,
    lastError: server?.lastError
      ? { code: server.lastError.code, message: server.lastError.message, at: iso(server.lastError.at) }
      : null,
  };
}

const SOURCE_LABEL = {
  'pre-registered': 'pre-registered',
  cimd: 'cimd (Client ID Metadata Document)',
  dcr: 'dcr (dynamic client registration)',
} as const;

/** The human lines for one server (headline first, then details), shared with `login`. */
export function statusLines(cli: Cli, status: ServerStatus, now: number, style = cli.style): string[] {
  const expiry = status.token?.expiresAt ? describeExpiry(Date.parse(status.token.expiresAt), now) : '';
  const headline = {
    logged_in: style.ok(`Logged in${expiry ? `; access token ${expiry}` : ''}`),
    refreshable: style.ok(`Logged in; access token ${expiry}, the refresh token will renew it`),
    expired: style.fail(
      `Login expired (access token ${expiry}, no refresh token); run: portcullis login ${status.url}`,
    ),
    not_logged_in: style.fail(`Not logged in; run: portcullis login ${status.url}`),
  }[status.state];
  const rows: Array<[string, string | undefined]> = [
    ['Authorization server', status.authorizationServer ?? undefined],
    [
      'Registration',
      status.registration
        ? `${SOURCE_LABEL[status.registration.source]}, client id ${status.registration.clientId}`
        : undefined,
    ],
    ['Scopes', status.token ? status.token.scopes.join(' ') || '(none granted)' : undefined],
    ['Refresh token', status.token ? (status.token.refreshToken ? 'yes' : 'no') : undefined],
    [
      'Refresh failed',
      status.token?.refreshError
        ? `${status.token.refreshError.error} (${describeAgo(Date.parse(status.token.refreshError.at), now)})`
        : undefined,
    ],
    [
      'Last error',
      status.lastError
        ? `${status.lastError.code}: ${status.lastError.message} (${describeAgo(Date.parse(status.lastError.at), now)})`
        : undefined,
    ],
  ];
  const shown = rows.filter((row): row is [string, string] => row[1] !== undefined);
  const width = Math.max(...shown.map(([label]) => label.length));
  return [`  ${headline}`, ...shown.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)];
}

export function statusCommand(program: Command, cli: Cli): void {
  program
    .command('status')
    .description(
      'Show what is stored per MCP server: login state, registration, token expiry, scopes, last error',
    )
    .argument('[url]', 'only this MCP server')
    .option('--json', 'machine-readable output')
    .action(
      action(cli, async (url: string | undefined, opts: { json?: boolean }) => {
        const now = Date.now();
        const urls = url ? [parseStoredServerUrl(url)] : await knownServers(cli);
        if (url) cli.serverUrl = urls[0];
        const statuses = await Promise.all(urls.map((u) => serverStatus(cli, u, now)));
        if (opts.json) {
          cli.out(JSON.stringify({ servers: statuses }, null, 2));
        } else if (statuses.length === 0) {
          cli.out('Not logged in to any MCP server.');
          cli.out('Log in with: portcullis login <url>');
        } else {
          cli.out(
            statuses
              .map((status) => [cli.style.bold(status.url), ...statusLines(cli, status, now)].join('\n'))
              .join('\n\n'),
          );
        }
        return statuses.every((s) => s.usable) ? ExitCode.ok : ExitCode.authorization;
      }),
    );
}

/** Servers with stored state, and those named in the config file (maybe never logged in). */
async function knownServers(cli: Cli): Promise<string[]> {
  const stored = await (await cli.store()).list(NS.servers);
  const configured = Object.keys((await cli.config()).servers);
  return [...new Set([...stored, ...configured])].sort();
}
