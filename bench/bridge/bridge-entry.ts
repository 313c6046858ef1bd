// `portcullis connect` for the benchmark when the built CLI has no `connect` yet: the bridge with
// the CLI's own logger and option parsing, bundled the way scripts/build.mjs bundles the CLI.
// Plain fetch: the benchmark server needs no OAuth.
import { connectArgvToInput, parseConnectOptions } from '../../src/bridge/cli-options.js';
import { startConnect } from '../../src/bridge/main.js';
import { createCliLogger } from '../../src/cli/logger.js';

const options = parseConnectOptions(connectArgvToInput(process.argv.slice(2)));
const logger = await createCliLogger({ level: options.logLevel });
process.exitCode = await startConnect(options, { logger, makeFetch: (_url, base) => base.fetch });
