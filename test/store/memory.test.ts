import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/store/index.js';
import { describeStoreContract, manualClock } from './contract.js';

describeStoreContract('memory', async () => {
  const clock = manualClock();
  const store = createMemoryStore({ clock: clock.now });
  return { store, clock, cleanup: () => store.close() };
});

describe('memory store', () => {
  it('keeps no state between two stores', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    await a.set('tokens', 'k', 1);
    expect(await b.get('tokens', 'k')).toBeUndefined();
  });
});
