/**
 * The user's upstream access token as a file, for a stdio child (`{{upstream.access_token_file}}`):
 * a private directory (0700) holding one file (0600) that the gateway rewrites atomically whenever
 * the token changes, so a session that outlives one IdP token reads the next (the pattern of
 * Kubernetes' projected service-account token files). Errors never carry the token.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, open, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FILE_NAME = 'access_token';

export class TokenFile {
  /** The file's absolute path, for the child's environment. */
  readonly path: string;
  /** What the file holds now: an unchanged token is not written again. */
  private written: string | undefined;
  /** Writes and the removal run one at a time, in call order. */
  private queue: Promise<unknown> = Promise.resolve();
  private removed: Promise<void> | undefined;

  /** Creates the directory and writes `token` into it. */
  static async create(token: string): Promise<TokenFile> {
    let dir: string;
    try {
      dir = await mkdtemp(join(tmpdir(), 'portcullis-token-'));
      await chmod(dir, 0o700); // mkdtemp's default, made explicit
    } catch (err) {
      throw fileError('could not create the upstream token directory', err);
    }
    try {
      await writeAtomically(dir, token);
    } catch (err) {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      throw err;
    }
    const file = new TokenFile(dir);
    file.written = token;
    return file;
  }

  private constructor(readonly dir: string) {
    this.path = join(dir, FILE_NAME);
  }

  /** Replaces the file's content with `token` unless it holds it already; resolves whether it wrote. */
  update(token: string): Promise<boolean> {
    const next = this.queue.then(async () => {
      if (this.removed || token === this.written) return false;
      await writeAtomically(this.dir, token);
      this.written = token;
      return true;
    });
    this.queue = next.catch(() => {});
    return next;
  }

  /** Removes the directory, after a write in progress; idempotent. Later updates write nothing. */
  remove(): Promise<void> {
    this.removed ??= this.queue.then(() =>
      rm(this.dir, { recursive: true, force: true }).catch((err: unknown) => {
        throw fileError('could not remove the upstream token directory', err);
      }),
    );
    return this.removed;
  }
}

/** A private temporary file in the same directory, renamed over the old: readers never see half a token. */
async function writeAtomically(dir: string, token: string): Promise<void> {
  const temp = join(dir, `.${FILE_NAME}.${randomBytes(8).toString('hex')}`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.chmod(0o600); // whatever the umask
      await handle.writeFile(token, 'utf8');
    } finally {
      await handle.close();
    }
    await rename(temp, join(dir, FILE_NAME));
  } catch (err) {
    await rm(temp, { force: true }).catch(() => {});
    throw fileError('could not write the upstream token file', err);
  }
}

/** File-system errors name paths and system calls, never the data: the code is kept, the token cannot be. */
function fileError(what: string, cause: unknown): Error {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new Error(code ? `${what} (${code})` : what, { cause });
}
