// The MCP server for the bridge benchmark, in its own process so it does not share an event loop
// with the host driving the calls: the fixture SDK server (Streamable HTTP, SSE answers), no auth.
// Prints its URL on stdout; exits when stdin closes.
import { startMcpServer } from '../../test/fixtures/mcp-server.js';

const server = await startMcpServer({ requireAuth: false });
process.stdout.write(`${server.url}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void server.stop().finally(() => process.exit(0));
});
