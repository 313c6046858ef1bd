/**
 * A child process for the multi-process lock tests: N times, take the lock on counter/shared,
 * log "enter", read the counter file, yield, write counter + 1, log "exit". If two processes
 * ever held the lock at once, the log interleaves and the counter loses increments.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type OpenStoreOptions, openStore } from '../../src/store/index.js';

interface WorkerConfig {
  spec: string;
  options: OpenStoreOptions;
  counterFile: string;
  logFile: string;
  iterations: number;
  id: string;
}

const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
const store = await openStore(config.spec, config.options);
for (let i = 0; i < config.iterations; i++) {
  await store.withLock(
    'counter',
    'shared',
    async () => {
      appendFileSync(config.logFile, `enter ${config.id}\n`);
      const count = Number(readFileSync(config.counterFile, 'utf8'));
      await sleep(Math.floor(Math.random() * 3));
      writeFileSync(config.counterFile, String(count + 1));
      appendFileSync(config.logFile, `exit ${config.id}\n`);
    },
    { timeoutMs: 60_000 },
  );
}
await store.close();
