/**
 * One MCP session backed by one child process speaking newline-delimited JSON-RPC on
 * stdin/stdout (MCP transports §stdio). Routes the child's messages to the client: responses to
 * the POST that asked, related messages onto that POST's SSE stream, the rest onto the session's
 * GET stream (MCP 2025-11-25 transports §Listening for Messages from the Server).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Logger } from '../../logger.js';
import type { ResponseChannel, SseStream } from './channel.js';
import type { AcceptedTypes } from './exchange.js';
import { Exchange } from './exchange.js';
import type { HeaderRecord } from './headers.js';
import {
  asMessage,
  INTERNAL_ERROR,
  INVALID_REQUEST,
  idKey,
  isRequest,
  isResponse,
  type JsonRpcMessage,
  McpHttpError,
  SERVER_ERROR,
} from './jsonrpc.js';
import { LineSplitter } from './ndjson.js';

export interface StdioSessionOptions {
  id: string;
  userId: string;
  command: string[];
  env: Record<string, string>;
  cwd: string | undefined;
  maxLineBytes: number;
  killGraceMs: number;
  idleTimeoutMs: number;
  logger: Logger;
  /** Called once when the child has exited, for whatever reason. */
  onExit(session: StdioSession): void;
  /** Called when the session has been idle for `idleTimeoutMs`. */
  onIdle(session: StdioSession): void;
}

/** Messages for a GET stream that is not open yet; beyond this the oldest are dropped. */
const MAX_BACKLOG = 1000;
/** After the child exits, how long its stdout may take to drain before pending requests fail. */
const STDOUT_DRAIN_MS = 250;
/** One stderr line is logged up to this many characters. */
const MAX_STDERR_LINE = 8192;
/** POSIX: the child leads its own process group, so shutdown reaches its descendants too. */
const GROUP_KILL = process.platform !== 'win32';

export class StdioSession {
  readonly id: string;
  readonly userId: string;
  readonly pid: number;
  private readonly exchanges = new Map<string, Exchange>();
  private readonly progress = new Map<string, Exchange>();
  private readonly active = new Set<Exchange>();
  private getStream: SseStream | undefined;
  private backlog: unknown[] = [];
  private readonly idleTimer: NodeJS.Timeout;
  private exitedFlag = false;
  readonly exited: Promise<void>;

