// The stdio upstream's edges, calling the endpoint directly with fetch `Request`s against a small
// plain-JS child (test/gateway/mcp/stdio-child.mjs) that misbehaves on request, and the upstream
// token file (`{{upstream.access_token_file}}`) that child reads.
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStdioUpstream, type StdioUpstreamOptions } from '../../src/gateway/mcp/stdio-upstream.js';
import type { McpPrincipal } from '../../src/gateway/mcp/types.js';
import type { Logger } from '../../src/logger.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { eventually, fakePrincipal } from '../gateway/mcp/harness.js';

const CHILD = [process.execPath, 'test/gateway/mcp/stdio-child.mjs'];
const alice = fakePrincipal('alice');

interface LogEntry {
  level: string;
  obj: object | string;
  msg: string | undefined;
}

function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: string) => (obj: object | string, msg?: string) =>
    void entries.push({ level, obj, msg });
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const endpoints: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const e of endpoints.splice(0)) await e.close();
});

function upstream(opts: Partial<StdioUpstreamOptions> = {}) {
  const logger = recordingLogger();
  const endpoint = createStdioUpstream({ command: CHILD, logger, ...opts });
  endpoints.push(endpoint);
  return { endpoint, logger };
}

const ACCEPT_BOTH = 'application/json, text/event-stream';

function post(body: unknown, headers: Record<string, string> = {}): Request {
  return new Request('http://gateway.test/mcp', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT_BOTH, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const initialize = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};
const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

async function open(endpoint: ReturnType<typeof upstream>['endpoint'], principal: McpPrincipal = alice) {
  const res = await endpoint.handle(post(initialize), principal);
  expect(res.status).toBe(200);
  const sessionId = res.headers.get('mcp-session-id')!;
  expect(await res.json()).toMatchObject({ id: 0, result: { serverInfo: { name: 'child' } } });
  const headers = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
  const ack = await endpoint.handle(
    post({ jsonrpc: '2.0', method: 'notifications/initialized' }, headers),
    principal,
  );
  expect(ack.status).toBe(202); // MCP transports: an accepted notification gets 202, no body
  return headers;
}

describe('stdio child output', () => {
  it("logs the child's stderr and never sends it to the client", async () => {
    const { endpoint, logger } = upstream();
    const headers = await open(endpoint);
    const res = await endpoint.handle(post(call(1, 'stderr'), headers), alice);
    const body = await res.text();
    expect(body).toContain('wrote to stderr');
    expect(body).not.toContain('secret diagnostics');
    const logged = () => logger.entries.find((e) => JSON.stringify(e.obj).includes('secret diagnostics'));
    for (let i = 0; i < 100 && !logged(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(logged()?.msg).toBe('MCP server stderr');
  });

  it('skips a non-JSON stdout line with a warning and keeps the session', async () => {
    const { endpoint, logger } = upstream();
    const headers = await open(endpoint);
    const res = await endpoint.handle(post(call(1, 'noise'), headers), alice);
    expect(await res.json()).toMatchObject({ id: 1, result: { content: [{ text: 'still alive' }] } });
    expect(logger.entries.some((e) => e.level === 'warn' && /non-JSON line/.test(e.msg ?? ''))).toBe(true);
  });

  it('closes the session when the child writes a line over the limit, with a clear log', async () => {
    const { endpoint, logger } = upstream({ maxLineBytes: 1024 });
    const headers = await open(endpoint);
    const res = await endpoint.handle(post(call(1, 'big', { bytes: 4096 }), headers), alice);
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ id: 1, error: { code: -32603 } });
    expect(logger.entries.some((e) => e.level === 'error' && /oversized line/.test(e.msg ?? ''))).toBe(true);
    expect((await endpoint.handle(post(call(2, 'env'), headers), alice)).status).toBe(404);
  });

  it('answers a request in flight with 502 when the child exits, then 404 (T4)', async () => {
    const { endpoint } = upstream();
    const headers = await open(endpoint);
    const res = await endpoint.handle(post(call(1, 'exit'), headers), alice);
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ id: 1, error: { message: 'the MCP server process exited' } });
    expect((await endpoint.handle(post(call(2, 'env'), headers), alice)).status).toBe(404);
  });
});

describe('stdio child exit', () => {
  it('delivers the answer a child wrote just before exiting, then answers 404', async () => {
    const { endpoint } = upstream();
    const headers = await open(endpoint);
    const res = await endpoint.handle(post(call(1, 'last-words'), headers), alice);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 1, result: { content: [{ text: 'answered, then gone' }] } });
    for (let i = 0; i < 100 && endpoint.sessions().length > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect((await endpoint.handle(post(call(2, 'env'), headers), alice)).status).toBe(404);
  });
});

