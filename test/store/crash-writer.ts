/**
 * A child process that dies by SIGKILL in the middle of a file store write: after the temp file
 * is written and fsynced, before the rename that would publish it.
 * Arguments: <dir> <ns> <key> <JSON value>.
 */
import { createFileStore } from '../../src/store/file.js';

const [dir, ns, key, json] = process.argv.slice(2) as [string, string, string, string];
const store = await createFileStore({
  dir,
  testHooks: {
    beforeRename: () => {
      process.kill(process.pid, 'SIGKILL');
    },
  },
});
await store.set(ns, key, JSON.parse(json));
