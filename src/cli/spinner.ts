/**
 * A small spinner on stderr while the CLI waits for something a person does (the browser login).
 * On a terminal it animates one line and erases it when stopped; anywhere else it writes its text
 * once, as a plain line, so logs and CI output stay readable. Hand-written: twenty lines are
 * safer here than a dependency.
 */
export interface SpinnerStream {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
}

export interface Spinner {
  /** Stops animating and erases the line; `finalLine`, if given, is written in its place. */
  stop(finalLine?: string): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const INTERVAL_MS = 80;
const CLEAR_LINE = '\r\x1b[2K';

export function startSpinner(
  stream: SpinnerStream,
  text: string,
  opts: { signal?: AbortSignal } = {},
): Spinner {
  let stopped = false;
  if (!stream.isTTY) {
    stream.write(`${text}\n`);
    return {
      stop(finalLine) {
        if (stopped) return;
        stopped = true;
        if (finalLine) stream.write(`${finalLine}\n`);
      },
    };
  }
  let frame = 0;
  const draw = () => stream.write(`${CLEAR_LINE}${FRAMES[frame++ % FRAMES.length]} ${text}`);
  draw();
  const timer = setInterval(draw, INTERVAL_MS);
  timer.unref(); // never what keeps the process alive
  const spinner: Spinner = {
    stop(finalLine) {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      stream.write(CLEAR_LINE);
      if (finalLine) stream.write(`${finalLine}\n`);
    },
  };
  const onAbort = () => spinner.stop();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  return spinner;
}
