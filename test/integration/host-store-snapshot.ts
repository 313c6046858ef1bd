// A Store wrapper that remembers every namespace written through it, so a test can snapshot all
// stored state and prove that a failed operation changed nothing.
import type { Store } from '../../src/store/store.js';

export interface RecordingStore extends Store {
  snapshot(): Promise<Record<string, Record<string, unknown>>>;
}

export function recordingStore(inner: Store): RecordingStore {
  const namespaces = new Set<string>();
  return {
    get: (ns, key) => inner.get(ns, key),
    set: async (ns, key, value, opts) => {
      namespaces.add(ns);
      await inner.set(ns, key, value, opts);
    },
    delete: (ns, key) => inner.delete(ns, key),
    take: (ns, key) => inner.take(ns, key),
    withLock: (ns, key, fn, opts) => inner.withLock(ns, key, fn, opts),
    list: (ns) => inner.list(ns),
    close: () => inner.close(),
    async snapshot() {
      const out: Record<string, Record<string, unknown>> = {};
      for (const ns of [...namespaces].sort()) {
        const entries: Record<string, unknown> = {};
        for (const key of (await inner.list(ns)).sort()) entries[key] = await inner.get(ns, key);
        out[ns] = entries;
      }
      return out;
    },
  };
}
