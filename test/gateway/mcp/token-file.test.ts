import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenFile } from '../../../src/gateway/mcp/token-file.js';

const POSIX = process.platform !== 'win32';

describe('upstream token file', () => {
  it('holds the token in a private file inside a private directory under the temp dir', async () => {
    const file = await TokenFile.create('token-one');
    try {
      expect(isAbsolute(file.path)).toBe(true);
      expect(dirname(file.path)).toBe(file.dir);
      expect(dirname(file.dir)).toBe(tmpdir());
      expect(await readFile(file.path, 'utf8')).toBe('token-one');
      if (POSIX) {
        expect((await stat(file.dir)).mode & 0o777).toBe(0o700);
        expect((await stat(file.path)).mode & 0o777).toBe(0o600);
      }
    } finally {
      await file.remove();
    }
  });

  it('replaces the file atomically when the token changes, and not at all when it does not', async () => {
    const file = await TokenFile.create('token-one');
    try {
      const before = await stat(file.path);
      expect(await file.update('token-one')).toBe(false);
      expect((await stat(file.path)).ino).toBe(before.ino);
      expect(await file.update('token-two')).toBe(true);
      const after = await stat(file.path);
      expect(after.ino).not.toBe(before.ino); // a new file renamed over, never rewritten in place
      if (POSIX) expect(after.mode & 0o777).toBe(0o600);
      expect(await readFile(file.path, 'utf8')).toBe('token-two');
      expect(await readdir(file.dir)).toEqual(['access_token']); // no temporary file left
    } finally {
      await file.remove();
    }
  });

  it('applies concurrent updates in call order', async () => {
    const file = await TokenFile.create('a');
    try {
      expect(await Promise.all([file.update('b'), file.update('c'), file.update('c')])).toEqual([
        true,
        true,
        false,
      ]);
      expect(await readFile(file.path, 'utf8')).toBe('c');
    } finally {
      await file.remove();
    }
  });

  it('removes its directory once; later updates write nothing', async () => {
    const file = await TokenFile.create('a');
    const pending = file.update('b');
    await Promise.all([file.remove(), file.remove()]);
    expect(await pending).toBe(false); // a write not yet begun is skipped once removal is asked
    expect(existsSync(file.dir)).toBe(false);
    expect(await file.update('c')).toBe(false);
    expect(existsSync(file.dir)).toBe(false);
  });

  it('fails clearly, without the token, when the file cannot be written', async () => {
    const file = await TokenFile.create('a');
    await rm(file.dir, { recursive: true });
    const err = (await file.update('secret-token-value').catch((e: unknown) => e)) as Error;
    expect(err.message).toBe('could not write the upstream token file (ENOENT)');
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain('secret-token-value');
    expect(String((err.cause as Error).message)).not.toContain('secret-token-value');
    await file.remove();
  });
});
