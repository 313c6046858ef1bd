// A stand-in `$BROWSER` for tests of the terminal host: logs in as $LOGIN (default alice) with the
// fixture agent, which then loads the loopback redirect URI like a real browser would.
import { DEFAULT_USERS } from '../fixtures/authorization-server.js';
import { completeAuthorization } from '../fixtures/browser-agent.js';

const url = process.argv.at(-1)!;
const login = process.env['LOGIN'] ?? 'alice';
await completeAuthorization(url, { login, password: DEFAULT_USERS[login]?.password ?? '' });
