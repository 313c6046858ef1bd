// boundedFetch: documents from servers we do not control are read within a deadline and a size
// limit. Each test runs a real 127.0.0.1 server on port 0 misbehaving in one way.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { boundedFetch, DEFAULT_MAX_BYTES, safeOrigin } from '../../../src/oauth/bounded-fetch.js';
import { OAuthError } from '../../../src/oauth/errors.js';

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('boundedFetch', () => {
  it('returns status, headers and the buffered body of a well-behaved response', async () => {
    const origin = await serve((_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-extra': 'kept' }).end('{"ok":true}');
    });
    const response = await boundedFetch(`${origin}/doc`);
    expect(response.status).toBe(201);
    expect(response.headers.get('x-extra')).toBe('kept');
    expect(await response.json()).toEqual({ ok: true });
  });

  it('gives a 204 a null body', async () => {
    const origin = await serve((_req, res) => res.writeHead(204).end());
    const response = await boundedFetch(`${origin}/revoke`, { method: 'POST' });
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it('stops reading a body that streams forever and closes the connection', async () => {
    let closed!: Promise<unknown>;
    let sent = 0;
    const origin = await serve((_req, res) => {
      closed = once(res, 'close');
      res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no content-length
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const pump = () => {
        // Bounded: stops when the client hangs up, and in any case after 64 MiB.
        while (!res.destroyed && sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const error = await boundedFetch(`${origin}/forever`, {}, { maxBytes: 100_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({
      error: 'invalid_response',
      message: `invalid_response: response from ${origin}/forever is larger than 100000 bytes`,
    });
    await closed;
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses a declared content-length over the limit without reading the body', async () => {
    // Headers only, then silence: reading the body would end in a timeout, not this error.
    const origin = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) });
      res.flushHeaders();
    });
    await expect(boundedFetch(`${origin}/metadata`, {}, { timeoutMs: 20_000 })).rejects.toMatchObject({
      error: 'invalid_response',
      message: `invalid_response: response from ${origin}/metadata is larger than ${DEFAULT_MAX_BYTES} bytes`,
    });
  });

  it('gives up on a server that never answers, naming it', async () => {
    const origin = await serve(() => {});
    await expect(boundedFetch(`${origin}/token`, {}, { timeoutMs: 150 })).rejects.toMatchObject({
      error: 'temporarily_unavailable',
      message: `temporarily_unavailable: ${origin}/token did not answer within 150 ms`,
    });
  });

  it('gives up on a body that stalls after the headers', async () => {
    const origin = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"issuer":');
    });
    await expect(boundedFetch(`${origin}/slow`, {}, { timeoutMs: 150 })).rejects.toMatchObject({
      error: 'temporarily_unavailable',
      message: `temporarily_unavailable: ${origin}/slow did not finish within 150 ms`,
    });
  });

  it('reports a refused connection as unreachable', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const free = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await expect(boundedFetch(`http://127.0.0.1:${free}/x`)).rejects.toMatchObject({
      error: 'temporarily_unavailable',
      message: `temporarily_unavailable: could not reach http://127.0.0.1:${free}/x`,
    });
  });

  it('passes a caller abort through as the abort, not as a timeout', async () => {
    const origin = await serve(() => {});
    const controller = new AbortController();
    const pending = boundedFetch(`${origin}/x`, {}, { signal: controller.signal });
    controller.abort(new Error('user cancelled'));
    await expect(pending).rejects.toThrow('user cancelled');
  });

  it('never puts the query string (codes, state) in an error', async () => {
    const origin = await serve(() => {});
    const error = (await boundedFetch(`${origin}/cb?code=SECRET-CODE&state=s`, {}, { timeoutMs: 100 }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error.message).toContain(`${origin}/cb`);
    expect(error.message).not.toContain('SECRET-CODE');
    expect(safeOrigin('https://x.example/a?b=c#d')).toBe('https://x.example/a');
    expect(safeOrigin('::not a url')).toBe('(invalid URL)');
  });
});
