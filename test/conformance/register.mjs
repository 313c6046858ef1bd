// Preload (`node --import ./test/conformance/register.mjs`) that lets the official MCP
// conformance CLI run on Node 20: it imports `globSync` from "fs", which only Node 22 has.
// On Node >= 22 this does nothing.
import { register } from 'node:module';

if (Number(process.versions.node.split('.')[0]) < 22) {
  register('./fs-glob-loader.mjs', import.meta.url);
}
