/** Where portcullis keeps its state when nobody says otherwise. */
import { homedir } from 'node:os';
import path from 'node:path';

export interface StateDirEnvironment {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  homedir?: string;
}

/**
 * `$PORTCULLIS_HOME`, else the platform's configuration directory: `%APPDATA%\portcullis` on
 * Windows, `~/Library/Application Support/portcullis` on macOS, and `$XDG_CONFIG_HOME/portcullis`
 * or `~/.config/portcullis` elsewhere (XDG Base Directory: a relative value is ignored).
 */
export function defaultStateDir(from: StateDirEnvironment = {}): string {
  const env = from.env ?? process.env;
  const platform = from.platform ?? process.platform;
  const home = from.homedir ?? homedir();
  if (env['PORTCULLIS_HOME']) return env['PORTCULLIS_HOME'];
  if (platform === 'win32') {
    const appData = env['APPDATA'] || path.win32.join(home, 'AppData', 'Roaming');
    return path.win32.join(appData, 'portcullis');
  }
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Application Support', 'portcullis');
  const xdg = env['XDG_CONFIG_HOME'];
  if (xdg && path.posix.isAbsolute(xdg)) return path.posix.join(xdg, 'portcullis');
  return path.posix.join(home, '.config', 'portcullis');
}
