// `portcullis connect` for tests, without the CLI: plain fetch (no OAuth), pino to stderr.
// Usage: node --import tsx test/bridge/dev-entry.ts <url> [connect flags]
import pino from 'pino';
import { connectArgvToInput, parseConnectOptions } from '../../src/bridge/cli-options.js';
import { startConnect } from '../../src/bridge/main.js';

const options = parseConnectOptions(connectArgvToInput(process.argv.slice(2)));
const logger = pino(
  { level: options.logLevel, base: { bridge: process.pid } },
  pino.destination({ dest: options.logFile ?? 2, sync: true }),
);
process.exitCode = await startConnect(options, { logger, makeFetch: (_url, base) => base.fetch });
