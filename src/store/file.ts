/**
 * The file store: one JSON file per entry at `<dir>/<ns>/<safeFileName(key)>.json`, written
 * atomically (temp file, fsync, rename), taken atomically (rename away, then read), and locked
 * across processes with proper-lockfile. The embedded default for the client and the CLI.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import * as z from 'zod/mini';
import {
  assertEntryName,
  assertOpen,
  type Clock,
  decodeValue,
  encodeValue,
  expiresAtFrom,
  isExpired,
} from './entry.js';
import { KeyedMutex, LOCK_LEASE_MS, lockLost, pollUntilAcquired, runExclusive } from './lock.js';
import { type LockOptions, type SetOptions, type Store, StoreError } from './store.js';

export { defaultStateDir } from './state-dir.js';

export interface FileStoreOptions {
  /** The state directory; created 0700 if absent. */
  dir: string;
  clock?: Clock;
  /** For crash tests only: runs after the temp file is written and fsynced, before the rename. */
  testHooks?: { beforeRename?: (tempPath: string) => void | Promise<void> };
}

const SLUG_MAX_LENGTH = 60;
/** Temp files older than this are leftovers of a crashed writer, removed by `list`. */
const STALE_TEMP_MS = 60_000;
/** Device names Windows reserves in any directory, with or without an extension. */
const WINDOWS_RESERVED_NAME = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;

/**
 * A file name for any key: a readable slug (lowercase `[a-z0-9._-]`, at most 60 characters, no
 * leading or trailing dot or dash) then `-` and the first 16 hex digits of sha256(key). The hash
 * keeps distinct keys apart (`A` and `a`, `a/b` and `a?b`); the slug is only for people reading
 * the directory. Valid on Windows, macOS and Linux: no reserved characters, never a device name.
 */
export function safeFileName(key: string): string {
  const hash = createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 16);
  const slug = key
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-.]+/, '')
    .slice(0, SLUG_MAX_LENGTH)
    .replace(/[-.]+$/, '');
  return `${slug || 'key'}-${hash}`;
}

/**
 * A namespace such as `tokens` is used as its directory name; any other is hashed like a key.
 * A verbatim name never contains `-` and a hashed one always does, so the two cannot collide.
 */
function namespaceDirName(ns: string): string {
  return /^[a-z0-9_]{1,60}$/.test(ns) && !WINDOWS_RESERVED_NAME.test(ns) ? ns : safeFileName(ns);
}

const envelopeSchema = z.object({ key: z.string(), value: z.unknown(), expiresAt: z.optional(z.number()) });
type Envelope = z.infer<typeof envelopeSchema>;

interface EntryPaths {
  nsDir: string;
  name: string;
  file: string;
  lock: string;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

function unavailable(err: unknown, where: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = errorCode(err) ?? 'error';
  return new StoreError('store_unavailable', `cannot use ${where} (${code})`, { cause: err });
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw unavailable(err, file);
  }
}

/**
 * rename(2) replaces atomically on POSIX; on Windows (MoveFileEx) it can fail for a moment while
 * another process or a virus scanner has the target open, so retry briefly there.
 */
async function renameReplacing(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (err) {
      const transient = ['EPERM', 'EACCES', 'EBUSY'].includes(errorCode(err) ?? '');
      if (process.platform !== 'win32' || !transient || attempt >= 10) throw err;
      await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** Math.min(attempt, 5)));
    }
  }
}

/** Persists a rename; best effort, as directories cannot be fsynced on every platform. */
async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory (EINVAL); the data itself was fsynced.
  }
}

/** mkdir -p with 0700, chmod'ed explicitly so the umask cannot widen or narrow it. */
async function ensureDirectory(dir: string): Promise<void> {
  try {
    const created = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (created !== undefined) await chmod(dir, 0o700);
  } catch (err) {
    throw unavailable(err, dir);
  }
}

