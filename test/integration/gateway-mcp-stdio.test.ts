// The gateway's stdio upstream end to end: the SDK's own Client + StreamableHTTPClientTransport →
// a stand-in gateway (fake principal per bearer token) → createStdioUpstream → one child process
// per session running the fixture SDK stdio server (`whoami` answers $MCP_USER).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStdioUpstream, type StdioUpstream } from '../../src/gateway/mcp/stdio-upstream.js';
import {
  eventually,
  fakePrincipal,
  type Harness,
  type HarnessMode,
  processAlive,
  startHarness,
} from '../gateway/mcp/harness.js';

const FIXTURE = [process.execPath, '--import', 'tsx', 'test/fixtures/mcp-stdio-server.ts'];
const principals = {
  'alice-gateway-token': fakePrincipal('alice'),
  'bob-gateway-token': fakePrincipal('bob'),
};

async function connect(url: string, token: string) {
  const client = new Client(
    { name: 'gateway-test', version: '1.0.0' },
    { capabilities: { elicitation: {} } },
  );
  client.setRequestHandler(ElicitRequestSchema, async (req) => ({
    action: 'accept',
    content: { answer: `yes: ${req.params.message}` },
  }));
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

const textOf = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text;

describe.each<HarnessMode>(['node', 'web'])('stdio upstream, %s path', (mode) => {
  let endpoint: StdioUpstream;
  let gateway: Harness;

  beforeAll(async () => {
    endpoint = createStdioUpstream({
      command: FIXTURE,
      env: { MCP_USER: '{{user.id}}' },
      idleTimeoutMs: 60_000,
    });
    gateway = await startHarness(endpoint, principals, mode);
  });
  afterAll(async () => {
    await gateway.stop();
    await endpoint.close();
  });

  it('serves the SDK client from a child process: tools/list, echo, a 1.5 MiB result, progress', async () => {
    const { client, transport } = await connect(gateway.url, 'alice-gateway-token');
    expect(transport.sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 random bits (R18)
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('echo');
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'over stdio' } }))).toBe(
      'over stdio',
    );
    const bytes = 1536 * 1024;
    expect(textOf(await client.callTool({ name: 'big', arguments: { bytes } }))).toHaveLength(bytes);
    const seen: number[] = [];
    const done = await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, {
      onprogress: (p) => seen.push(p.progress),
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(textOf(done)).toBe('done after 3 steps');
    await client.close();
  });

  it("runs the child as the templated user: whoami answers the principal's id", async () => {
    const { client } = await connect(gateway.url, 'bob-gateway-token');
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('bob');
    await client.close();
  });

  it("carries the child's requests to the client and the client's answers back (elicitation)", async () => {
    const { client } = await connect(gateway.url, 'alice-gateway-token');
    const result = await client.callTool({ name: 'ask', arguments: { message: 'proceed?' } });
    expect(JSON.parse(textOf(result))).toEqual({ action: 'accept', content: { answer: 'yes: proceed?' } });
    // Two at once: the child's requests cannot be tied to one POST, so they take the GET stream.
    const both = await Promise.all([
      client.callTool({ name: 'ask', arguments: { message: 'one' } }),
      client.callTool({ name: 'ask', arguments: { message: 'two' } }),
    ]);
    expect(both.map((r) => JSON.parse(textOf(r)).content.answer)).toEqual(['yes: one', 'yes: two']);
    await client.close();
  });

  it('starts one child per user session, and DELETE reaps it', async () => {
    const alice = await connect(gateway.url, 'alice-gateway-token');
    const bob = await connect(gateway.url, 'bob-gateway-token');
    const pids = endpoint.sessions().map((s) => s.pid);
    const mine = endpoint.sessions().filter((s) => s.userId === 'alice' || s.userId === 'bob');
    expect(new Set(mine.map((s) => s.userId))).toEqual(new Set(['alice', 'bob']));
    expect(new Set(pids).size).toBe(pids.length);
    const before = new Set(endpoint.sessions().map((s) => s.pid));
    await alice.transport.terminateSession();
    const reaped = [...before].filter((pid) => !endpoint.sessions().some((s) => s.pid === pid));
    expect(reaped).toHaveLength(1);
    await eventually(() => !processAlive(reaped[0]!), 'the reaped child to exit');
    await alice.client.close();
    await bob.client.close();
  });

  it("answers 404 to alice's session id presented with bob's token (R18)", async () => {
    const { client, transport } = await connect(gateway.url, 'alice-gateway-token');
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: {
        authorization: 'Bearer bob-gateway-token',
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': transport.sessionId!,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ id: 5, error: { code: -32001 } });
    await client.close();
  });
});

describe('stdio upstream lifecycle', () => {
  it('reaps an idle session; its client then gets 404', async () => {
    const endpoint = createStdioUpstream({ command: FIXTURE, idleTimeoutMs: 300 });
    const gateway = await startHarness(endpoint, principals, 'node');
    const { client } = await connect(gateway.url, 'alice-gateway-token');
    const [session] = endpoint.sessions();
    await eventually(() => endpoint.sessions().length === 0, 'the idle session to be reaped');
    await eventually(() => !processAlive(session!.pid), 'the idle child to exit');
    await expect(client.listTools()).rejects.toMatchObject({ code: 404 });
    await client.close();
    await gateway.stop();
    await endpoint.close();
  });

  it('answers 404 for a crashed child, and the SDK client re-initializes on a fresh transport', async () => {
    const endpoint = createStdioUpstream({ command: FIXTURE, env: { MCP_USER: '{{user.id}}' } });
    const gateway = await startHarness(endpoint, principals, 'node');
    const first = await connect(gateway.url, 'alice-gateway-token');
    const [session] = endpoint.sessions();
    process.kill(session!.pid, 'SIGKILL');
    await eventually(() => endpoint.sessions().length === 0, 'the crashed session to be dropped');
    await expect(first.client.callTool({ name: 'whoami', arguments: {} })).rejects.toMatchObject({
      code: 404,
    });
    await first.client.close();
    const second = await connect(gateway.url, 'alice-gateway-token');
    expect(second.transport.sessionId).not.toBe(first.transport.sessionId);
    expect(textOf(await second.client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice');
    await second.client.close();
    await gateway.stop();
    await endpoint.close();
  });

  it('close() stops every child and leaves no process behind', async () => {
    const endpoint = createStdioUpstream({ command: FIXTURE });
    const gateway = await startHarness(endpoint, principals, 'node');
    const clients = [
      await connect(gateway.url, 'alice-gateway-token'),
      await connect(gateway.url, 'bob-gateway-token'),
    ];
    const pids = endpoint.sessions().map((s) => s.pid);
    expect(pids).toHaveLength(2);
    await endpoint.close();
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
    for (const c of clients) await c.client.close();
    await gateway.stop();
  });
});
