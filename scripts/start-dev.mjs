// `npm start`: the embedded default. The portcullis gateway with its built-in dev IdP and SQLite
// (under ./.portcullis) in front of a sample MCP server on stdio, all on 127.0.0.1.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

const wanted = Number(process.env.PORT ?? 8787);
// 8787 when it is free, else any free port.
const port = await new Promise((resolve) => {
  const probe = createServer().once('error', () => resolve(0));
  probe.listen(wanted, '127.0.0.1', () => probe.close(() => resolve(wanted)));
});

const args = [
  '--import',
  'tsx',
  'src/cli/main-entry.ts',
  'gateway',
  '--dev',
  '--port',
  String(port),
  '--state-dir',
  process.env.PORTCULLIS_DEV_STATE ?? '.portcullis',
  '--',
  process.execPath,
  '--import',
  'tsx',
  'examples/sample-mcp-server.ts',
];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);
