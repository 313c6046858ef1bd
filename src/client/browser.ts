/**
 * Opens a URL in the user's browser without a shell (MCP SBP C40): the URL is one argv element,
 * never parsed by `sh`, `cmd.exe` or PowerShell, and only http(s) URLs are opened (C39).
 * `$BROWSER` is honoured (split on whitespace, `%s` replaced by the URL, else appended).
 */
import { spawn } from 'node:child_process';
import { assertBrowserUrl } from '../oauth/url-rules.js';

export interface OpenBrowserOptions {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  spawn?: typeof spawn;
}

/** The command and arguments that would open `url`, for the platform; exported for tests. */
export function browserCommand(url: string, opts: OpenBrowserOptions = {}): [string, string[]] {
  const env = opts.env ?? process.env;
  const custom = env['BROWSER']?.trim();
  if (custom) {
    const parts = custom.split(/\s+/);
    const args = parts.slice(1);
    const substituted = args.some((a) => a.includes('%s'));
    return [parts[0]!, substituted ? args.map((a) => a.replaceAll('%s', url)) : [...args, url]];
  }
  switch (opts.platform ?? process.platform) {
    case 'darwin':
      return ['open', [url]];
    case 'win32':
      // rundll32 hands the URL to the registered protocol handler without cmd.exe.
      return ['rundll32', ['url.dll,FileProtocolHandler', url]];
    default:
      return ['xdg-open', [url]];
  }
}

/** Resolves once the launcher started (or failed to); the caller prints the URL either way. */
export async function openBrowser(url: URL | string, opts: OpenBrowserOptions = {}): Promise<void> {
  const safe = assertBrowserUrl(url).href;
  const [command, args] = browserCommand(safe, opts);
  return new Promise((resolve, reject) => {
    const child = (opts.spawn ?? spawn)(command, args, { stdio: 'ignore', detached: true, shell: false });
    child.once('error', reject);
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}
