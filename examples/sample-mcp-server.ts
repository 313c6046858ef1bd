/**
 * A small MCP server on stdio, used by `npm start` as the server behind the dev gateway:
 * `echo`, `add`, and `whoami` (which reports the identity the gateway passed in MCP_USER).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'portcullis-sample', version: '1.0.0' });

server.registerTool(
  'echo',
  { description: 'Returns the text it was given', inputSchema: { text: z.string() } },
  async ({ text }) => ({ content: [{ type: 'text', text }] }),
);
server.registerTool(
  'add',
  { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } },
  async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
);
server.registerTool('whoami', { description: 'Who the gateway says is calling' }, async () => ({
  content: [{ type: 'text', text: process.env['MCP_USER'] ?? '(no user passed)' }],
}));

await server.connect(new StdioServerTransport());
