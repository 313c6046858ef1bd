/**
 * A fetch that connects to one already-vetted IP address while keeping the URL's host for TLS
 * (SNI and certificate checks) and the Host header. The SSRF guard resolves and checks the
 * address; pinning the connection to it closes the DNS-rebinding window between check and use.
 * Hand-written over node:https because global fetch cannot pin an address without undici's
 * private API. No redirects are followed (a 3xx is returned as is).
 */
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';

export function pinnedFetch(address: string): typeof fetch {
  const family = isIP(address);
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((v, k) => {
        headers[k] = v;
      });
      const req = httpsRequest(
        url,
        {
          method: init.method ?? 'GET',
          headers,
          agent: false,
          servername: url.hostname,
          lookup: (_host, opts, cb) => {
            if ((opts as { all?: boolean }).all)
              (cb as (e: null, a: unknown[]) => void)(null, [{ address, family }]);
            else cb(null, address, family);
          },
          ...(init.signal ? { signal: init.signal } : {}),
        },
        (res) => {
          const out = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (Array.isArray(v)) for (const one of v) out.append(k, one);
            else if (v !== undefined) out.set(k, v);
          }
          const status = res.statusCode ?? 502;
          const body =
            status === 204 || status === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
          resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers: out }));
        },
      );
      req.on('error', reject);
      req.end();
    });
}
