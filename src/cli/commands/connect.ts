/**
 * `portcullis connect <url> [callbackPort]`: the stdio ↔ Streamable HTTP bridge (src/bridge) with
 * the client core's OAuth on the HTTP leg. stdout belongs to JSON-RPC alone (C42): everything for
 * the person goes to stderr (or `--log-file`), and stdin is never read for a pasted login.
 */
import { appendFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import {
  CONNECT_COMPAT_FLAGS,
  CONNECT_FLAGS,
  type ConnectOptions,
  ConnectOptionsError,
  parseConnectOptions,
} from '../../bridge/cli-options.js';
import type { Logger } from '../../logger.js';
import { action } from '../command.js';
import type { Cli } from '../context.js';
import { CliError } from '../errors.js';
import { createCliLogger } from '../logger.js';
import { defined } from '../server-options.js';

/** Repeatable `--header`: raw `Name: value` items, parsed (and `${VAR}`-expanded) by the bridge. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function connectCommand(program: Command, cli: Cli): void {
  const command = program
    .command('connect')
    .description('Bridge a stdio MCP host to a remote MCP server over Streamable HTTP, carrying OAuth')
    .argument('<url>', 'the MCP server URL')
    .argument('[callbackPort]', 'loopback port for the login callback (mcp-remote compatible)');
  // The flags are the bridge's (src/bridge/cli-options.ts); --log-level is the global one.
  for (const [flags, description] of CONNECT_FLAGS) {
    if (flags.startsWith('--log-level')) continue;
    if (flags.startsWith('--header ')) command.option(flags, description, collect);
    else command.option(flags, description);
  }
  for (const [flags, description] of CONNECT_COMPAT_FLAGS)
    command.addOption(new Option(flags, description).hideHelp());
  command.action(
    action(cli, async (url: string, callbackPort: string | undefined, flags: Record<string, unknown>) => {
      const options = parseOptions(cli, {
        ...flags,
        url,
        ...(callbackPort !== undefined ? { callbackPort } : {}),
      });
      const logger = options.logFile ? await fileLogger(cli, options.logFile) : cli.logger;
      const serverUrl = options.url.href;
      cli.serverUrl = serverUrl;
      const { startConnect } = await import('../../bridge/main.js');
      return startConnect(options, {
        logger,
        signal: cli.signal,
        makeFetch: async (_url, base) => {
          const { createCliAuthFetch } = await import('../connection.js');
          const settings = await cli.settingsFor(
            serverUrl,
            defined({
              clientId: options.clientId,
              clientSecret: options.clientSecret,
              clientMetadataUrl: options.clientMetadataUrl,
              scope: options.scope,
              callbackPort: options.callbackPort,
              allowHttp: options.allowHttp || undefined,
            }),
          );
          return createCliAuthFetch(cli, serverUrl, settings, {
            noBrowser: !options.browser,
            stdinIsInteractive: false,
            fetch: base.fetch as typeof fetch,
            authorizationTimeoutMs: options.authTimeoutMs,
            ...(options.grant === 'client_credentials' ? { grant: { type: 'client_credentials' } } : {}),
            ...(options.resource !== undefined ? { resource: options.resource } : {}),
          });
        },
      });
    }),
  );
}

function parseOptions(cli: Cli, input: Record<string, unknown>): ConnectOptions {
  try {
    return parseConnectOptions({ ...input, logLevel: cli.logLevel }, cli.io.env);
  } catch (err) {
    if (err instanceof ConnectOptionsError) {
      throw new CliError('usage', err.message, { hint: 'run: portcullis connect --help' });
    }
    throw err;
  }
}

/** `--log-file`: the same redacting logger, appended to a 0600 file instead of stderr. */
function fileLogger(cli: Cli, file: string): Promise<Logger> {
  return createCliLogger({
    level: cli.logLevel,
    write: (line) => appendFileSync(file, line, { mode: 0o600 }),
  });
}
