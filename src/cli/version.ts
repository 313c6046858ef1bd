/** The package version, for `--version`, `clientInfo` and DCR `software_version`. */
import pkg from '../../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
