// The SDK's Client over stdio → portcullis connect (a real child process) → a real SDK
// Streamable HTTP server. Plain fetch here; the OAuth variants ride on the same bridge.
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectHost, type Host, initializeRequest, spawnRaw } from '../bridge/harness.js';
import { type McpTestServer, startMcpServer } from '../fixtures/mcp-server.js';

let server: McpTestServer;
let host: Host | undefined;

beforeEach(async () => {
  server = await startMcpServer({ requireAuth: false });
});
afterEach(async () => {
  await host?.close();
  host = undefined;
  await server.stop();
});

const textOf = (result: unknown) => (result as { content: { text: string }[] }).content[0]?.text;

describe('portcullis connect, driven by the SDK client over stdio', () => {
  it('carries tools, resources and prompts', async () => {
    host = await connectHost(server.url);
    const { tools } = await host.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'add', 'big', 'ask', 'sample']));
    expect(
      textOf(await host.client.callTool({ name: 'echo', arguments: { text: 'through the bridge' } })),
    ).toBe('through the bridge');
    const { resources } = await host.client.listResources();
    expect(resources.map((r) => r.uri)).toContain('fixture://info');
    const read = await host.client.readResource({ uri: 'fixture://info' });
    expect(read.contents[0]).toMatchObject({ text: 'portcullis fixture MCP server' });
    const { prompts } = await host.client.listPrompts();
    expect(prompts.map((p) => p.name)).toContain('greet');
    const prompt = await host.client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
    expect(prompt.messages[0]?.content).toEqual({ type: 'text', text: 'Hello, Ada!' });
    expect(host.errors).toEqual([]);
  });

  it('delivers progress notifications, in order, before the response they belong to', async () => {
    // Raw pipes: the SDK client drops progress that shares a read with its response (a host-side race
    // in Protocol: responses are handled synchronously, notifications a microtask later).
    const bridge = spawnRaw(server.url);
    bridge.send(initializeRequest());
    await bridge.next((m) => m['id'] === 1);
    bridge.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const call = { name: 'progress', arguments: { steps: 3 }, _meta: { progressToken: 'p-1' } };
    bridge.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: call });
    await bridge.next((m) => m['id'] === 2);
    const after = bridge.lines.slice(1).map((l) => JSON.parse(l));
    expect(after.map((m) => m.method ?? `response ${m.id}`)).toEqual([
      'notifications/progress',
      'notifications/progress',
      'notifications/progress',
      'response 2',
    ]);
    expect(after.slice(0, 3).map((m) => [m.params.progressToken, m.params.progress])).toEqual([
      ['p-1', 1],
      ['p-1', 2],
      ['p-1', 3],
    ]);
    bridge.child.stdin.end();
    await bridge.exited;
  });

  it('delivers list_changed from the GET stream', async () => {
    let resolveChanged!: () => void;
    const listChanged = new Promise<void>((resolve) => {
      resolveChanged = resolve;
    });
    host = await connectHost(server.url, {
      setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, async () => resolveChanged()),
    });
    await server.waitForRequest((r) => r.method === 'GET' && r.status === 200);
    await server.notifyListChanged();
    await listChanged;
    expect(host.errors).toEqual([]);
  });

  it('round-trips a server → client request (elicitation) through the host', async () => {
    host = await connectHost(server.url, {
      capabilities: { elicitation: {} },
      setup: (c) =>
        c.setRequestHandler(ElicitRequestSchema, async (req) => ({
          action: 'accept',
          content: { answer: `you asked: ${req.params.message}` },
        })),
    });
    const result = await host.client.callTool({ name: 'ask', arguments: { message: 'favourite port?' } });
    expect(JSON.parse(textOf(result) ?? '')).toEqual({
      action: 'accept',
      content: { answer: 'you asked: favourite port?' },
    });
  });

  it('round-trips sampling through the host', async () => {
    host = await connectHost(server.url, {
      capabilities: { sampling: {} },
      setup: (c) =>
        c.setRequestHandler(CreateMessageRequestSchema, async () => ({
          role: 'assistant',
          model: 'test-model',
          content: { type: 'text', text: 'sampled!' },
        })),
    });
    expect(
      textOf(await host.client.callTool({ name: 'sample', arguments: { prompt: 'say something' } })),
    ).toBe('sampled!');
  });

  it('carries a result larger than 1 MiB intact', async () => {
    host = await connectHost(server.url);
    const bytes = 1536 * 1024;
    const text = textOf(await host.client.callTool({ name: 'big', arguments: { bytes } }));
    expect(text?.length).toBe(bytes);
    expect(text).toBe('x'.repeat(bytes));
  });

  it('re-initializes when the server restarts mid-session; the host never sees an error', async () => {
    host = await connectHost(server.url, { flags: ['--log-level', 'info'] });
    expect(textOf(await host.client.callTool({ name: 'echo', arguments: { text: 'before' } }))).toBe(
      'before',
    );
    const [before] = server.sessionIds;
    await server.restart();
    expect(textOf(await host.client.callTool({ name: 'echo', arguments: { text: 'after' } }))).toBe('after');
    expect(server.sessionIds).toHaveLength(1);
    expect(server.sessionIds[0]).not.toBe(before);
    // The replayed initialize carried the host's own clientInfo and was followed by initialized.
    const inits = server.requests.filter((r) => r.rpcMethods.includes('initialize'));
    expect(inits).toHaveLength(2);
    expect(server.requests.filter((r) => r.rpcMethods.includes('notifications/initialized'))).toHaveLength(2);
    expect(host.errors).toEqual([]);
    expect(host.stderr()).toMatch(/re-initialized the MCP session/);
  });
});
