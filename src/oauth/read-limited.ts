/**
 * Reading a body from a peer we do not control within a byte limit, enforced while streaming
 * (a Content-Length is only a first check: it can lie or be absent). One reader for every
 * untrusted body: OAuth documents, MCP responses in the bridge, request bodies at the gateway.
 */

/** What `readLimited` found when the body was larger than allowed (it has been cancelled). */
export const TOO_LARGE = Symbol('too large');

export async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  headers: Headers,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | typeof TOO_LARGE> {
  const declared = Number(headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await body?.cancel().catch(() => {});
    return TOO_LARGE;
  }
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return TOO_LARGE;
    }
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
