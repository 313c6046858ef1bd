// A deliberately small, misbehaving-on-request stdio MCP server for the gateway's edge tests:
// answers initialize and a few tools/call names, and on request writes to stderr, writes a
// non-JSON line, answers out of order, or exits before answering, or reads its upstream token
// (the file named by $MCP_TOKEN_FILE, and $MCP_TOKEN). Plain JS: starts fast.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const send = (m) => process.stdout.write(`${JSON.stringify(m)}\n`);
const text = (id, value) =>
  send({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: value }] } });

createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize') {
    send({
      jsonrpc: '2.0',
      id: m.id,
      result: {
        protocolVersion: m.params.protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: 'child', version: '0' },
      },
    });
    return;
  }
  if (m.method === 'tools/list') {
    const names = ['stderr', 'noise', 'exit', 'last-words', 'env', 'big', 'notify', 'token'];
    send({
      jsonrpc: '2.0',
      id: m.id,
      result: { tools: names.map((name) => ({ name, inputSchema: { type: 'object' } })) },
    });
    return;
  }
  if (m.method !== 'tools/call' || m.id === undefined) return;
  const name = m.params.name;
  if (name === 'stderr') {
    process.stderr.write('secret diagnostics for the operator\n');
    text(m.id, 'wrote to stderr');
  } else if (name === 'noise') {
    process.stdout.write('this is not JSON\n');
    text(m.id, 'still alive');
  } else if (name === 'exit') {
    process.exit(3);
  } else if (name === 'last-words') {
    text(m.id, 'answered, then gone');
    process.exit(0);
  } else if (name === 'env') {
    text(m.id, JSON.stringify({ user: process.env.MCP_USER, secret: process.env.GATEWAY_SECRET ?? null }));
  } else if (name === 'big') {
    text(m.id, 'x'.repeat(m.params.arguments.bytes));
  } else if (name === 'notify') {
    send({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'unrelated' } });
    text(m.id, 'notified');
  } else if (name === 'token') {
    const file = process.env.MCP_TOKEN_FILE ?? null;
    const fromFile = file === null ? null : readFileSync(file, 'utf8');
    text(m.id, JSON.stringify({ file, fromFile, token: process.env.MCP_TOKEN ?? null }));
  }
});
process.stdin.on('end', () => process.exit(0));
