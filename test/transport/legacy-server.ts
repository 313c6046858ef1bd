// A real 2024-11-05 HTTP+SSE MCP server (the SDK's deprecated SSEServerTransport) with the fixture
// tools, on 127.0.0.1:0: GET /sse opens the stream, POST /messages?sessionId=… carries messages,
// and a POST to /sse gets 404 as it does from the express apps such servers usually are.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { createFixtureMcpServer } from '../fixtures/mcp-tools.js';

export interface LegacyServer {
  /** The SSE URL a user would configure: `http://127.0.0.1:<port>/sse`. */
  url: string;
  /** Drops every session (as a restart would): old `sessionId`s get 404. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startLegacyServer(): Promise<LegacyServer> {
  const sessions = new Map<string, SSEServerTransport>();
  const http = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/sse') {
      const transport = new SSEServerTransport('/messages', res);
      sessions.set(transport.sessionId, transport);
      transport.onclose = () => sessions.delete(transport.sessionId);
      await createFixtureMcpServer({ whoami: () => 'anonymous' }).connect(transport);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/messages') {
      const transport = sessions.get(url.searchParams.get('sessionId') ?? '');
      if (!transport) return void res.writeHead(404).end('Session not found');
      return void (await transport.handlePostMessage(req, res));
    }
    res.writeHead(404, { 'content-type': 'text/html' }).end(`Cannot ${req.method} ${url.pathname}`);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const closeAll = async () => {
    const open = [...sessions.values()];
    sessions.clear();
    await Promise.allSettled(open.map((t) => t.close()));
    http.closeAllConnections();
  };
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/sse`,
    restart: closeAll,
    stop: async () => {
      await closeAll();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
