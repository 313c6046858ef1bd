/**
 * The 2026-07-28 Streamable HTTP request metadata headers (SEP-2243; streamable-http §Request
 * Metadata): the protocol version a message declares, `Mcp-Method` on every POST, `Mcp-Name` for
 * tools/call, resources/read and prompts/get, and §Value Encoding for header-unsafe values.
 * `Mcp-Param-*` mirroring lives in tool-headers.ts.
 */
import type { JsonRpcMessage } from './jsonrpc.js';

export const STATELESS_REVISION = '2026-07-28';
const META_VERSION = 'io.modelcontextprotocol/protocolVersion';

/** Dated revisions compare as strings; a revision at or after 2026-07-28 is stateless. */
export function isStatelessRevision(version: string | undefined): boolean {
  return version !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= STATELESS_REVISION;
}

/** 2026 §Request Metadata: the version a message declares in `_meta`, which the header must equal. */
export function declaredVersion(message: JsonRpcMessage): string | undefined {
  if (!('method' in message)) return undefined;
  const meta = message.params?.['_meta'];
  if (typeof meta !== 'object' || meta === null) return undefined;
  const v = (meta as Record<string, unknown>)[META_VERSION];
  return typeof v === 'string' ? v : undefined;
}

const PLAIN_VALUE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const SENTINEL = /^=\?base64\?.*\?=$/s;

/**
 * §Value Encoding: a value that is not plain visible ASCII (non-ASCII, control characters, leading
 * or trailing whitespace) or that looks like the sentinel is sent as `=?base64?{UTF-8 base64}?=`.
 * The empty string is sent as is (an empty field value is valid HTTP).
 */
export function headerValue(value: string): string {
  if (value === '' || (PLAIN_VALUE.test(value) && !SENTINEL.test(value))) return value;
  return `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** `Mcp-Method` and, where the spec names one, `Mcp-Name` for one outgoing message. */
export function standardHeaders(message: JsonRpcMessage): Record<string, string> {
  if (!('method' in message)) return {};
  const out: Record<string, string> = { 'Mcp-Method': headerValue(message.method) };
  const p = message.params;
  const name =
    message.method === 'tools/call' || message.method === 'prompts/get'
      ? p?.['name']
      : message.method === 'resources/read'
        ? p?.['uri']
        : undefined;
  if ('id' in message && typeof name === 'string') out['Mcp-Name'] = headerValue(name);
  return out;
}
