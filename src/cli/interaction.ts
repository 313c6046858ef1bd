/**
 * How the CLI asks a person to log in: the client core's loopback interaction, with the URL
 * always printed (for SSH users), the browser opened unless `--no-browser`, a spinner while the
 * browser is out, and in headless mode the redirect URL read from stdin. When stdin closes before
 * anything was pasted, no login can happen here: that is `authorization_required` (exit 3), not
 * a five-minute wait.
 */
import { openBrowser } from '../client/browser.js';
import { ClientError } from '../client/errors.js';
import { createLoopbackInteraction } from '../client/loopback.js';
import type { Interaction } from '../client/types.js';
import type { Cli } from './context.js';
import { startSpinner } from './spinner.js';

export interface CliInteractionOptions {
  serverUrl: string;
  /** Print the URL and read the pasted redirect URL from stdin instead of opening a browser. */
  noBrowser: boolean;
  /** A configured callback port: strict (fail when taken). */
  port?: number | undefined;
  /** false when stdin is not the person's (`connect`: it carries JSON-RPC); no pasting then. */
  stdinIsInteractive?: boolean;
}

export function createCliInteraction(cli: Cli, opts: CliInteractionOptions): Interaction {
  const { stdin } = cli.io;
  const paste = opts.noBrowser && opts.stdinIsInteractive !== false;
  const loopback = createLoopbackInteraction({
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    openBrowser: opts.noBrowser
      ? false
      : async (url) => {
          try {
            await openBrowser(url, { env: cli.io.env });
          } catch (err) {
            cli.warn(`could not open a browser (${(err as Error).message}); open the URL above yourself`);
          }
        },
    onAuthorizationUrl: (url) => printInstructions(cli, opts, url),
    ...(paste ? { paste: { input: stdin } } : {}),
    logger: cli.logger,
  });

  return {
    redirectUri: (hint) => loopback.redirectUri(hint),
    close: () => loopback.close?.() ?? Promise.resolve(),
    async authorize(url, signal) {
      const stdinClosed = new AbortController();
      const onEnd = () => {
        // Let a last pasted line without a newline reach the reader first.
        setImmediate(() => stdinClosed.abort(new Error('stdin closed')));
      };
      if (paste) {
        stdin.once('end', onEnd);
        stdin.once('close', onEnd);
      }
      // The loopback prints the URL (onAuthorizationUrl) before its first await: the spinner goes below.
      const callback = loopback.authorize(url, AbortSignal.any([signal, stdinClosed.signal]));
      const spinner = opts.noBrowser
        ? undefined
        : startSpinner(cli.io.stderr, 'Waiting for you to log in in the browser (Ctrl-C to cancel)…', {
            signal,
          });
      try {
        return await callback;
      } catch (err) {
        if (stdinClosed.signal.aborted && !signal.aborted) {
          throw new ClientError(
            'authorization_required',
            `${opts.serverUrl} needs a login, and none can happen here: no browser was opened (--no-browser) and stdin closed before a redirect URL was pasted`,
            { cause: err },
          );
        }
        throw err;
      } finally {
        spinner?.stop();
        stdin.removeListener('end', onEnd);
        stdin.removeListener('close', onEnd);
      }
    },
  };
}

function printInstructions(cli: Cli, opts: CliInteractionOptions, url: URL): void {
  const redirect = url.searchParams.get('redirect_uri') ?? 'http://127.0.0.1';
  if (opts.noBrowser) {
    cli.note(`To log in to ${opts.serverUrl}, open this URL in a browser:`);
    cli.note();
    cli.note(`  ${url.href}`);
    cli.note();
    cli.note(`When the browser lands on ${redirect}?… (an error page if that browser is on another`);
    cli.note('machine), copy that whole address, paste it here and press Enter:');
    return;
  }
  cli.note(`Opening your browser to log in to ${opts.serverUrl}.`);
  cli.note('If it does not open, visit this URL:');
  cli.note();
  cli.note(`  ${url.href}`);
  cli.note();
}
