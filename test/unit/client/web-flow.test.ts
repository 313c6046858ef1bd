import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isClientError } from '../../../src/client/errors.js';
import { createWebFlow } from '../../../src/client/web-flow.js';
import { openVerifier, sealVerifier, stateId } from '../../../src/client/web-login-record.js';
import { createMemoryStore } from '../../../src/store/memory.js';
import { StoreError } from '../../../src/store/store.js';

const hostKey = new Uint8Array(32).fill(1);

describe('pending web login record', () => {
  it('keys the record by SHA-256 of the state, never the state itself', () => {
    expect(stateId('abc')).toBe(createHash('sha256').update('abc').digest('hex'));
  });

  it('seals the PKCE verifier so that the record alone does not reveal it', () => {
    const sealed = sealVerifier('the-verifier', 'the-state', hostKey);
    expect(JSON.stringify(sealed)).not.toContain('the-verifier');
    expect(openVerifier(sealed, 'the-state', hostKey)).toBe('the-verifier');
    // Without the state (kept only by the browser) or with another host key, it stays sealed.
    for (const [state, key] of [
      ['another-state', hostKey],
      ['the-state', new Uint8Array(32).fill(2)],
      ['the-state', undefined],
    ] as const) {
      const error = (() => {
        try {
          openVerifier(sealed, state, key);
        } catch (e) {
          return e;
        }
      })();
      expect(isClientError(error, 'authorization_failed')).toBe(true);
    }
  });

  it('detects a tampered ciphertext', () => {
    const sealed = sealVerifier('v', 's', undefined);
    const ct = Buffer.from(sealed.ct, 'base64url');
    ct[0] = (ct[0] ?? 0) ^ 1;
    expect(() => openVerifier({ ...sealed, ct: ct.toString('base64url') }, 's', undefined)).toThrow(
      /cannot be decrypted/,
    );
  });
});

describe('createWebFlow', () => {
  const store = createMemoryStore();

  it('refuses a cleartext redirect URI off loopback, and a key that is not 32 bytes', () => {
    expect(() => createWebFlow({ store, redirectUri: 'http://host.example/callback' })).toThrow(/https/);
    expect(() =>
      createWebFlow({ store, redirectUri: 'https://host.example/cb', encryptionKey: new Uint8Array(31) }),
    ).toThrow(RangeError);
  });

  it('refuses a callback without state before touching the store', async () => {
    const untouchable = {
      ...store,
      get: () => Promise.reject(new Error('must not be read')),
    };
    const flow = createWebFlow({ store: untouchable, redirectUri: 'https://host.example/cb' });
    await expect(
      flow.complete({ userId: 'u', callbackUrl: 'https://host.example/cb?code=x' }),
    ).rejects.toMatchObject({
      code: 'invalid_callback',
    });
  });

  it('turns a Store failure into store_unavailable, keeping the StoreError as its cause', async () => {
    const down = {
      ...store,
      get: () => Promise.reject(new StoreError('store_unavailable', 'redis store: cannot read')),
    };
    const flow = createWebFlow({ store: down, redirectUri: 'https://host.example/cb' });
    const error = await flow
      .complete({ userId: 'u', callbackUrl: 'https://host.example/cb?code=x&state=y' })
      .catch((e) => e);
    expect(error).toMatchObject({
      code: 'store_unavailable',
      message: expect.stringContaining('redis store: cannot read'),
    });
    expect(error.cause).toBeInstanceOf(StoreError);
  });

  it('says which of unknown and replayed a missing record is', async () => {
    const memory = createMemoryStore();
    const flow = createWebFlow({ store: memory, redirectUri: 'https://host.example/cb' });
    const complete = () =>
      flow.complete({ userId: 'u', callbackUrl: 'https://host.example/cb?code=x&state=s1' });
    await expect(complete()).rejects.toMatchObject({ code: 'state_unknown' });
    await memory.set('host:web-logins-used', stateId('s1'), { at: 1 });
    await expect(complete()).rejects.toMatchObject({ code: 'state_replayed' });
  });
});
