/** Where the CLI keeps its state and config: `--home`, else `$PORTCULLIS_HOME`, else the platform's config dir. */
import path from 'node:path';
import { defaultStateDir } from '../store/state-dir.js';

export function resolveHome(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return path.resolve(flag ?? defaultStateDir({ env }));
}
