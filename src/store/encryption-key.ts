/**
 * Where the at-rest encryption key comes from: `PORTCULLIS_KEY`, else a 0600 key file made on
 * first use. No error message ever holds the key or any part of it.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultStateDir } from './state-dir.js';
import { StoreError } from './store.js';

export interface LoadEncryptionKeyOptions {
  env?: NodeJS.ProcessEnv;
  /** Default: `store.key` in `defaultStateDir()`. */
  keyFile?: string;
}

const KEY_BYTES = 32;
/** How long a process that lost the race to create the key file waits for the winner's write. */
const KEY_FILE_WRITE_WAIT_MS = 2_000;

function badKey(source: string, length: number): StoreError {
  return new StoreError(
    'store_unavailable',
    `${source} must be ${KEY_BYTES} bytes written as base64, base64url or 64 hex digits (got ${length} characters)`,
  );
}

/** 64 hex digits, or base64 / base64url (padded or not) of exactly 32 bytes. */
export function parseEncryptionKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const bytes = Buffer.from(trimmed, 'base64'); // Node's base64 decoder also reads base64url
    if (bytes.length === KEY_BYTES) return bytes;
  }
  throw badKey(source, trimmed.length);
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

/** `partial`: shorter than any valid key, as a file another process is still writing would be. */
type KeyFileContent = { key: Buffer } | { missing: true } | { malformed: StoreError; partial: boolean };

async function readKeyFile(file: string): Promise<KeyFileContent> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { missing: true };
    throw new StoreError('store_unavailable', `cannot read key file ${file}`, { cause: err });
  }
  try {
    return { key: parseEncryptionKey(text, `key file ${file}`) };
  } catch (err) {
    return { malformed: err as StoreError, partial: text.trim().length < 43 };
  }
}

/** An empty or short key file may be one another process is writing right now: re-read a while. */
async function readKeyFileWhenWritten(file: string): Promise<Buffer> {
  const deadline = performance.now() + KEY_FILE_WRITE_WAIT_MS;
  for (;;) {
    const content = await readKeyFile(file);
    if ('key' in content) return content.key;
    if ('missing' in content)
      throw new StoreError('store_unavailable', `key file ${file} vanished while read`);
    if (!content.partial) throw content.malformed;
    if (performance.now() > deadline) {
      throw new StoreError(
        'store_unavailable',
        `key file ${file} is empty or cut short; if nothing was encrypted with it yet, delete it`,
      );
    }
    await sleep(10);
  }
}

async function createKeyFile(file: string): Promise<Buffer> {
  const dir = path.dirname(file);
  try {
    if ((await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined) await chmod(dir, 0o700);
  } catch (err) {
    throw new StoreError('store_unavailable', `cannot create ${dir}`, { cause: err });
  }
  const key = randomBytes(KEY_BYTES);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // `wx`: exactly one of several racing processes creates the file; the others read its key.
    handle = await open(file, 'wx', 0o600);
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return readKeyFileWhenWritten(file);
    throw new StoreError('store_unavailable', `cannot create key file ${file}`, { cause: err });
  }
  try {
    await handle.chmod(0o600);
    await handle.writeFile(`${key.toString('base64url')}\n`, 'utf8');
    await handle.sync();
  } catch (err) {
    throw new StoreError('store_unavailable', `cannot write key file ${file}`, { cause: err });
  } finally {
    await handle.close();
  }
  return key;
}

/**
 * The 32-byte key for `createEncryptedStore`: `PORTCULLIS_KEY` when set, else the key file,
 * created with a fresh random key on first use.
 */
export async function loadEncryptionKey(options: LoadEncryptionKeyOptions = {}): Promise<Buffer> {
  const env = options.env ?? process.env;
  const fromEnv = env['PORTCULLIS_KEY'];
  if (fromEnv !== undefined && fromEnv !== '') return parseEncryptionKey(fromEnv, 'PORTCULLIS_KEY');
  const file = options.keyFile ?? path.join(defaultStateDir({ env }), 'store.key');
  const content = await readKeyFile(file);
  if ('key' in content) return content.key;
  if ('missing' in content) return createKeyFile(file);
  return readKeyFileWhenWritten(file);
}
