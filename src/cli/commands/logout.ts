/**
 * `portcullis logout [url] [--all]`: revokes the tokens at the authorization server (RFC 7009,
 * when it has a revocation_endpoint), then deletes everything stored for the server. A failed
 * revocation is reported, and the local state is deleted all the same: the user asked for this
 * machine to stop holding the credentials.
 */
import type { Command } from 'commander';
import { forgetServer, NS, readServerState } from '../../client/state.js';
import { OAuthError } from '../../oauth/errors.js';
import { action } from '../command.js';
import { type Cli, NS_CLI } from '../context.js';
import { CliError, ExitCode, findCause, renderError } from '../errors.js';
import { parseStoredServerUrl } from '../options.js';

/** Where the client core keeps a server's DPoP key pair (src/client/dpop.ts). */
const NS_DPOP = 'dpop';

export function logoutCommand(program: Command, cli: Cli): void {
  program
    .command('logout')
    .description('Revoke the tokens of an MCP server (RFC 7009) and delete everything stored for it')
    .argument('[url]', 'the MCP server URL')
    .option('--all', 'log out of every server')
    .action(
      action(cli, async (url: string | undefined, opts: { all?: boolean }) => {
        const store = await cli.store();
        const known = [...new Set([...(await store.list(NS.servers)), ...(await store.list(NS_CLI))])].sort();
        if (url && opts.all) throw new CliError('usage', 'pass a server URL or --all, not both');
        if (!url && !opts.all) {
          throw new CliError('usage', 'which server? pass its URL, or --all', {
            hint: known.length ? `logged in to: ${known.join(', ')}` : 'you are not logged in to any server',
          });
        }
        const targets = url ? [parseStoredServerUrl(url)] : known;
        if (url) cli.serverUrl = targets[0];
        if (targets.length === 0) cli.note('Not logged in to any MCP server; nothing to do.');
        for (const serverUrl of targets) {
          if (!known.includes(serverUrl)) {
            cli.note(`Not logged in to ${serverUrl}; nothing to do.`);
            continue;
          }
          await logout(cli, serverUrl);
        }
        return ExitCode.ok;
      }),
    );
}

async function logout(cli: Cli, serverUrl: string): Promise<void> {
  const store = await cli.store();
  const { server, client, tokens } = await readServerState(store, serverUrl);
  const as = server?.authorizationServer;
  let revocation = '';
  if (tokens && client && as) {
    if (!as.revocation_endpoint) {
      revocation = `; ${as.issuer} offers no token revocation, so its tokens stay valid until they expire`;
    } else {
      const settings = await cli.settingsFor(serverUrl, {});
      const ctx = {
        fetch: globalThis.fetch,
        allowHttp: settings.allowHttp ?? false,
        clock: Date.now,
        signal: cli.signal,
      };
      // RFC 7009 §2.1: the refresh token first; revoking it may also end the grant's access tokens.
      const revoked: string[] = [];
      const notRevocable: string[] = [];
      for (const [token, hint] of [
        [tokens.refreshToken, 'refresh_token'],
        [tokens.accessToken, 'access_token'],
      ] as const) {
        if (!token) continue;
        const label = hint === 'refresh_token' ? 'refresh token' : 'access token';
        try {
          const { revokeToken } = await import('../../client/grants.js');
          await revokeToken(as, client, token, hint, ctx);
          revoked.push(label);
        } catch (err) {
          // RFC 7009 §2.2.1: the AS does not revoke this kind of token (typically JWT access tokens).
          if (findCause(err, (e) => e instanceof OAuthError && e.error === 'unsupported_token_type')) {
            notRevocable.push(label);
            continue;
          }
          const { message } = renderError(err, { serverUrl, secrets: cli.secrets });
          cli.warn(`could not revoke the ${label} at ${as.issuer}: ${message}`);
        }
      }
      if (revoked.length) revocation = `; revoked the ${revoked.join(' and ')} at ${as.issuer}`;
      if (notRevocable.length)
        revocation += `; ${as.issuer} does not revoke ${notRevocable.join(' or ')}s, which stay valid until they expire`;
    }
  }
  await forgetServer(store, serverUrl);
  await store.delete(NS_CLI, serverUrl);
  await store.delete(NS_DPOP, serverUrl);
  cli.note(cli.errStyle.ok(`Logged out of ${serverUrl}${revocation}`));
}
