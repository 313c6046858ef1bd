// Bundles the package for publishing: one ESM file per entry point with every run-time
// dependency inlined, so `npx portcullis` installs no dependency tree. Storage drivers and the
// MCP SDK stay external (optional peers, loaded on demand).
import { rm } from 'node:fs/promises';
import { build } from 'esbuild';

const external = [
  'better-sqlite3',
  'ioredis',
  'pg',
  '@modelcontextprotocol/sdk',
  '@modelcontextprotocol/sdk/*',
];

await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: {
    cli: 'src/cli/main.ts',
    client: 'src/client/index.ts',
    sdk: 'src/sdk/index.ts',
    store: 'src/store/index.ts',
    gateway: 'src/gateway/index.ts',
  },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  external,
  chunkNames: 'chunks/[name]-[hash]',
  // Some bundled CommonJS dependencies call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
});

// Type declarations for the `exports` map (dist/types/**).
const { execFileSync } = await import('node:child_process');
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
});
