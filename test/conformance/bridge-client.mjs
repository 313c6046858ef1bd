// Conformance client for `portcullis connect`: a host talking to the suite's server THROUGH the
// bridge (host —stdio→ bridge —Streamable HTTP→ suite). The suite runs `<command> <serverUrl>`
// with MCP_CONFORMANCE_SCENARIO (and MCP_CONFORMANCE_CONTEXT for some scenarios).
//
// Two hosts, as in the field:
// - the SDK's Client + StdioClientTransport (a 2025-11-25 host) for the session-era scenarios;
// - a small raw JSON-RPC host speaking the stateless 2026-07-28 revision (per-request `_meta`,
//   server/discover, MRTR) for the scenarios the SDK 1.32 client cannot speak. The bridge itself
//   is the same in both cases; what it owes each revision is on the HTTP leg.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const serverUrl = process.argv.at(-1);
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}');
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BRIDGE = ['--import', 'tsx', 'test/bridge/dev-entry.ts', serverUrl, '--log-level', 'info'];
const STATELESS = '2026-07-28';
const clientInfo = { name: 'portcullis-bridge-conformance', version: '1.0.0' };

const RAW_SCENARIOS = new Set([
  'http-standard-headers',
  'http-custom-headers',
  'http-invalid-tool-headers',
  'request-metadata',
  'sep-2322-client-request-state',
  'json-schema-ref-no-deref',
]);

try {
  if (RAW_SCENARIOS.has(scenario) || process.env.BRIDGE_HOST === 'raw') await rawHost();
  else await sdkHost();
  process.exit(0);
} catch (error) {
  console.error(`[${scenario}]`, error);
  process.exit(1);
}

/** The SDK client as the host: the 2025-11-25 scenarios. */
async function sdkHost() {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: BRIDGE,
    cwd: REPO,
    stderr: 'inherit',
  });
  const client = new Client(clientInfo, { capabilities: { elicitation: { form: { applyDefaults: true } } } });
  // elicitation-sep1034-client-defaults: accept and let the SDK fill in the schema's defaults.
  client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: {} }));
  await client.connect(transport);
  if (scenario !== 'initialize') {
    const { tools } = await client.listTools();
    if (scenario === 'json-schema-2020-12-preservation') {
      const focal = tools.find((t) => t.name === 'json_schema_2020_12_tool');
      await client.callTool({ name: 'json_schema_echo', arguments: { schema: focal?.inputSchema } });
    } else {
      const tool = tools[0];
      const args = Object.fromEntries((tool?.inputSchema.required ?? []).map((k) => [k, 1]));
      if (tool) await client.callTool({ name: tool.name, arguments: args });
    }
  }
  await client.close();
}

/** A 2026-07-28 host on raw stdio. */
async function rawHost() {
  const host = startRawHost();
  let version = STATELESS;
  const capabilities = { roots: {}, sampling: {}, elicitation: {} };
  const meta = () => ({
    'io.modelcontextprotocol/protocolVersion': version,
    'io.modelcontextprotocol/clientInfo': clientInfo,
    'io.modelcontextprotocol/clientCapabilities': capabilities,
  });
  const request = async (method, params = {}) => {
    const answer = await host.request(method, { ...params, _meta: meta() });
    // Versioning §Negotiation: an UnsupportedProtocolVersionError lists what the server speaks.
    const supported = answer.error?.data?.supported;
    if (answer.error?.code === -32022 && Array.isArray(supported) && supported.includes(STATELESS)) {
      version = STATELESS;
      return host.request(method, { ...params, _meta: meta() });
    }
    return answer;
  };
  const result = (answer) => {
    if (answer.error) throw new Error(`${answer.error.code}: ${answer.error.message}`);
    return answer.result;
  };

  if (scenario === 'http-standard-headers') {
    // The session-era handshake too, asking for the stateless revision, so its headers are checked.
    result(await request('initialize', { protocolVersion: STATELESS, capabilities, clientInfo }));
    host.notify('notifications/initialized', { _meta: meta() });
  } else {
    result(await request('server/discover'));
  }

  if (scenario === 'request-metadata') {
    result(await request('tools/list'));
    return host.close();
  }

  const { tools } = result(await request('tools/list'));
  if (scenario === 'http-custom-headers') {
    for (const call of context.toolCalls ?? []) result(await request('tools/call', call));
  } else if (scenario === 'sep-2322-client-request-state') {
    for (const tool of tools) await callWithInputs(tool.name);
  } else if (scenario === 'json-schema-2020-12-preservation') {
    const focal = tools.find((t) => t.name === 'json_schema_2020_12_tool');
    result(
      await request('tools/call', { name: 'json_schema_echo', arguments: { schema: focal?.inputSchema } }),
    );
  } else if (scenario !== 'json-schema-ref-no-deref') {
    for (const tool of tools)
      result(await request('tools/call', { name: tool.name, arguments: dummyArgs(tool) }));
  }
  if (scenario === 'http-standard-headers') {
    const { resources } = result(await request('resources/list'));
    for (const r of resources) result(await request('resources/read', { uri: r.uri }));
    const { prompts } = result(await request('prompts/list'));
    for (const p of prompts) result(await request('prompts/get', { name: p.name }));
  }
  return host.close();

  /** MRTR (SEP-2322): answer the input requests, then retry with a new id, echoing requestState. */
  async function callWithInputs(name) {
    let params = { name, arguments: {} };
    for (let round = 0; round < 5; round++) {
      const r = result(await request('tools/call', params));
      if (r.resultType !== 'input_required') return r;
      const inputResponses = {};
      for (const [key, input] of Object.entries(r.inputRequests ?? {})) {
        inputResponses[key] =
          input.method === 'elicitation/create'
            ? { action: 'accept', content: { confirmed: true } }
            : input.method === 'roots/list'
              ? { roots: [] }
              : { role: 'assistant', model: 'none', content: { type: 'text', text: 'ok' } };
      }
      params = {
        name,
        arguments: {},
        inputResponses,
        ...(r.requestState !== undefined ? { requestState: r.requestState } : {}),
      };
    }
    throw new Error(`${name}: too many MRTR rounds`);
  }
}

function dummyArgs(tool) {
  const props = tool.inputSchema?.properties ?? {};
  const value = (p) => (p.type === 'integer' || p.type === 'number' ? 1 : p.type === 'boolean' ? true : 'x');
  return Object.fromEntries((tool.inputSchema?.required ?? []).map((k) => [k, value(props[k] ?? {})]));
}

/** JSON-RPC over the bridge's stdin/stdout, one line per message. */
function startRawHost() {
  const child = spawn(process.execPath, BRIDGE, { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = new Map();
  let nextId = 1;
  let buffer = '';
  child.stdout.on('data', (chunk) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const message = JSON.parse(line); // the bridge writes nothing else; a throw here is a finding
      if ('id' in message && !('method' in message)) {
        waiting.get(message.id)?.(message);
        waiting.delete(message.id);
      } else if ('id' in message) {
        // The stateless revision sends no requests to the client; answer anything with an error.
        child.stdin.write(
          `${JSON.stringify({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'not supported' } })}\n`,
        );
      }
    }
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    request(method, params) {
      const id = nextId++;
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
      return new Promise((resolve) => waiting.set(id, resolve));
    },
    notify(method, params) {
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method, params })}\n`);
    },
    async close() {
      child.stdin.end();
      await exited;
    },
  };
}