  /** Spawns the child (no shell); rejects if it cannot be started. */
  static start(opts: StdioSessionOptions): Promise<StdioSession> {
    const [file, ...args] = opts.command;
    const child = spawn(file!, args, {
      env: opts.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: GROUP_KILL,
      windowsHide: true,
    });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => {
        child.off('error', reject);
        resolve(new StdioSession(child, opts));
      });
    });
  }

  private constructor(
    private readonly child: ChildProcess,
    private readonly opts: StdioSessionOptions,
  ) {
    this.id = opts.id;
    this.userId = opts.userId;
    this.pid = child.pid!;
    const log = opts.logger;
    const splitter = new LineSplitter(
      opts.maxLineBytes,
      (line) => this.onLine(line),
      (bytes) => {
        log.error(
          { pid: this.pid, bytes, limit: opts.maxLineBytes },
          'MCP server wrote an oversized line; closing its session',
        );
        void this.terminate();
      },
    );
    child.stdout!.on('data', (chunk: Buffer) => splitter.push(chunk));
    child.stderr!.setEncoding('utf8');
    let partial = '';
    child.stderr!.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = (lines.pop() ?? '').slice(0, MAX_STDERR_LINE);
      // Child stderr goes to the log, never to the client.
      for (const line of lines)
        if (line) log.info({ pid: this.pid, stderr: line.slice(0, MAX_STDERR_LINE) }, 'MCP server stderr');
    });
    child.stdin!.on('error', (err) =>
      log.debug({ pid: this.pid, err: err.message }, 'MCP server stdin closed'),
    );
    child.on('error', (err) => log.warn({ pid: this.pid, err: err.message }, 'MCP server process error'));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitedFlag = true; // from now on the session answers 404
        clearTimeout(this.idleTimer);
        if (GROUP_KILL) killGroup(this.pid, 'SIGKILL'); // leave no orphaned descendants
        log.info({ pid: this.pid, code, signal }, 'MCP server process exited');
        // What the child wrote just before exiting may still be in the pipe: read it to the end
        // (bounded, in case a stray descendant holds stdout open) before failing what is left.
        const stdout = child.stdout!;
        const drained =
          stdout.readableEnded || stdout.destroyed
            ? Promise.resolve()
            : once(stdout, 'close').catch(() => {});
        const grace = new Promise<void>((r) => setTimeout(r, STDOUT_DRAIN_MS).unref());
        void Promise.race([drained, grace]).then(() => {
          for (const ex of this.active) ex.fail(INTERNAL_ERROR, 'the MCP server process exited', 502);
          this.active.clear();
          this.getStream?.end();
          opts.onExit(this);
          resolve();
        });
      });
    });
    this.idleTimer = setTimeout(() => this.checkIdle(), opts.idleTimeoutMs);
    this.idleTimer.unref();
  }

  get alive(): boolean {
    return !this.exitedFlag;
  }

  /** Client → child: requests get an exchange; notifications and responses get 202. */
  post(
    messages: JsonRpcMessage[],
    batch: boolean,
    channel: ResponseChannel,
    accept: AcceptedTypes,
    headers: HeaderRecord = {},
  ): void {
    this.idleTimer.refresh();
    const requests = messages.filter(isRequest);
    for (const r of requests) {
      if (this.exchanges.has(idKey(r.id))) {
        throw new McpHttpError(
          400,
          INVALID_REQUEST,
          `request id ${JSON.stringify(r.id)} is already in flight`,
          { id: r.id },
        );
      }
    }
    if (requests.length === 0) {
      this.write(messages);
      channel.empty(202, headers);
      return;
    }
    const ex = new Exchange(
      requests.map((r) => r.id),
      batch,
      channel,
      accept,
      headers,
    );
    for (const r of requests) {
      this.exchanges.set(idKey(r.id), ex);
      const token = (r.params?.['_meta'] as { progressToken?: unknown } | undefined)?.progressToken;
      if (typeof token === 'string' || typeof token === 'number') {
        ex.progressTokens.push(idKey(token));
        this.progress.set(idKey(token), ex);
      }
    }
    this.active.add(ex);
    channel.onClose(() => {
      ex.abandon(); // 2025-11-25: a disconnect is not a cancellation; late responses are dropped
      this.retire(ex);
    });
    this.write(messages);
  }

  /** The session's GET stream for messages unrelated to any POST (one at a time, as the SDK). */
  listen(channel: ResponseChannel): void {
    this.idleTimer.refresh();
    if (this.getStream && !this.getStream.closed) {
      throw new McpHttpError(409, SERVER_ERROR, 'Conflict: only one SSE stream is allowed per session');
    }
    const stream = channel.stream();
    this.getStream = stream;
    channel.onClose(() => {
      if (this.getStream === stream) this.getStream = undefined;
    });
    for (const m of this.backlog.splice(0)) stream.send(m);
  }

  /** Closes stdin, then SIGTERM, then SIGKILL (MCP transports §stdio shutdown); resolves on exit. */
  terminate(): Promise<void> {
    if (this.exitedFlag) return this.exited;
    this.child.stdin!.end();
    const grace = this.opts.killGraceMs;
    const term = setTimeout(() => this.signal('SIGTERM'), grace);
    const kill = setTimeout(() => this.signal('SIGKILL'), 2 * grace);
    void this.exited.then(() => {
      clearTimeout(term);
      clearTimeout(kill);
    });
    return this.exited;
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.exitedFlag) return;
    if (!GROUP_KILL || !killGroup(this.pid, sig)) this.child.kill(sig);
  }

  private checkIdle(): void {
    if (this.exitedFlag) return;
    if (this.active.size > 0) this.idleTimer.refresh();
    else this.opts.onIdle(this);
  }

  private write(messages: JsonRpcMessage[]): void {
    const stdin = this.child.stdin!;
    if (stdin.destroyed || stdin.writableEnded) return;
    for (const m of messages) stdin.write(`${JSON.stringify(m)}\n`);
  }

  private retire(ex: Exchange): void {
    this.active.delete(ex);
    for (const key of ex.keys) if (this.exchanges.get(key) === ex) this.exchanges.delete(key);
    for (const t of ex.progressTokens) if (this.progress.get(t) === ex) this.progress.delete(t);
  }

  private onLine(line: Buffer): void {
    let value: unknown;
    try {
      value = JSON.parse(line.toString('utf8'));
    } catch {
      this.opts.logger.warn(
        { pid: this.pid, bytes: line.length },
        'MCP server wrote a non-JSON line to stdout; ignored',
      );
      return;
    }
    const message = asMessage(value);
    if (!message) {
      this.opts.logger.warn({ pid: this.pid }, 'MCP server wrote a non-JSON-RPC message; ignored');
      return;
    }
    if (isResponse(message)) {
      const ex = message.id === null ? undefined : this.exchanges.get(idKey(message.id));
      if (!ex) return; // its client went away, or it answers nothing we sent
      this.exchanges.delete(idKey(message.id!));
      ex.respond(message);
      if (ex.done) this.retire(ex);
      return;
    }
    if ((message as { method: string }).method === 'notifications/progress') {
      const token = (message as { params?: { progressToken?: unknown } }).params?.progressToken;
      const ex =
        typeof token === 'string' || typeof token === 'number' ? this.progress.get(idKey(token)) : undefined;
      if (ex?.deliver(message)) return;
    }
    this.routeUnrelated(message);
  }

  /** A server request or notification with no known POST: the lone POST in flight, else GET. */
  private routeUnrelated(message: JsonRpcMessage): void {
    if (this.active.size === 1) {
      const [only] = this.active;
      if (only!.deliver(message)) return;
    }
    if (this.getStream && !this.getStream.closed) {
      this.getStream.send(message);
      return;
    }
    for (const ex of this.active) if (ex.deliver(message)) return;
    if (this.backlog.push(message) > MAX_BACKLOG) {
      this.backlog.shift();
      this.opts.logger.warn(
        { pid: this.pid },
        'no SSE stream is open for server messages; dropped the oldest',
      );
    }
  }
}

function killGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch {
    return false; // ESRCH: the group is already gone
  }
}
