/**
 * A deliberately tiny MCP client over a transport, for the CLI's `tools` and `call`: the
 * initialize handshake (MCP §Lifecycle), id correlation, timeouts with `notifications/cancelled`
 * (§Cancellation), and polite answers to what a server may ask (ping; nothing else is offered).
 */
import { type Logger, silentLogger } from '../logger.js';
import { McpRequestError, TransportError } from './errors.js';

export { McpRequestError };

import {
  errorResponse,
  idKey,
  isNotification,
  isRequest,
  isResponse,
  JsonRpcErrorCode,
  type JsonRpcMessage,
  type JsonRpcNotification,
} from './jsonrpc.js';
import type { McpClientTransport } from './types.js';

export const LATEST_PROTOCOL_VERSION = '2025-11-25';
export const SUPPORTED_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];

export interface McpSession {
  request<T = Record<string, unknown>>(
    method: string,
    params?: Record<string, unknown>,
    opts?: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<T>;
  notify(method: string, params?: Record<string, unknown>): Promise<void>;
  readonly serverInfo: { name: string; version: string; [k: string]: unknown };
  readonly serverCapabilities: Record<string, unknown>;
  readonly protocolVersion: string;
  readonly instructions: string | undefined;
  close(): Promise<void>;
}

export interface OpenMcpSessionOptions {
  transport: McpClientTransport;
  clientInfo: { name: string; version: string };
  capabilities?: Record<string, unknown>;
  /** Default per-request timeout (60 s). */
  timeoutMs?: number;
  /** Server notifications (progress, logging, list_changed…). */
  onNotification?: (notification: JsonRpcNotification) => void;
  logger?: Logger;
  signal?: AbortSignal;
}

export async function openMcpSession(opts: OpenMcpSessionOptions): Promise<McpSession> {
  const { transport } = opts;
  const logger = opts.logger ?? silentLogger;
  const defaultTimeout = opts.timeoutMs ?? 60_000;
  const waiting = new Map<string, { resolve(v: Record<string, unknown>): void; reject(e: unknown): void }>();
  let nextId = 1;

  transport.onmessage = (message: JsonRpcMessage) => {
    if (isResponse(message)) {
      if (message.id === null) return;
      const w = waiting.get(idKey(message.id));
      if (!w) return;
      waiting.delete(idKey(message.id));
      if ('error' in message)
        w.reject(new McpRequestError(message.error.code, message.error.message, message.error.data));
      else w.resolve(message.result);
    } else if (isRequest(message)) {
      // The CLI offers no sampling, elicitation or roots: answer ping, refuse the rest (JSON-RPC 2.0 §5.1).
      const reply =
        message.method === 'ping'
          ? { jsonrpc: '2.0' as const, id: message.id, result: {} }
          : errorResponse(message.id, {
              code: JsonRpcErrorCode.MethodNotFound,
              message: `${message.method} is not supported`,
            });
      transport.send(reply).catch((e) => logger.debug({ err: e }, 'could not answer a server request'));
    } else if (isNotification(message)) {
      opts.onNotification?.(message);
    }
  };

  const request = async <T>(
    method: string,
    params: Record<string, unknown> | undefined,
    ropts: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined } = {},
  ): Promise<T> => {
    const id = nextId++;
    const key = idKey(id);
    const signal = AbortSignal.any(
      [AbortSignal.timeout(ropts.timeoutMs ?? defaultTimeout), ropts.signal, opts.signal].filter(
        (s): s is AbortSignal => s !== undefined,
      ),
    );
    const result = new Promise<Record<string, unknown>>((resolve, reject) =>
      waiting.set(key, { resolve, reject }),
    );
    const onAbort = () => {
      const timedOut = signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError';
      waiting
        .get(key)
        ?.reject(
          new McpRequestError(
            timedOut ? 'timeout' : 'aborted',
            `${method} ${timedOut ? 'timed out' : 'was aborted'}`,
          ),
        );
      waiting.delete(key);
      // §Cancellation: tell the server to stop working on it.
      transport
        .send({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: id, reason: String(signal.reason) },
        })
        .catch(() => {});
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const message = { jsonrpc: '2.0' as const, id, method, ...(params ? { params } : {}) };
    transport.send(message).catch((error: unknown) => {
      waiting.get(key)?.reject(error);
      waiting.delete(key);
    });
    try {
      return (await result) as T;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };

  // §Lifecycle: initialize, check the version, then notifications/initialized.
  const init = await request<Record<string, unknown>>('initialize', {
    protocolVersion: LATEST_PROTOCOL_VERSION,
    capabilities: opts.capabilities ?? {},
    clientInfo: opts.clientInfo,
  });
  const protocolVersion = init['protocolVersion'];
  if (typeof protocolVersion !== 'string' || !SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersion)) {
    await transport.close();
    throw new McpRequestError(
      'unsupported_protocol_version',
      `the server chose protocol version ${String(protocolVersion)}, which this client does not speak`,
    );
  }
  await transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });

  return {
    request: (method, params, ropts) => request(method, params, ropts),
    notify: (method, params) => transport.send({ jsonrpc: '2.0', method, ...(params ? { params } : {}) }),
    serverInfo: (init['serverInfo'] ?? { name: 'unknown', version: 'unknown' }) as McpSession['serverInfo'],
    serverCapabilities: (init['capabilities'] ?? {}) as Record<string, unknown>,
    protocolVersion,
    instructions: typeof init['instructions'] === 'string' ? init['instructions'] : undefined,
    async close() {
      for (const w of waiting.values()) w.reject(new TransportError('closed', 'the session was closed'));
      waiting.clear();
      await transport.close();
    },
  };
}
