/**
 * `portcullis login <url>`: discovery, registration and the browser login, then the tokens kept
 * in the store for every later command (and `connect`). An explicit login always asks again, so
 * it also switches accounts or scopes. Ctrl-C aborts it cleanly (exit 130).
 */
import type { Command } from 'commander';
import { readServerState } from '../../client/state.js';
import { action, fromCommandLine } from '../command.js';
import type { RememberedSettings, ServerSettings } from '../config.js';
import { type Cli, NS_CLI } from '../context.js';
import { ExitCode } from '../errors.js';
import { parsePort, parseServerUrl, parseStoredServerUrl } from '../options.js';
import { defined } from '../server-options.js';
import { serverStatus, statusLines } from './status.js';

interface LoginFlags {
  clientId?: string;
  clientSecret?: string;
  clientMetadataUrl?: string;
  scope?: string;
  port?: number;
  browser: boolean;
  allowHttp?: boolean;
}

export function loginCommand(program: Command, cli: Cli): void {
  program
    .command('login')
    .description('Log in to an OAuth-protected MCP server and keep the tokens (refreshed automatically)')
    .argument('<url>', 'the MCP server URL, e.g. https://mcp.example.com/mcp')
    .option(
      '--client-id <id>',
      'a client id registered with the authorization server (env PORTCULLIS_CLIENT_ID)',
    )
    .option(
      '--client-secret <secret>',
      'the secret of that client (prefer env PORTCULLIS_CLIENT_SECRET: flags are visible in ps)',
    )
    .option(
      '--client-metadata-url <url>',
      'https URL of a Client ID Metadata Document describing this client',
    )
    .option('--scope <scopes>', 'scopes to request, space-separated (default: what the server asks for)')
    .option(
      '--port <port>',
      'callback port on 127.0.0.1 (default: a free one, remembered per server)',
      parsePort,
    )
    .option('--no-browser', 'print the URL instead of opening a browser, then read the pasted redirect URL')
    .option('--no-resource', 'do not send the RFC 8707 resource parameter (for IdPs that reject it)')
    .option('--allow-http', 'allow cleartext http to a server that is not on loopback')
    .action(
      action(cli, async (url: string, opts: LoginFlags, command: Command) => {
        const serverUrl = parseStoredServerUrl(url);
        cli.serverUrl = serverUrl;
        const flags: Partial<ServerSettings> = defined({
          clientId: opts.clientId,
          clientSecret: opts.clientSecret,
          clientMetadataUrl: opts.clientMetadataUrl,
          scope: opts.scope,
          callbackPort: opts.port,
          resource: fromCommandLine<boolean>(command, 'resource'),
          allowHttp: opts.allowHttp,
        });
        if (flags.clientSecret) cli.secrets.add(flags.clientSecret);
        const settings = await cli.settingsFor(serverUrl, flags, { remembered: false });
        parseServerUrl(serverUrl, { allowHttp: settings.allowHttp });
        await login(cli, serverUrl, settings, { noBrowser: !opts.browser });
        await rememberLoginSettings(cli, serverUrl, flags);

        const now = Date.now();
        const status = await serverStatus(cli, serverUrl, now);
        cli.note(cli.errStyle.ok(`Logged in to ${serverUrl}`));
        for (const line of statusLines(cli, status, now, cli.errStyle).slice(1)) cli.note(line);
        return ExitCode.ok;
      }),
    );
}

/** Logs in now, even when a token is stored (the stored one is replaced on success only). */
export async function login(
  cli: Cli,
  serverUrl: string,
  settings: ServerSettings,
  opts: { noBrowser: boolean },
): Promise<void> {
  const authFetch = await (await import('../connection.js')).createCliAuthFetch(
    cli,
    serverUrl,
    settings,
    opts,
  );
  const { server, tokens } = await readServerState(await cli.store(), serverUrl);
  if (!tokens) {
    await authFetch.authorize({ signal: cli.signal });
    return;
  }
  // Naming the stored token as rejected makes the authorizer run a new authorization.
  await authFetch.authorizer.authorize({
    rejectedToken: tokens.accessToken,
    resourceMetadataUrl: server?.resourceMetadataUrl,
    signal: cli.signal,
  });
}

/**
 * What was given to `login` on the command line and changes how the server is talked to later
 * (`--no-resource`, `--allow-http`, `--scope`, `--client-metadata-url`) is kept, so that refreshes
 * by `tools`, `call` and `connect` behave the same. No secret: a client secret lives in the
 * (encrypted) client record. A login without these flags clears what an earlier one kept.
 */
async function rememberLoginSettings(cli: Cli, serverUrl: string, flags: Partial<ServerSettings>) {
  const remembered: RememberedSettings = defined({
    clientMetadataUrl: flags.clientMetadataUrl,
    scope: flags.scope,
    resource: flags.resource === false ? false : undefined,
    allowHttp: flags.allowHttp === true ? true : undefined,
  });
  const store = await cli.store();
  if (Object.keys(remembered).length) await store.set(NS_CLI, serverUrl, remembered);
  else await store.delete(NS_CLI, serverUrl);
}
