/**
 * The interactive login: a loopback callback on 127.0.0.1 (RFC 8252 §7.3, C17), the browser
 * opened for the user, and, for SSH and headless users, the URL printed and a pasted redirect
 * URL or bare code accepted instead — whichever arrives first wins.
 *
 * The listener serves only the callback path, checks the Host header (DNS rebinding) and the
 * `state` (C20), answers with a small page, and is closed as soon as the flow ends.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { type Logger, silentLogger } from '../logger.js';
import { openBrowser } from './browser.js';
import { ClientError } from './errors.js';
import type { Interaction } from './types.js';

export interface LoopbackOptions {
  /** A configured port is strict: if it is taken, fail rather than pick another. */
  port?: number;
  callbackPath?: string;
  /** true (default): open the system browser; false: only print; or a function of your own. */
  openBrowser?: boolean | ((url: URL) => Promise<void>);
  /** Called with the authorization URL, always (print it for SSH users). */
  onAuthorizationUrl?: (url: URL) => void;
  /** Headless: also read a pasted redirect URL (or bare code) from this stream. */
  paste?: { input: NodeJS.ReadableStream };
  logger?: Logger;
}

export function createLoopbackInteraction(options: LoopbackOptions = {}): Interaction {
  const callbackPath = options.callbackPath ?? '/callback';
  const logger = options.logger ?? silentLogger;
  let server: Server | undefined;
  let redirectUri: string | undefined;
  let onCallback: ((url: URL, res: ServerResponse) => void) | undefined;

  async function listen(port: number): Promise<number> {
    const s = createServer((req, res) => handle(req, res));
    s.on('error', () => {});
    s.listen(port, '127.0.0.1');
    await Promise.race([
      once(s, 'listening'),
      once(s, 'error').then(([err]) => {
        throw err;
      }),
    ]);
    server = s;
    return (s.address() as AddressInfo).port;
  }

  function handle(req: IncomingMessage, res: ServerResponse) {
    const host = req.headers.host ?? '';
    const expectedHost = redirectUri ? new URL(redirectUri).host : '';
    if (host !== expectedHost) {
      // A page on another origin reaching this port through DNS rebinding: refuse.
      res.writeHead(400, { 'content-type': 'text/plain' }).end('wrong host');
      return;
    }
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (req.method !== 'GET' || url.pathname !== callbackPath || !onCallback) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    onCallback(url, res);
  }

  return {
    async redirectUri(hint = {}) {
      if (redirectUri) return redirectUri;
      let port: number;
      if (options.port !== undefined) {
        port = await listen(options.port).catch((cause) => {
          throw new ClientError(
            'callback_port_in_use',
            `cannot listen on 127.0.0.1:${options.port} for the login callback (${(cause as Error).message}); free that port or pass another --port`,
            { cause },
          );
        });
      } else {
        port = await (hint.port ? listen(hint.port).catch(() => listen(0)) : listen(0));
        if (hint.port && port !== hint.port)
          logger.info({ was: hint.port, now: port }, 'callback port taken; using another');
      }
      redirectUri = `http://127.0.0.1:${port}${callbackPath}`;
      return redirectUri;
    },

    async authorize(url, signal) {
      if (!redirectUri) throw new Error('redirectUri() must be called before authorize()');
      const expectedState = url.searchParams.get('state');
      options.onAuthorizationUrl?.(url);
      const opener = options.openBrowser ?? true;
      if (opener) {
        const open = typeof opener === 'function' ? opener : (u: URL) => openBrowser(u);
        open(url).catch((err: unknown) =>
          logger.warn({ err: (err as Error).message }, 'could not open a browser; open the URL yourself'),
        );
      }
      return new Promise<URL>((resolve, reject) => {
        const cleanups: Array<() => void> = [];
        const finish = (err: Error | undefined, result?: URL) => {
          for (const c of cleanups) c();
          onCallback = undefined;
          if (err) reject(err);
          else resolve(result!);
        };
        onCallback = (callback, res) => {
          if (callback.searchParams.get('state') !== expectedState) {
            // C20: a callback that is not ours is answered and ignored; the real one may still come.
            page(res, 400, 'This login link is not the one portcullis is waiting for.', false);
            return;
          }
          const failed = callback.searchParams.get('error');
          page(
            res,
            200,
            failed
              ? 'The login did not complete. You can close this tab and return to the terminal.'
              : 'You are logged in. You can close this tab and return to the terminal.',
            !failed,
          );
          finish(undefined, callback);
        };
        const onAbort = () =>
          finish(
            signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError'
              ? new ClientError(
                  'callback_timeout',
                  'no login callback arrived in time; run the command again',
                )
              : new ClientError('aborted', 'login cancelled', { cause: signal.reason }),
          );
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => signal.removeEventListener('abort', onAbort));
        if (options.paste) {
          const rl = createInterface({ input: options.paste.input, terminal: false });
          rl.on('line', (line) => {
            const pasted = parsePasted(line.trim(), redirectUri!, expectedState);
            if (pasted) finish(undefined, pasted);
          });
          cleanups.push(() => rl.close());
        }
      });
    },

    async close() {
      const s = server;
      server = undefined;
      redirectUri = undefined;
      if (s) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}

/** A pasted full redirect URL, or a bare code completed with the expected state. */
export function parsePasted(
  text: string,
  redirectUri: string,
  expectedState: string | null,
): URL | undefined {
  if (!text) return undefined;
  if (/^https?:\/\//i.test(text)) {
    try {
      const url = new URL(text);
      return url.searchParams.has('code') || url.searchParams.has('error') ? url : undefined;
    } catch {
      return undefined;
    }
  }
  if (!/^[\w\-.~+/=]+$/.test(text)) return undefined;
  const url = new URL(redirectUri);
  url.searchParams.set('code', text);
  if (expectedState) url.searchParams.set('state', expectedState);
  return url;
}

function page(res: ServerResponse, status: number, message: string, ok: boolean) {
  const color = ok ? '#1a7f37' : '#cf222e';
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  });
  res.end(`<!doctype html><meta charset="utf-8"><title>portcullis</title>
<body style="font:16px system-ui,sans-serif;display:grid;place-items:center;height:90vh;margin:0;background:#f6f8fa">
<main style="background:#fff;border:1px solid #d0d7de;border-radius:12px;padding:32px 40px;max-width:420px;text-align:center">
<div style="font-size:40px;color:${color}">${ok ? '&#10003;' : '&#10007;'}</div><p>${message}</p></main></body>`);
}
