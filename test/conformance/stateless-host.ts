/**
 * A minimal 2026-07-28 (stateless) MCP host on portcullis's own Streamable HTTP transport and the
 * auth-aware fetch: every request carries its `_meta` (protocol version, client info and
 * capabilities). For the auth scenarios whose mock server speaks only that revision
 * (`auth/authorization-server-migration`), which the SDK 1.32 client cannot speak.
 */
import type { JsonRpcMessage } from '../../src/transport/jsonrpc.js';
import { createStreamableHttpClient } from '../../src/transport/streamable-http.js';

const VERSION = '2026-07-28';
const clientInfo = { name: 'portcullis-conformance', version: '1.0.0' };

export async function runStatelessHost(serverUrl: string, fetch: typeof globalThis.fetch): Promise<void> {
  const transport = createStreamableHttpClient({ url: serverUrl, fetch });
  const answers = new Map<number, JsonRpcMessage>();
  transport.onmessage = (message) => {
    if ('id' in message && typeof message.id === 'number' && !('method' in message))
      answers.set(message.id, message);
  };
  let nextId = 1;
  const request = async (method: string, params: Record<string, unknown> = {}) => {
    const id = nextId++;
    const _meta = {
      'io.modelcontextprotocol/protocolVersion': VERSION,
      'io.modelcontextprotocol/clientInfo': clientInfo,
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    await transport.send({ jsonrpc: '2.0', id, method, params: { ...params, _meta } } as JsonRpcMessage);
    const answer = answers.get(id) as {
      result?: Record<string, unknown>;
      error?: { code: number; message: string };
    };
    if (!answer) throw new Error(`${method}: no response`);
    if (answer.error) throw new Error(`${method}: ${answer.error.code} ${answer.error.message}`);
    return answer.result ?? {};
  };
  try {
    await request('server/discover');
    const { tools } = (await request('tools/list')) as { tools: Array<{ name: string }> };
    const tool = tools.find((t) => t.name === 'test-tool') ?? tools[0];
    if (tool) await request('tools/call', { name: tool.name, arguments: {} });
    // A second authenticated request, after which a server may have moved to another AS.
    await request('tools/list');
  } finally {
    await transport.close();
  }
}
