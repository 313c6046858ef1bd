/**
 * `portcullis connect`: the process around the bridge. The CLI parses the options
 * (`parseConnectOptions`), builds a logger to stderr or the log file, and calls `startConnect`
 * with `makeFetch`, which returns the client core's AuthFetch for the server. This file owns the
 * process lifecycle: proxy-aware base fetch, SIGTERM/SIGINT, stdin closing, and a prompt exit.
 */
import type { Readable, Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import type { Logger } from '../logger.js';
import { describeError } from '../transport/errors.js';
import type { FetchLike } from '../transport/types.js';
import { runBridge } from './bridge.js';
import type { ConnectOptions } from './cli-options.js';
import { createBaseFetch } from './proxy.js';

export interface ConnectDeps {
  /**
   * The fetch for the MCP server at `url`: the client core's AuthFetch, built on `base.fetch`
   * (which already honours the proxy variables) so discovery and token requests go through the
   * proxy too. Not called when the user passed their own `Authorization` header.
   */
  makeFetch(url: URL, base: { fetch: FetchLike }): FetchLike | Promise<FetchLike>;
  /** pino-shaped; must write to stderr or a file, never stdout (C42). */
  logger: Logger;
  stdin?: Readable;
  stdout?: Writable;
  env?: NodeJS.ProcessEnv;
  /** Ends the bridge like stdin closing does; give the CLI's own signal if it handles SIGINT/SIGTERM. */
  signal?: AbortSignal;
  /** Install SIGTERM/SIGINT/SIGHUP handlers (default: true when no `signal` is given). */
  handleSignals?: boolean;
  /** Hard deadline between the end of the bridge and `process.exit` (default 800 ms; 0 disables). */
  exitDeadlineMs?: number;
  /** Keep V8's young generation at its initial size (default true); see leanHeap(). */
  leanHeap?: boolean;
}

/** Exit codes: 0 the host went away or a signal arrived; 1 the bridge could not start. */
export async function startConnect(options: ConnectOptions, deps: ConnectDeps): Promise<number> {
  const { logger } = deps;
  const env = deps.env ?? process.env;
  if (deps.leanHeap !== false) leanHeap();
  const controller = new AbortController();
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal received; ending the session');
    controller.abort();
  };
  const handleSignals = deps.handleSignals ?? deps.signal === undefined;
  if (handleSignals) for (const s of signals) process.once(s, onSignal);
  const external = deps.signal;
  const onExternal = () => controller.abort();
  if (external?.aborted) controller.abort();
  external?.addEventListener('abort', onExternal, { once: true });

  try {
    const base = await createBaseFetch(env, logger);
    // A static Authorization header (mcp-remote's documented way around OAuth) means: no OAuth here.
    const staticAuth = Object.keys(options.headers).some((h) => h.toLowerCase() === 'authorization');
    if (staticAuth) logger.info('an Authorization header was given; OAuth is not used for this server');
    const fetch = staticAuth ? base : await deps.makeFetch(options.url, { fetch: base });
    logger.info({ url: options.url.href, transport: options.transport }, 'bridging stdio to the MCP server');
    const { reason } = await runBridge({
      url: options.url,
      fetch,
      stdin: deps.stdin ?? process.stdin,
      stdout: deps.stdout ?? process.stdout,
      transport: options.transport,
      headers: options.headers,
      logger,
      signal: controller.signal,
      allowHttp: options.allowHttp,
      maxMessageBytes: options.maxMessageBytes,
    });
    logger.info({ reason }, 'bridge ended');
    return 0;
  } catch (error) {
    logger.error(
      { err: describeError(error) },
      `portcullis connect could not start: ${describeError(error)}`,
    );
    return 1;
  } finally {
    for (const s of signals) process.off(s, onSignal);
    external?.removeEventListener('abort', onExternal);
    armExitDeadline(deps.exitDeadlineMs ?? 800);
  }
}

/**
 * Keep-alive sockets and a stray timer must not keep a bridge alive after its host left: if the
 * event loop has not drained by the deadline, exit. The timer is unref'd, so a clean exit is not delayed.
 */
function armExitDeadline(ms: number): void {
  if (ms <= 0) return;
  setTimeout(() => process.exit(process.exitCode ?? 0), ms).unref();
}

/**
 * A bridge is a long-lived process that mostly moves short-lived strings. Left alone, V8 grows its
 * young generation to 3 × 16 MB under bursts (a 256 KiB result, 16 calls in flight) and keeps it;
 * pinned at its initial size, scavenges run more often but stay cheap, and the resident set stays
 * about half as large. Set at run time (the process is ours alone); an unknown flag only prints
 * a line on stderr. See docs/decisions/0030-bridge-transport.md.
 */
function leanHeap(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--optimize-for-size');
}
