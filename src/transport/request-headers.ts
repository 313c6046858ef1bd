/**
 * The 2026-07-28 Streamable HTTP request metadata headers (SEP-2243; streamable-http §Request
 * Metadata): `Mcp-Method` on every POST, `Mcp-Name` for tools/call, resources/read and
 * prompts/get, and `Mcp-Param-{Name}` mirrored from tool arguments annotated with `x-mcp-header`.
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

// RFC 9110 §5.6.2 tchar; a field value is VCHAR, SP and HTAB (§5.5) — but see headerValue.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
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

/** One `x-mcp-header` annotation: where the argument sits and which header it feeds. */
export interface ParamHeaderBinding {
  path: string[];
  header: string;
}

export type ToolHeaderPlan = { ok: true; bindings: ParamHeaderBinding[] } | { ok: false; reason: string };

const PRIMITIVE = new Set(['string', 'integer', 'boolean']);

/**
 * tools §x-mcp-header: reads a tool's `inputSchema` annotations at any depth and checks them —
 * not empty, an RFC 9110 token (so no spaces, colons, controls or non-ASCII), case-insensitively
 * unique, and only on string, integer or boolean properties (never `number`).
 */
export function planToolHeaders(inputSchema: unknown): ToolHeaderPlan {
  const bindings: ParamHeaderBinding[] = [];
  const seen = new Set<string>();
  const visit = (schema: unknown, path: string[]): string | undefined => {
    if (typeof schema !== 'object' || schema === null) return undefined;
    const s = schema as Record<string, unknown>;
    if ('x-mcp-header' in s) {
      const name = s['x-mcp-header'];
      if (typeof name !== 'string' || name === '') return `x-mcp-header at ${pathText(path)} is empty`;
      if (!TOKEN.test(name)) return `x-mcp-header "${printable(name)}" at ${pathText(path)} is not an HTTP token`;
      const types = Array.isArray(s['type']) ? s['type'] : [s['type']];
      const nonNull = types.filter((t) => t !== 'null');
      if (nonNull.length === 0 || !nonNull.every((t) => typeof t === 'string' && PRIMITIVE.has(t))) {
        return `x-mcp-header "${name}" at ${pathText(path)} is on a non-primitive or number property`;
      }
      const key = name.toLowerCase();
      if (seen.has(key)) return `x-mcp-header "${name}" is declared twice (case-insensitively)`;
      seen.add(key);
      bindings.push({ path, header: `Mcp-Param-${name}` });
    }
    const props = s['properties'];
    if (typeof props === 'object' && props !== null) {
      for (const [k, child] of Object.entries(props)) {
        const problem = visit(child, [...path, k]);
        if (problem) return problem;
      }
    }
    return undefined;
  };
  const problem = visit(inputSchema, []);
  return problem ? { ok: false, reason: problem } : { ok: true, bindings };
}

/**
 * §Custom Headers, §Value Encoding: the `Mcp-Param-*` headers for one tools/call. A null or absent
 * argument gets no header; integers outside JavaScript's safe range are not mirrored.
 */
export function paramHeaders(bindings: ParamHeaderBinding[], args: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const b of bindings) {
    let v: unknown = args;
    for (const k of b.path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
    if (typeof v === 'string') out[b.header] = headerValue(v);
    else if (typeof v === 'boolean') out[b.header] = v ? 'true' : 'false';
    else if (typeof v === 'number' && Number.isSafeInteger(v)) out[b.header] = String(v);
  }
  return out;
}

function pathText(path: string[]): string {
  return path.length === 0 ? 'the schema root' : path.join('.');
}

function printable(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}
