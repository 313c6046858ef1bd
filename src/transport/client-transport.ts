/**
 * Choosing a transport for a server URL: Streamable HTTP, the 2024-11-05 HTTP+SSE transport, or
 * Streamable HTTP first with the fallback transports §Backward Compatibility describes: when the
 * first POST is answered the way an old server answers it, open the SSE stream instead.
 */
import { silentLogger } from '../logger.js';
import { isTransportError } from './errors.js';
import type { JsonRpcMessage } from './jsonrpc.js';
import { createLegacySseClient } from './legacy-sse.js';
import { createStreamableHttpClient } from './streamable-http.js';
import type { ClientTransportOptions, McpClientTransport, SendOptions } from './types.js';

export type TransportStrategy = 'http-first' | 'http-only' | 'sse-only';

export function createClientTransport(
  opts: ClientTransportOptions & { strategy: TransportStrategy },
): McpClientTransport {
  if (opts.strategy === 'http-only') return createStreamableHttpClient(opts);
  if (opts.strategy === 'sse-only') return createLegacySseClient(opts);
  return new FallbackTransport(opts);
}

/** Streamable HTTP until its first POST says otherwise; then HTTP+SSE for good. */
class FallbackTransport implements McpClientTransport {
  onmessage: McpClientTransport['onmessage'];
  onsessionexpired: McpClientTransport['onsessionexpired'];
  private current: McpClientTransport;
  private decided = false;

  constructor(private readonly opts: ClientTransportOptions) {
    this.current = this.wire(createStreamableHttpClient(opts));
  }

  get kind() {
    return this.current.kind;
  }
  get sessionId() {
    return this.current.sessionId;
  }
  get protocolVersion() {
    return this.current.protocolVersion;
  }

  async send(message: JsonRpcMessage, opts?: SendOptions): Promise<void> {
    if (this.decided) return this.current.send(message, opts);
    try {
      await this.current.send(message, opts);
      this.decided = true;
    } catch (error) {
      if (!isTransportError(error, 'not_streamable_http')) throw error;
      this.decided = true;
      (this.opts.logger ?? silentLogger).info(
        { status: error.status },
        'the server does not speak Streamable HTTP; falling back to HTTP+SSE (2024-11-05)',
      );
      const previous = this.current;
      this.current = this.wire(createLegacySseClient(this.opts));
      await previous.close();
      try {
        await this.current.send(message, opts);
      } catch (fallbackError) {
        // Neither transport works: the first answer is the more telling one.
        if (
          isTransportError(fallbackError, 'http_error') ||
          isTransportError(fallbackError, 'malformed_response')
        ) {
          throw error;
        }
        throw fallbackError;
      }
    }
  }

  close(): Promise<void> {
    return this.current.close();
  }

  private wire(t: McpClientTransport): McpClientTransport {
    t.onmessage = (m, raw) => this.onmessage?.(m, raw);
    t.onsessionexpired = () => this.onsessionexpired?.();
    return t;
  }
}
