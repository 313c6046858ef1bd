import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import {
  declaredVersion,
  headerValue,
  isStatelessRevision,
  standardHeaders,
} from '../../src/transport/request-headers.js';
import { paramHeaders, planToolHeaders, ToolHeaderRegistry } from '../../src/transport/tool-headers.js';

describe('2026-07-28 header value encoding (§Value Encoding)', () => {
  it.each([
    ['us-west1', 'us-west1'],
    ['us west 1', 'us west 1'],
    ['Hello, 世界', '=?base64?SGVsbG8sIOS4lueVjA==?='],
    [' padded ', '=?base64?IHBhZGRlZCA=?='],
    ['line1\nline2', '=?base64?bGluZTEKbGluZTI=?='],
    ['=?base64?literal?=', '=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?='],
    ['\tindented', `=?base64?${Buffer.from('\tindented').toString('base64')}?=`],
    ['', ''],
  ])('encodes %j as %j', (value, encoded) => {
    expect(headerValue(value)).toBe(encoded);
  });
});

describe('2026-07-28 standard request headers', () => {
  it('sends Mcp-Method on everything and Mcp-Name for tools/call, resources/read and prompts/get', () => {
    expect(
      standardHeaders({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'my-tool' } }),
    ).toEqual({
      'Mcp-Method': 'tools/call',
      'Mcp-Name': 'my-tool',
    });
    expect(
      standardHeaders({
        jsonrpc: '2.0',
        id: 1,
        method: 'resources/read',
        params: { uri: 'file:///a%20b.txt' },
      }),
    ).toEqual({ 'Mcp-Method': 'resources/read', 'Mcp-Name': 'file:///a%20b.txt' });
    expect(
      standardHeaders({ jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name: 'greet' } }),
    ).toEqual({
      'Mcp-Method': 'prompts/get',
      'Mcp-Name': 'greet',
    });
    expect(standardHeaders({ jsonrpc: '2.0', method: 'notifications/initialized' })).toEqual({
      'Mcp-Method': 'notifications/initialized',
    });
    expect(standardHeaders({ jsonrpc: '2.0', id: 1, result: {} })).toEqual({});
  });

  it('reads the version a message declares in _meta, and knows which revisions are stateless', () => {
    const m = {
      jsonrpc: '2.0' as const,
      id: 1,
      method: 'tools/list',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } },
    };
    expect(declaredVersion(m)).toBe('2026-07-28');
    expect(isStatelessRevision('2026-07-28')).toBe(true);
    expect(isStatelessRevision('2025-11-25')).toBe(false);
    expect(isStatelessRevision(undefined)).toBe(false);
    expect(isStatelessRevision('DRAFT-2026-v1')).toBe(false);
  });
});

describe('x-mcp-header annotations (tools §x-mcp-header)', () => {
  const schema = (prop: Record<string, unknown>) => ({ type: 'object', properties: { p: prop } });

  it.each([
    ['empty', schema({ type: 'string', 'x-mcp-header': '' })],
    ['on an object', schema({ type: 'object', 'x-mcp-header': 'Data' })],
    ['on an array', schema({ type: 'array', items: { type: 'string' }, 'x-mcp-header': 'Items' })],
    ['on null', schema({ type: 'null', 'x-mcp-header': 'Nil' })],
    ['on a number', schema({ type: 'number', 'x-mcp-header': 'Score' })],
    ['with a space', schema({ type: 'string', 'x-mcp-header': 'My Region' })],
    ['with a colon', schema({ type: 'string', 'x-mcp-header': 'Region:Primary' })],
    ['non-ASCII', schema({ type: 'string', 'x-mcp-header': 'Région' })],
    ['with a control character', schema({ type: 'string', 'x-mcp-header': 'Region\t1' })],
    [
      'duplicated case-insensitively',
      {
        type: 'object',
        properties: {
          a: { type: 'string', 'x-mcp-header': 'MyField' },
          b: { type: 'string', 'x-mcp-header': 'myfield' },
        },
      },
    ],
  ])('rejects an annotation %s', (_, inputSchema) => {
    expect(planToolHeaders(inputSchema).ok).toBe(false);
  });

  it('accepts string, integer and boolean annotations at any depth', () => {
    const plan = planToolHeaders({
      type: 'object',
      properties: {
        region: { type: 'string', 'x-mcp-header': 'Region' },
        opts: {
          type: 'object',
          properties: { priority: { type: ['integer', 'null'], 'x-mcp-header': 'Priority' } },
        },
        verbose: { type: 'boolean', 'x-mcp-header': 'Verbose' },
        query: { type: 'string' },
      },
    });
    expect(plan).toEqual({
      ok: true,
      bindings: [
        { path: ['region'], header: 'Mcp-Param-Region' },
        { path: ['opts', 'priority'], header: 'Mcp-Param-Priority' },
        { path: ['verbose'], header: 'Mcp-Param-Verbose' },
      ],
    });
  });

  it('mirrors values with the type conversions, omits null and absent ones, and base64-encodes unsafe strings', () => {
    const bindings = [
      { path: ['region'], header: 'Mcp-Param-Region' },
      { path: ['priority'], header: 'Mcp-Param-Priority' },
      { path: ['verbose'], header: 'Mcp-Param-Verbose' },
      { path: ['debug'], header: 'Mcp-Param-Debug' },
      { path: ['greeting'], header: 'Mcp-Param-Greeting' },
      { path: ['missing'], header: 'Mcp-Param-Missing' },
      { path: ['huge'], header: 'Mcp-Param-Huge' },
    ];
    expect(
      paramHeaders(bindings, {
        region: 'us-west1',
        priority: 42,
        verbose: false,
        debug: null,
        greeting: 'Hello, 世界',
        huge: 2 ** 60,
      }),
    ).toEqual({
      'Mcp-Param-Region': 'us-west1',
      'Mcp-Param-Priority': '42',
      'Mcp-Param-Verbose': 'false',
      'Mcp-Param-Greeting': '=?base64?SGVsbG8sIOS4lueVjA==?=',
    });
  });

  it('drops only the tools with invalid annotations from a tools/list result', () => {
    const registry = new ToolHeaderRegistry(silentLogger);
    const filtered = registry.record({
      jsonrpc: '2.0',
      id: 1,
      result: {
        tools: [
          { name: 'good', inputSchema: schema({ type: 'string', 'x-mcp-header': 'Region' }) },
          { name: 'bad', inputSchema: schema({ type: 'number', 'x-mcp-header': 'Score' }) },
          { name: 'plain', inputSchema: { type: 'object' } },
        ],
        nextCursor: 'c',
      },
    });
    expect(filtered?.result).toEqual({
      tools: [
        { name: 'good', inputSchema: schema({ type: 'string', 'x-mcp-header': 'Region' }) },
        { name: 'plain', inputSchema: { type: 'object' } },
      ],
      nextCursor: 'c',
    });
    expect(registry.headersFor('good', { p: 'eu' })).toEqual({ 'Mcp-Param-Region': 'eu' });
    expect(registry.headersFor('bad', { p: 1 })).toEqual({});
  });
});