describe('stdio child environment', () => {
  it("passes templated identity and a minimal environment, not the gateway's secrets", async () => {
    process.env['GATEWAY_SECRET'] = 'do-not-leak';
    try {
      const { endpoint } = upstream({ env: { MCP_USER: '{{user.id}}' } });
      const headers = await open(endpoint);
      const res = await endpoint.handle(post(call(1, 'env'), headers), alice);
      const { result } = (await res.json()) as { result: { content: { text: string }[] } };
      expect(JSON.parse(result.content[0]!.text)).toEqual({ user: 'alice', secret: null });
    } finally {
      delete process.env['GATEWAY_SECRET'];
    }
  });

  it('answers 502 when the command cannot be started', async () => {
    const { endpoint, logger } = upstream({ command: ['/nonexistent/mcp-server'] });
    const res = await endpoint.handle(post(initialize), alice);
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ id: 0, error: { code: -32603 } });
    expect(logger.entries.some((e) => e.level === 'error')).toBe(true);
  });
});

describe('stdio session rules', () => {
  it('requires a session id (400) and knows only its own, per user (404)', async () => {
    const { endpoint } = upstream();
    const headers = await open(endpoint);
    expect((await endpoint.handle(post(call(1, 'env')), alice)).status).toBe(400);
    const unknown = { ...headers, 'mcp-session-id': 'A'.repeat(43) };
    expect((await endpoint.handle(post(call(1, 'env'), unknown), alice)).status).toBe(404);
    const malformed = { ...headers, 'mcp-session-id': `bob:${headers['mcp-session-id']}` };
    expect((await endpoint.handle(post(call(1, 'env'), malformed), alice)).status).toBe(404);
    expect((await endpoint.handle(post(call(1, 'env'), headers), fakePrincipal('bob'))).status).toBe(404);
  });

  it('answers 2026-07-28 requests with UnsupportedProtocolVersionError so clients fall back to initialize', async () => {
    const { endpoint } = upstream();
    const res = await endpoint.handle(
      post(call(4, 'env'), {
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'env',
      }),
      alice,
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: {
        code: -32022,
        data: {
          supported: ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'],
          requested: '2026-07-28',
        },
      },
    });
    const unknown = await endpoint.handle(post(initialize, { 'mcp-protocol-version': '1999-01-01' }), alice);
    expect(unknown.status).toBe(400);
  });

  it('refuses initialize batched with anything else', async () => {
    const { endpoint } = upstream();
    const res = await endpoint.handle(
      post([initialize, { jsonrpc: '2.0', method: 'notifications/initialized' }]),
      alice,
    );
    expect(res.status).toBe(400);
    expect(endpoint.sessions()).toEqual([]);
  });

  it('keeps one GET stream per session (409 for a second) and wants text/event-stream (406)', async () => {
    const { endpoint } = upstream();
    const headers = await open(endpoint);
    const get = (accept: string) =>
      endpoint.handle(new Request('http://gateway.test/mcp', { headers: { ...headers, accept } }), alice);
    expect((await get('application/json')).status).toBe(406);
    const first = await get('text/event-stream');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/event-stream');
    expect((await get('text/event-stream')).status).toBe(409);
    await first.body!.cancel();
    const again = await get('text/event-stream');
    expect(again.status).toBe(200);
    await again.body!.cancel();
  });

  it('answers JSON when it can, and SSE once a message must precede the response', async () => {
    const { endpoint } = upstream();
    const headers = await open(endpoint);
    const jsonOnly = await endpoint.handle(
      post(call(1, 'notify'), { ...headers, accept: 'application/json' }),
      alice,
    );
    expect(jsonOnly.headers.get('content-type')).toMatch(/application\/json/);
    expect(await jsonOnly.json()).toMatchObject({ id: 1, result: { content: [{ text: 'notified' }] } });
    const streamed = await endpoint.handle(post(call(2, 'notify'), headers), alice);
    expect(streamed.headers.get('content-type')).toBe('text/event-stream');
    const events = (await streamed.text()).split('\n\n').filter(Boolean);
    expect(events).toHaveLength(2);
    expect(events[0]).toContain('notifications/message');
    expect(events[1]).toContain('"id":2');
    const plain = await endpoint.handle(post(call(3, 'env'), headers), alice);
    expect(plain.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('caps sessions overall (503) and per user (429)', async () => {
    const { endpoint } = upstream({ maxSessions: 2, maxSessionsPerUser: 1 });
    await open(endpoint);
    expect((await endpoint.handle(post(initialize), alice)).status).toBe(429);
    await open(endpoint, fakePrincipal('bob'));
    expect((await endpoint.handle(post(initialize), fakePrincipal('carol'))).status).toBe(503);
  });

  it('reaps the child on DELETE and refuses requests after close()', async () => {
    const { endpoint } = upstream();
    const headers = await open(endpoint);
    const [session] = endpoint.sessions();
    const del = await endpoint.handle(
      new Request('http://gateway.test/mcp', { method: 'DELETE', headers }),
      alice,
    );
    expect(del.status).toBe(200);
    expect(endpoint.sessions()).toEqual([]);
    expect((await endpoint.handle(post(call(1, 'env'), headers), alice)).status).toBe(404);
    await endpoint.close();
    expect(() => process.kill(session!.pid, 0)).toThrow();
    expect((await endpoint.handle(post(initialize), alice)).status).toBe(503);
  });
});

/** Alice, whose upstream token the test sets (a string, '' for signed out, or an Error to throw). */
function rotatingPrincipal(initial: string) {
  const state: { token: string | Error; reads: number } = { token: initial, reads: 0 };
  const principal: McpPrincipal = {
    ...alice,
    upstreamAccessToken: async () => {
      state.reads++;
      if (state.token instanceof Error) throw state.token;
      return state.token || undefined;
    },
  };
  return { principal, state };
}

interface TokenView {
  file: string | null;
  fromFile: string | null;
  token: string | null;
}

async function readToken(
  endpoint: ReturnType<typeof upstream>['endpoint'],
  headers: Record<string, string>,
  principal: McpPrincipal,
  id: number,
): Promise<TokenView> {
  const res = await endpoint.handle(post(call(id, 'token'), headers), principal);
  expect(res.status).toBe(200);
  const { result } = (await res.json()) as { result: { content: { text: string }[] } };
  return JSON.parse(result.content[0]!.text) as TokenView;
}

const FILE_ENV = { MCP_TOKEN_FILE: '{{upstream.access_token_file}}' };
const POSIX = process.platform !== 'win32';

describe('stdio upstream token file', () => {
  // os.tmpdir() follows TMPDIR: token directories land here, where the test can count them.
  let tmp: string;
  const savedTmpdir = process.env['TMPDIR'];
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'portcullis-test-'));
    process.env['TMPDIR'] = tmp;
  });
  afterAll(async () => {
    if (savedTmpdir === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = savedTmpdir;
    await rm(tmp, { recursive: true, force: true });
  });
  const tokenDirs = () => readdirSync(tmp).filter((n) => n.startsWith('portcullis-token-'));

  it('gives the child the path of a private file holding the token, rewritten when it changes', async () => {
    const { endpoint, logger } = upstream({ env: FILE_ENV });
    const { principal, state } = rotatingPrincipal('token-1');
    const headers = await open(endpoint, principal);
    const first = await readToken(endpoint, headers, principal, 1);
    expect(first).toMatchObject({ fromFile: 'token-1', token: null });
    const file = first.file!;
    expect(dirname(dirname(file))).toBe(tmp);
    if (POSIX) {
      expect((await stat(dirname(file))).mode & 0o777).toBe(0o700);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    }
    const written = await stat(file);

    // Unchanged: every request asks for the token again, and the file is left as it is.
    const reads = state.reads;
    expect((await readToken(endpoint, headers, principal, 2)).fromFile).toBe('token-1');
    expect(state.reads).toBeGreaterThan(reads);
    const same = await stat(file);
    expect([same.ino, same.mtimeMs]).toEqual([written.ino, written.mtimeMs]);

    // Refreshed at the IdP: the next request rewrites the file before the child sees it.
    state.token = 'token-2';
    expect(await readToken(endpoint, headers, principal, 3)).toEqual({
      file,
      fromFile: 'token-2',
      token: null,
    });
    const rewritten = await stat(file);
    expect(rewritten.ino).not.toBe(written.ino); // renamed over, not written in place
    if (POSIX) expect(rewritten.mode & 0o777).toBe(0o600);
    expect(await readdir(dirname(file))).toEqual(['access_token']);

    // The GET stream refreshes it too.
    state.token = 'token-3';
    const get = await endpoint.handle(
      new Request('http://gateway.test/mcp', { headers: { ...headers, accept: 'text/event-stream' } }),
      principal,
    );
    expect(get.status).toBe(200);
    await get.body!.cancel();
    expect(await readFile(file, 'utf8')).toBe('token-3');
    expect(JSON.stringify(logger.entries)).not.toMatch(/token-[123]/);
  });

  it('keeps the previous token and serves the request when the token cannot be had later', async () => {
    const { endpoint, logger } = upstream({ env: FILE_ENV });
    const { principal, state } = rotatingPrincipal('token-1');
    const headers = await open(endpoint, principal);
    state.token = new Error('the IdP is unreachable');
    expect((await readToken(endpoint, headers, principal, 1)).fromFile).toBe('token-1');
    state.token = ''; // signed out at the IdP
    expect((await readToken(endpoint, headers, principal, 2)).fromFile).toBe('token-1');
    const warnings = logger.entries.filter(
      (e) => e.level === 'warn' && /could not refresh the upstream token file/.test(e.msg ?? ''),
    );
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(logger.entries)).not.toContain('token-1');
  });

  it('removes the directory when the session ends: DELETE, exit, crash, idle reap, close()', async () => {
    const { endpoint } = upstream({ env: FILE_ENV });
    const session = async (id: number) => {
      const headers = await open(endpoint);
      const dir = dirname((await readToken(endpoint, headers, alice, id)).file!);
      expect(existsSync(dir)).toBe(true);
      const pid = endpoint.sessions().at(-1)!.pid;
      return { headers, dir, pid };
    };

    const deleted = await session(1);
    const del = new Request('http://gateway.test/mcp', { method: 'DELETE', headers: deleted.headers });
    expect((await endpoint.handle(del, alice)).status).toBe(200);
    await eventually(() => !existsSync(deleted.dir), 'the token directory to go after DELETE');

    const exited = await session(2);
    expect((await endpoint.handle(post(call(3, 'exit'), exited.headers), alice)).status).toBe(502);
    await eventually(() => !existsSync(exited.dir), 'the token directory to go after the child exits');

    const crashed = await session(4);
    process.kill(crashed.pid, 'SIGKILL');
    await eventually(() => !existsSync(crashed.dir), 'the token directory to go after a crash');

    const idle = upstream({ env: FILE_ENV, idleTimeoutMs: 200 }).endpoint;
    const idleHeaders = await open(idle);
    const idleDir = dirname((await readToken(idle, idleHeaders, alice, 5)).file!);
    await eventually(() => !existsSync(idleDir), 'the token directory to go after the idle reap');

    const open1 = await session(6);
    const open2 = await session(7);
    await endpoint.close();
    expect(existsSync(open1.dir)).toBe(false);
    expect(existsSync(open2.dir)).toBe(false);
    expect(tokenDirs()).toEqual([]);
  });

  it('leaves no directory behind when a session cannot start, and wants a token to start one', async () => {
    const { endpoint } = upstream({ env: FILE_ENV, command: ['/nonexistent/mcp-server'] });
    expect((await endpoint.handle(post(initialize), alice)).status).toBe(502);
    await eventually(() => tokenDirs().length === 0, 'the unused token directory to go');
    await endpoint.close();
    expect(tokenDirs()).toEqual([]);

    const signedOut = fakePrincipal('alice', { upstreamToken: '' });
    const working = upstream({ env: FILE_ENV }).endpoint;
    const err = await working.handle(post(initialize), signedOut).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthError); // the gateway's renderer turns it into a 401 challenge
    expect((err as OAuthError).error).toBe('invalid_token');
    expect(working.sessions()).toEqual([]);
    expect(tokenDirs()).toEqual([]);
  });

  it('changes nothing for templates without the file: no file, and the token fixed at spawn', async () => {
    const plain = rotatingPrincipal('token-1');
    const { endpoint } = upstream({ env: { MCP_USER: '{{user.id}}' } });
    const headers = await open(endpoint, plain.principal);
    expect(await readToken(endpoint, headers, plain.principal, 1)).toEqual({
      file: null,
      fromFile: null,
      token: null,
    });
    expect(plain.state.reads).toBe(0);

    const fixed = rotatingPrincipal('token-1');
    const old = upstream({ env: { MCP_TOKEN: '{{upstream.access_token}}' } }).endpoint;
    const oldHeaders = await open(old, fixed.principal);
    expect((await readToken(old, oldHeaders, fixed.principal, 1)).token).toBe('token-1');
    fixed.state.token = 'token-2';
    expect((await readToken(old, oldHeaders, fixed.principal, 2)).token).toBe('token-1');
    expect(fixed.state.reads).toBe(1); // at spawn only
    expect(tokenDirs()).toEqual([]);
  });

  it('still rejects an unknown placeholder when configured', () => {
    expect(() => upstream({ env: { F: '{{upstream.access_token_file_path}}' } })).toThrow(
      /unknown placeholder/,
    );
  });
});
