// Measurements for the bridge benchmark. Every target is driven by the same host: the SDK's
// Client, over stdio for a bridge (a real child process) or over HTTP for the direct floor.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface Target {
  name: string;
  /** A stdio bridge to spawn, or undefined for the direct HTTP connection. */
  spawn?: { command: string; args: (url: string) => string[]; env?: Record<string, string> };
}

export interface Connection {
  client: Client;
  pid: number | undefined;
  close(): Promise<void>;
}

export async function connect(target: Target, url: string): Promise<Connection> {
  const client = new Client({ name: 'bench-host', version: '1.0.0' }, { capabilities: {} });
  if (!target.spawn) {
    const transport = new StreamableHTTPClientTransport(new URL(url));
    await client.connect(transport);
    return {
      client,
      pid: undefined,
      close: async () => {
        await transport.terminateSession().catch(() => {});
        await client.close();
      },
    };
  }
  const transport = new StdioClientTransport({
    command: target.spawn.command,
    args: target.spawn.args(url),
    env: { ...(process.env as Record<string, string>), ...target.spawn.env },
    stderr: process.env.BENCH_STDERR ? 'inherit' : 'ignore',
  });
  await client.connect(transport);
  return { client, pid: transport.pid ?? undefined, close: () => client.close() };
}

/** Spawn (or connect) to a first tools/list answer, in ms; the connection is closed after. */
export async function coldStart(
  target: Target,
  url: string,
): Promise<{ ms: number; rssAfterStart?: number }> {
  const t0 = performance.now();
  const c = await connect(target, url);
  await c.client.listTools();
  const ms = performance.now() - t0;
  const rssAfterStart = c.pid ? peakRss(c.pid) : undefined;
  await c.close();
  return { ms, ...(rssAfterStart !== undefined ? { rssAfterStart } : {}) };
}

const echo = (client: Client, text: string) => client.callTool({ name: 'echo', arguments: { text } });

/** Sequential echo calls: per-call latency in µs. */
export async function latency(client: Client, calls: number, warmup = 200): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await echo(client, `w${i}`);
  const out: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await echo(client, `c${i}`);
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

/** `concurrency` calls always in flight until `total` are done: calls per second. */
export async function throughput(client: Client, concurrency: number, total: number): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      await echo(client, 'load');
    }
  };
  await Promise.all(Array.from({ length: 16 }, () => echo(client, 'warm')));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return total / ((performance.now() - t0) / 1000);
}

/** Sequential calls returning `bytes` of text: per-call ms. */
export async function bigResults(client: Client, bytes: number, runs: number): Promise<number[]> {
  await client.callTool({ name: 'big', arguments: { bytes } });
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = (await client.callTool({ name: 'big', arguments: { bytes } })) as {
      content: { text: string }[];
    };
    out.push(performance.now() - t0);
    if (r.content[0]?.text.length !== bytes) throw new Error('the big result arrived truncated');
  }
  return out;
}

/** Peak resident set of a live process (Linux VmHWM), in bytes. */
export function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

export const median = (xs: number[]) => quantile(xs, 0.5);

export function sizeOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** Installed packages under a node_modules, nested ones included. */
export function countPackages(nodeModules: string): number {
  let n = 0;
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      if (name.startsWith('@')) {
        walk(join(dir, name));
        continue;
      }
      n++;
      walk(join(dir, name, 'node_modules'));
    }
  };
  walk(nodeModules);
  return n;
}

export function npm(args: string[], cwd: string): string {
  return execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
