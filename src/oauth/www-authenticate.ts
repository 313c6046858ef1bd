/**
 * `WWW-Authenticate` (RFC 9110 §11.6.1) parsing and formatting, for RFC 6750 Bearer challenges
 * and the RFC 9728 §5.1 `resource_metadata` parameter.
 *
 * Hand-written because it is small, has no I/O, and must accept several challenges in one header
 * (e.g. `DPoP algs="ES256", Bearer scope="a b", error="insufficient_scope"`).
 */
export interface Challenge {
  /** Lowercased auth scheme, e.g. `bearer`, `dpop`. */
  scheme: string;
  /** Lowercased parameter names → values (quoted strings unescaped). */
  params: Record<string, string>;
  token68?: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

export function parseWwwAuthenticate(header: string | null | undefined): Challenge[] {
  if (!header) return [];
  const challenges: Challenge[] = [];
  let rest = header;
  let current: Challenge | undefined;
  const skip = (re: RegExp) => {
    const m = re.exec(rest);
    if (m) rest = rest.slice(m[0].length);
    return m?.[0];
  };
  while (rest.length > 0) {
    skip(/^[\s,]+/);
    if (!rest) break;
    const token = skip(TOKEN);
    if (!token) break; // garbage: stop, keep what was parsed
    skip(/^[ \t]*/);
    if (rest.startsWith('=') && current && !rest.startsWith('==')) {
      // auth-param of the current challenge
      rest = rest.slice(1);
      skip(/^[ \t]*/);
      let value: string | undefined;
      if (rest.startsWith('"')) {
        value = readQuoted();
        if (value === undefined) break;
      } else {
        value = skip(TOKEN) ?? '';
      }
      current.params[token.toLowerCase()] = value;
      continue;
    }
    // a new challenge: `scheme [token68 | #auth-param]`
    current = { scheme: token.toLowerCase(), params: {} };
    challenges.push(current);
    // RFC 9110 §11.2: an auth-param has a non-empty value, so `abc=` (end or comma next) is a token68.
    const lookahead = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=(?!=)[ \t]*[^\s,]/.exec(rest);
    if (!lookahead && !rest.startsWith(',')) {
      const t68 = skip(TOKEN68);
      if (t68) current.token68 = t68;
    }
  }
  return challenges;

  function readQuoted(): string | undefined {
    let out = '';
    for (let i = 1; i < rest.length; i++) {
      const c = rest[i];
      if (c === '\\' && i + 1 < rest.length) {
        out += rest[++i];
      } else if (c === '"') {
        rest = rest.slice(i + 1);
        return out;
      } else {
        out += c;
      }
    }
    return undefined; // unterminated quoted-string
  }
}

/** The Bearer challenge's parameters, or undefined when the header has no Bearer challenge. */
export function bearerChallenge(header: string | null | undefined): Record<string, string> | undefined {
  return parseWwwAuthenticate(header).find((c) => c.scheme === 'bearer')?.params;
}

/** Formats one challenge; every value is a quoted-string (RFC 6750 §3). */
export function formatChallenge(scheme: string, params: Record<string, string | undefined>): string {
  const parts = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}="${v.replace(/[\\"]/g, '\\$&')}"`);
  return parts.length ? `${scheme} ${parts.join(', ')}` : scheme;
}
