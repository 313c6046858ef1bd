// The SSRF guard (MCP SBP §SSRF, CIMD §6.5): no private, loopback, link-local or metadata address
// after DNS resolution. Resolvers and fetches are injected: no packet leaves the machine.
import { describe, expect, it } from 'vitest';
import { resolveMetadataDocumentClient } from '../../../src/gateway/clients/cimd.js';
import { OAuthError } from '../../../src/oauth/errors.js';
import { isPrivateAddress, type Resolver, resolvePublicAddress } from '../../../src/oauth/ssrf.js';
import { createMemoryStore } from '../../../src/store/memory.js';

describe('isPrivateAddress', () => {
  it.each([
    ['10.0.0.1', true],
    ['172.16.5.4', true],
    ['172.31.255.255', true],
    ['192.168.1.1', true],
    ['127.0.0.1', true],
    ['0.0.0.0', true],
    ['100.64.0.1', true], // CGNAT
    ['169.254.169.254', true], // cloud metadata
    ['224.0.0.1', true],
    ['255.255.255.255', true],
    ['::', true],
    ['::1', true],
    ['fd00::1', true], // unique local
    ['fc00::1', true],
    ['fe80::1', true],
    ['fd00:ec2::254', true], // AWS metadata over IPv6
    ['::ffff:10.0.0.1', true], // IPv4-mapped, dotted
    ['::ffff:a00:1', true], // IPv4-mapped, hex (what the URL parser writes)
    ['::ffff:169.254.169.254', true],
    ['64:ff9b::a00:1', true], // NAT64 of 10.0.0.1
    ['not-an-ip', true],
    ['172.32.0.1', false],
    ['8.8.8.8', false],
    ['93.184.216.34', false],
    ['::ffff:8.8.8.8', false],
    ['2606:4700:4700::1111', false],
  ])('%s → %s', (address, isPrivate) => {
    expect(isPrivateAddress(address)).toBe(isPrivate);
  });
});

/** A resolver that answers from a table and records every name it was asked. */
function tableResolver(table: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string) => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (!addresses)
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { asked });
}

describe('resolvePublicAddress', () => {
  it('returns the public address a name resolves to', async () => {
    const resolver = tableResolver({ 'cimd.example.com': ['93.184.216.34'] });
    await expect(resolvePublicAddress(new URL('https://cimd.example.com/client'), resolver)).resolves.toBe(
      '93.184.216.34',
    );
    expect(resolver.asked).toEqual(['cimd.example.com']);
  });

  it('refuses a public-looking name that resolves to a private address, naming the host only', async () => {
    const resolver = tableResolver({ 'innocent.example.com': ['93.184.216.34', '169.254.169.254'] });
    const refusal = resolvePublicAddress(new URL('https://innocent.example.com/client'), resolver);
    await expect(refusal).rejects.toBeInstanceOf(OAuthError);
    await expect(refusal).rejects.toMatchObject({
      error: 'invalid_request',
      message: 'invalid_request: refusing to fetch innocent.example.com: it resolves to a non-public address',
      cause: '169.254.169.254',
    });
  });

  it.each([
    'https://[::ffff:10.0.0.1]/c',
    'https://0x7f000001/c',
    'https://2130706433/c',
    'https://[fd00::1]/c',
  ])('refuses the IP literal %s without asking the resolver', async (url) => {
    const resolver = tableResolver({});
    await expect(resolvePublicAddress(new URL(url), resolver)).rejects.toThrow(/non-public address/);
    expect(resolver.asked).toEqual([]);
  });

  it('refuses a non-https URL before resolving it', async () => {
    const resolver = tableResolver({ 'cimd.example.com': ['93.184.216.34'] });
    await expect(resolvePublicAddress(new URL('http://cimd.example.com/c'), resolver)).rejects.toThrow(
      'refusing to fetch http: URL cimd.example.com: https only',
    );
    expect(resolver.asked).toEqual([]);
  });

  it('reports a name that does not resolve', async () => {
    await expect(
      resolvePublicAddress(new URL('https://nowhere.example.com/c'), tableResolver({})),
    ).rejects.toThrow('nowhere.example.com did not resolve');
    await expect(
      resolvePublicAddress(
        new URL('https://empty.example.com/c'),
        tableResolver({ 'empty.example.com': [] }),
      ),
    ).rejects.toThrow('empty.example.com did not resolve');
  });
});

describe('a CIMD fetch behind the guard', () => {
  it('never connects when the client_id host resolves to a private address', async () => {
    const fetched: string[] = [];
    const recordingFetch: typeof fetch = async (input) => {
      fetched.push(String(input));
      return new Response('{}');
    };
    const clientId = 'https://client.example.com/oauth/metadata.json';
    const attempt = resolveMetadataDocumentClient(clientId, {
      store: createMemoryStore(),
      clock: Date.now,
      resolver: tableResolver({ 'client.example.com': ['10.0.0.7'] }),
      fetch: recordingFetch,
      redirectPolicy: { schemes: [] },
      maxBytes: 5_000,
      timeoutMs: 5_000,
      minCacheSeconds: 0,
      maxCacheSeconds: 3600,
      defaultCacheSeconds: 300,
    });
    await expect(attempt).rejects.toMatchObject({
      error: 'invalid_client',
      message: expect.stringContaining(
        'refusing to fetch client.example.com: it resolves to a non-public address',
      ),
    });
    expect(fetched).toEqual([]);
  });
});
