/**
 * 2026-07-28 §Custom Headers from Tool Parameters (SEP-2243; tools §x-mcp-header): reading and
 * checking a tool's `x-mcp-header` annotations, remembering them per tool from `tools/list`,
 * dropping tools whose annotations are invalid (T8), and mirroring arguments into
 * `Mcp-Param-{Name}` headers on `tools/call` (C44).
 */

import { HTTP_TOKEN } from '../http-syntax.js';
import type { Logger } from '../logger.js';
import type { JsonRpcSuccess } from './jsonrpc.js';
import { headerValue } from './request-headers.js';

// RFC 9110 §5.6.2: a field name is 1*tchar.

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
      if (!HTTP_TOKEN.test(name))
        return `x-mcp-header "${printable(name)}" at ${pathText(path)} is not an HTTP token`;
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
    for (const k of b.path)
      v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
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

/** What the transport knows of each tool's header bindings, learnt from `tools/list` results. */
export class ToolHeaderRegistry {
  private readonly bindings = new Map<string, ParamHeaderBinding[]>();

  constructor(private readonly logger: Logger) {}

  /**
   * Records every tool's bindings and returns the result without the tools whose annotations are
   * invalid ("MUST exclude the invalid tool from the result of tools/list"), or undefined when
   * nothing had to be dropped.
   */
  record(response: JsonRpcSuccess): JsonRpcSuccess | undefined {
    const tools = response.result['tools'];
    if (!Array.isArray(tools)) return undefined;
    const kept: unknown[] = [];
    for (const tool of tools) {
      const name = (tool as { name?: unknown } | null)?.name;
      if (typeof name !== 'string') {
        kept.push(tool);
        continue;
      }
      const plan = planToolHeaders((tool as { inputSchema?: unknown }).inputSchema);
      if (!plan.ok) {
        // "Clients SHOULD log a warning when rejecting a tool definition, including the tool name and the reason."
        this.logger.warn({ tool: name, reason: plan.reason }, 'dropping a tool with an invalid x-mcp-header');
        this.bindings.delete(name);
        continue;
      }
      if (plan.bindings.length > 0) this.bindings.set(name, plan.bindings);
      else this.bindings.delete(name);
      kept.push(tool);
    }
    if (kept.length === tools.length) return undefined;
    return { ...response, result: { ...response.result, tools: kept } };
  }

  /** The `Mcp-Param-*` headers for a tools/call of `name` with `args` (none if the tool is unknown). */
  headersFor(name: unknown, args: unknown): Record<string, string> {
    const b = typeof name === 'string' ? this.bindings.get(name) : undefined;
    return b ? paramHeaders(b, args) : {};
  }
}
