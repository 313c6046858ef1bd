/**
 * A child process for the multi-process `update` test: N times, increment the counter stored at
 * counter/n — alternately with `update` (one transaction) and with `withLock` + get + yield + set.
 * If `update` ever ran inside another process's `withLock`, increments would be lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore, updateEntry } from '../../src/store/index.js';

const { spec, iterations } = JSON.parse(process.argv[2] ?? '') as { spec: string; iterations: number };
const store = await openStore(spec);
for (let i = 0; i < iterations; i++) {
  if (i % 2 === 0) {
    await updateEntry<number, null>(
      store,
      'counter',
      'n',
      (cur) => ({ result: null, set: { value: (cur ?? 0) + 1 } }),
      { timeoutMs: 60_000 },
    );
  } else {
    await store.withLock(
      'counter',
      'n',
      async () => {
        const cur = (await store.get<number>('counter', 'n')) ?? 0;
        await sleep(2 + Math.floor(Math.random() * 3));
        await store.set('counter', 'n', cur + 1);
      },
      { timeoutMs: 60_000 },
    );
  }
}
await store.close();
