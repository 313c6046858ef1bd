/** Runs the CLI from source: `node --import tsx src/cli/main-entry.ts <command> …` (tests, development). */
import { runCli } from './main.js';

await runCli(process.argv);
