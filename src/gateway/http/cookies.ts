/**
 * Cookies for the browser-facing pages (consent, login session). MCP SBP §Confused Deputy / A34:
 * `__Host-` prefix, Secure, HttpOnly, SameSite=Lax, Path=/. The one documented exception is dev
 * mode on plain-http loopback, where browsers refuse `Secure` cookies and therefore `__Host-`:
 * there the same cookies go without the prefix and without Secure.
 */
export interface CookiePolicy {
  /** True for https issuers: `__Host-` names and the Secure attribute. */
  secure: boolean;
}

export function cookieName(base: string, policy: CookiePolicy): string {
  return policy.secure ? `__Host-${base}` : base;
}

export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export function serializeCookie(
  name: string,
  value: string,
  policy: CookiePolicy,
  opts: { maxAgeSeconds: number },
): string {
  const parts = [
    `${name}=${encodeURIComponent(value)}`,
    'Path=/', // `__Host-` requires Path=/ and no Domain
    `Max-Age=${opts.maxAgeSeconds}`,
    'HttpOnly',
    'SameSite=Lax',
  ];
  if (policy.secure) parts.push('Secure');
  return parts.join('; ');
}

export function clearCookie(name: string, policy: CookiePolicy): string {
  return serializeCookie(name, '', policy, { maxAgeSeconds: 0 });
}
