/**
 * Reads the answer to the probe's `initialize` from a JSON body or the first SSE event that holds
 * a JSON-RPC response (WHATWG HTML §9.2 event stream: `data:` lines up to a blank line), within a
 * size bound, then stops reading. Hand-written: a few lines, and the probe must not pull in a parser.
 */
const MAX_BYTES = 256 * 1024;

export interface InitializeAnswer {
  protocolVersion?: string;
  serverInfo?: Record<string, unknown>;
}

export async function readInitializeResult(
  response: Response,
  signal: AbortSignal,
): Promise<InitializeAnswer | undefined> {
  const type = (response.headers.get('content-type') ?? '').toLowerCase();
  if (!response.body) return undefined;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const onAbort = () => reader.cancel().catch(() => {});
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (type.includes('application/json')) {
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
        if (text.length > MAX_BYTES) return undefined;
      }
      return answerIn(text);
    }
    if (!type.includes('text/event-stream')) return undefined;
    let buffer = '';
    let data: string[] = [];
    let read = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return undefined;
      read += value.length;
      if (read > MAX_BYTES) return undefined;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') {
          const answer = data.length ? answerIn(data.join('\n')) : undefined;
          if (answer) return answer;
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
        }
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    await reader.cancel().catch(() => {});
  }
}

function answerIn(text: string): InitializeAnswer | undefined {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return undefined;
  }
  const first = Array.isArray(message) ? message[0] : message;
  if (typeof first !== 'object' || first === null || (first as { jsonrpc?: unknown }).jsonrpc !== '2.0') {
    return undefined;
  }
  const result = (first as { result?: unknown }).result;
  if (typeof result !== 'object' || result === null)
    return (first as { error?: unknown }).error ? {} : undefined;
  const { protocolVersion, serverInfo } = result as { protocolVersion?: unknown; serverInfo?: unknown };
  return {
    ...(typeof protocolVersion === 'string' ? { protocolVersion } : {}),
    ...(typeof serverInfo === 'object' && serverInfo !== null
      ? { serverInfo: serverInfo as Record<string, unknown> }
      : {}),
  };
}
