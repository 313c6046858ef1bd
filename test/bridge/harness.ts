// Spawning the bridge as a host would: a real child process on stdio, through the SDK's own
// StdioClientTransport, or with raw pipes to look at every byte on stdout.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, type ClientOptions } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = 'test/bridge/dev-entry.ts';

export function bridgeArgs(url: string, flags: string[] = []): string[] {
  return ['--import', 'tsx', ENTRY, url, ...flags];
}

export interface Host {
  client: Client;
  transport: StdioClientTransport;
  /** Errors the SDK client reported, e.g. a stdout line that was not JSON-RPC. */
  errors: Error[];
  stderr(): string;
  close(): Promise<void>;
}

/** The SDK's Client over StdioClientTransport, spawning the bridge. */
export async function connectHost(
  url: string,
  opts: {
    flags?: string[];
    capabilities?: ClientOptions['capabilities'];
    env?: Record<string, string>;
    setup?: (c: Client) => void;
  } = {},
): Promise<Host> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: bridgeArgs(url, opts.flags),
    cwd: REPO,
    stderr: 'pipe',
    env: { ...(process.env as Record<string, string>), ...opts.env },
  });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const client = new Client(
    { name: 'portcullis-test-host', version: '1.0.0' },
    { capabilities: opts.capabilities ?? {} },
  );
  const errors: Error[] = [];
  client.onerror = (e) => errors.push(e);
  opts.setup?.(client);
  await client.connect(transport);
  return { client, transport, errors, stderr: () => stderr, close: () => client.close() };
}

export interface RawBridge {
  child: ChildProcessWithoutNullStreams;
  /** Every stdout line so far, unparsed. */
  lines: string[];
  stderr(): string;
  send(message: unknown): void;
  /** Resolves with the first stdout line (parsed) matching `predicate`. */
  next(predicate: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The bridge on raw pipes. */
export function spawnRaw(url: string, flags: string[] = [], env: Record<string, string> = {}): RawBridge {
  const child = spawn(process.execPath, bridgeArgs(url, flags), {
    cwd: REPO,
    env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  let buffer = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl = buffer.indexOf('\n');
    while (nl !== -1) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
    }
    for (const w of waiters) w();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    stderr: () => stderr,
    send: (m) => child.stdin.write(typeof m === 'string' ? m : `${JSON.stringify(m)}\n`),
    next: (predicate) =>
      new Promise((resolve) => {
        const check = () => {
          for (const line of lines) {
            try {
              const m = JSON.parse(line) as Record<string, unknown>;
              if (predicate(m)) {
                waiters.delete(check);
                resolve(m);
                return;
              }
            } catch {
              // not JSON: the test asserting stdout purity will say so
            }
          }
        };
        waiters.add(check);
        check();
      }),
    exited,
  };
}

/** Rejects if `promise` has not settled within `ms` (a bound the spec or issue sets, not a benchmark). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

export const initializeRequest = (id: number | string = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw-host', version: '1' } },
});