export async function createFileStore(options: FileStoreOptions): Promise<Store> {
  const root = path.resolve(options.dir);
  const clock = options.clock ?? Date.now;
  const beforeRename = options.testHooks?.beforeRename;
  const mutex = new KeyedMutex();
  let closed = false;

  await ensureDirectory(root);
  try {
    if (!(await stat(root)).isDirectory()) {
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    }
    await readdir(root);
  } catch (err) {
    throw unavailable(err, root);
  }

  function entryPaths(ns: string, key: string): EntryPaths {
    return pathsFor(path.join(root, namespaceDirName(ns)), safeFileName(key));
  }

  function pathsFor(nsDir: string, name: string): EntryPaths {
    return { nsDir, name, file: path.join(nsDir, `${name}.json`), lock: path.join(nsDir, `${name}.lock`) };
  }

  /** A hidden name in the same directory, so the rename that publishes it stays atomic. */
  function tempPath(p: EntryPaths, purpose: string): string {
    return path.join(p.nsDir, `.${p.name}.${randomBytes(8).toString('hex')}.${purpose}.tmp`);
  }

  function parseEnvelope(text: string, p: EntryPaths, key?: string): Envelope {
    const parsed = envelopeSchema.safeParse(decodeValue<unknown>(text, p.file));
    if (!parsed.success) throw new StoreError('corrupt_value', `${p.file} is not a portcullis store entry`);
    // A file copied or renamed by hand holds another key than its name says.
    if ((key !== undefined && parsed.data.key !== key) || safeFileName(parsed.data.key) !== p.name) {
      throw new StoreError('corrupt_value', `${p.file} holds an entry for another key`);
    }
    return parsed.data;
  }

  async function readEnvelope(p: EntryPaths, key?: string): Promise<Envelope | undefined> {
    let text: string;
    try {
      text = await readFile(p.file, 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw unavailable(err, p.file);
    }
    return parseEnvelope(text, p, key);
  }

  async function writeAtomically(p: EntryPaths, text: string): Promise<void> {
    await ensureDirectory(p.nsDir);
    const temp = tempPath(p, 'write');
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.chmod(0o600);
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await beforeRename?.(temp);
      await renameReplacing(temp, p.file);
    } catch (err) {
      await unlinkIfPresent(temp).catch(() => {});
      throw unavailable(err, p.file);
    }
    await syncDirectory(p.nsDir);
  }

  /**
   * Deletes an entry seen expired, without losing a value another process wrote meanwhile: move
   * the file aside, and if what was moved turns out fresh, link it back unless a newer one exists.
   */
  async function removeExpired(p: EntryPaths): Promise<void> {
    const aside = tempPath(p, 'expired');
    try {
      await rename(p.file, aside);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return;
      throw unavailable(err, p.file);
    }
    let stillExpired = false;
    try {
      stillExpired = isExpired(parseEnvelope(await readFile(aside, 'utf8'), p).expiresAt, clock());
    } catch {
      // Unreadable or corrupt now: put it back so the next reader reports it.
    }
    if (!stillExpired) {
      try {
        await link(aside, p.file); // fails with EEXIST if a newer value was written meanwhile
      } catch (err) {
        if (errorCode(err) !== 'EEXIST') {
          // No hard links on this file system: move it back, which cannot tell a newer value.
          try {
            await renameReplacing(aside, p.file);
            return;
          } catch (renameErr) {
            throw unavailable(renameErr, p.file);
          }
        }
      }
    }
    await unlinkIfPresent(aside);
  }

  async function removeStaleTemp(nsDir: string, name: string): Promise<void> {
    const file = path.join(nsDir, name);
    try {
      if (Date.now() - (await stat(file)).mtimeMs > STALE_TEMP_MS) await unlink(file);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw unavailable(err, file);
    }
  }

  return {
    async get<T>(ns: string, key: string): Promise<T | undefined> {
      assertOpen(closed, 'file');
      assertEntryName(ns, key);
      const p = entryPaths(ns, key);
      const envelope = await readEnvelope(p, key);
      if (envelope === undefined) return undefined;
      if (isExpired(envelope.expiresAt, clock())) {
        await removeExpired(p);
        return undefined;
      }
      return envelope.value as T;
    },

    async set<T>(ns: string, key: string, value: T, opts?: SetOptions): Promise<void> {
      assertOpen(closed, 'file');
      assertEntryName(ns, key);
      encodeValue(value);
      const expiresAt = expiresAtFrom(opts, clock());
      const envelope: Envelope = expiresAt === undefined ? { key, value } : { key, value, expiresAt };
      await writeAtomically(entryPaths(ns, key), `${JSON.stringify(envelope)}\n`);
    },

    async delete(ns: string, key: string): Promise<void> {
      assertOpen(closed, 'file');
      assertEntryName(ns, key);
      await unlinkIfPresent(entryPaths(ns, key).file);
    },

    // Atomic across processes: of several renames of the same file, exactly one succeeds.
    async take<T>(ns: string, key: string): Promise<T | undefined> {
      assertOpen(closed, 'file');
      assertEntryName(ns, key);
      const p = entryPaths(ns, key);
      const taken = tempPath(p, 'take');
      try {
        await renameReplacing(p.file, taken);
      } catch (err) {
        if (errorCode(err) === 'ENOENT') return undefined;
        throw unavailable(err, p.file);
      }
      let text: string;
      try {
        text = await readFile(taken, 'utf8');
      } catch (err) {
        throw unavailable(err, taken);
      } finally {
        await unlinkIfPresent(taken);
      }
      const envelope = parseEnvelope(text, p, key);
      return isExpired(envelope.expiresAt, clock()) ? undefined : (envelope.value as T);
    },

    async withLock<R>(ns: string, key: string, fn: () => Promise<R>, opts?: LockOptions): Promise<R> {
      assertOpen(closed, 'file');
      assertEntryName(ns, key);
      const p = entryPaths(ns, key);
      return runExclusive({
        mutex,
        ns,
        key,
        opts,
        fn,
        acquireRemote: async (deadline, timeout) => {
          await ensureDirectory(p.nsDir);
          let release: (() => Promise<void>) | undefined;
          let compromised: Error | undefined;
          const tryLock = async () => {
            try {
              release = await lockfile.lock(p.file, {
                realpath: false, // the entry file need not exist to be locked
                lockfilePath: p.lock,
                stale: LOCK_LEASE_MS,
                update: LOCK_LEASE_MS / 2,
                retries: 0, // we poll ourselves, within the caller's timeout
                onCompromised: (err) => {
                  compromised = err;
                },
              });
              return true;
            } catch (err) {
              if (errorCode(err) === 'ELOCKED') return false;
              throw unavailable(err, p.lock);
            }
          };
          await pollUntilAcquired(tryLock, deadline, timeout);
          return async () => {
            if (compromised !== undefined) throw lockLost(ns, compromised);
            try {
              await release?.();
            } catch (err) {
              throw lockLost(ns, err instanceof Error ? err : new Error(String(err)));
            }
          };
        },
      });
    },

    async list(ns: string): Promise<string[]> {
      assertOpen(closed, 'file');
      assertEntryName(ns, '');
      const nsDir = path.join(root, namespaceDirName(ns));
      let names: string[];
      try {
        names = await readdir(nsDir);
      } catch (err) {
        if (errorCode(err) === 'ENOENT') return [];
        throw unavailable(err, nsDir);
      }
      const keys: string[] = [];
      for (const name of names.sort()) {
        if (name.startsWith('.')) {
          if (name.endsWith('.tmp')) await removeStaleTemp(nsDir, name);
          continue;
        }
        if (!name.endsWith('.json')) continue; // lock directories
        const p = pathsFor(nsDir, name.slice(0, -'.json'.length));
        const envelope = await readEnvelope(p);
        if (envelope === undefined) continue;
        if (isExpired(envelope.expiresAt, clock())) await removeExpired(p);
        else keys.push(envelope.key);
      }
      return keys;
    },

    async close(): Promise<void> {
      closed = true;
    },
  };
}
