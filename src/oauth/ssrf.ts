/**
 * SSRF guard for server-side fetches of attacker-chosen URLs (CIMD documents at the gateway,
 * discovery URLs in a multi-tenant host). MCP SBP §SSRF / CIMD §6.5: https only, and no
 * private, loopback, link-local or cloud-metadata address after DNS resolution.
 *
 * The resolver is injected so tests prove a refusal without any packet leaving the machine,
 * and the caller pins the connection to the address that was checked (no rebinding window).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { OAuthError } from './errors.js';

export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, incl. 169.254.169.254 metadata
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24],
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64 (may embed a private v4)
  ['fd00:ec2::254', 128], // AWS metadata over v6
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** True when the address is one a server-side fetch must never reach. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1]) return blocked.check(mapped[1], 'ipv4');
    return blocked.check(address, 'ipv6');
  }
  return true; // not an IP at all: refuse
}

/**
 * Resolves the URL's host and returns a public address to connect to, or throws
 * `OAuthError('invalid_request')` naming the host (never a secret).
 */
export async function resolvePublicAddress(url: URL, resolver: Resolver = systemResolver): Promise<string> {
  if (url.protocol !== 'https:') {
    throw new OAuthError('invalid_request', `refusing to fetch ${url.protocol} URL ${url.host}: https only`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [{ address: host, family: isIP(host) }]
    : await resolveOrFail(host, resolver);
  if (addresses.length === 0) throw new OAuthError('invalid_request', `${host} did not resolve`);
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  if (bad) {
    throw new OAuthError(
      'invalid_request',
      `refusing to fetch ${host}: it resolves to a non-public address`,
      {
        cause: bad.address,
      },
    );
  }
  return addresses[0]!.address;
}

async function resolveOrFail(host: string, resolver: Resolver) {
  try {
    return await resolver(host);
  } catch (cause) {
    throw new OAuthError('invalid_request', `${host} did not resolve`, { cause });
  }
}
