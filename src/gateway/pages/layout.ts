/**
 * The shell every server-rendered page shares: escaping, one stylesheet, and the headers that
 * keep the pages out of frames and caches (MCP SBP §Confused Deputy: `frame-ancestors 'none'`,
 * `X-Frame-Options: DENY`). No script runs on any page; styles carry a per-response nonce.
 */
import { randomBytes } from 'node:crypto';

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** Tagged template: interpolations are escaped unless wrapped in `raw()`. */
export function html(strings: TemplateStringsArray, ...values: Array<string | number | Raw | Raw[]>): Raw {
  let out = strings[0]!;
  values.forEach((v, i) => {
    if (Array.isArray(v)) out += v.map((r) => r.value).join('');
    else if (v instanceof Raw) out += v.value;
    else out += escapeHtml(String(v));
    out += strings[i + 1]!;
  });
  return new Raw(out);
}

export class Raw {
  constructor(readonly value: string) {}
}

export function raw(value: string): Raw {
  return new Raw(value);
}

const STYLE = `
:root{--bg:#f4f5f7;--card:#fff;--ink:#16181d;--muted:#5c6370;--line:#e3e5e9;--accent:#3451d1;--accent-ink:#fff;
--warn-bg:#fff6e0;--warn-line:#f0c36d;--danger:#b42318;--radius:14px;
font-family:ui-sans-serif,system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink)}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#171a21;--ink:#e8eaee;--muted:#9aa1ad;--line:#2a2f3a;
--accent:#6d84ff;--warn-bg:#2b2414;--warn-line:#7a5d1e;--danger:#ff8a80}}
*{box-sizing:border-box}body{margin:0;min-height:100vh;background:var(--bg);display:flex;align-items:center;
justify-content:center;padding:32px 16px;line-height:1.5}
main{width:100%;max-width:440px}.card{background:var(--card);border:1px solid var(--line);border-radius:var(--radius);
padding:28px;box-shadow:0 1px 2px rgba(16,24,40,.04),0 8px 24px rgba(16,24,40,.06)}
.brand{display:flex;align-items:center;gap:8px;color:var(--muted);font-size:13px;font-weight:600;letter-spacing:.02em;
margin-bottom:18px}.brand svg{width:18px;height:18px}
h1{font-size:20px;line-height:1.3;margin:0 0 6px}p{margin:0 0 12px}.muted{color:var(--muted);font-size:14px}
.app{display:flex;align-items:center;gap:12px;margin:18px 0}.avatar{width:44px;height:44px;border-radius:10px;
background:var(--accent);color:var(--accent-ink);display:flex;align-items:center;justify-content:center;font-weight:700;
font-size:20px;flex:none}.app strong{display:block;font-size:16px}
dl{margin:16px 0;border-top:1px solid var(--line)}dl div{display:flex;justify-content:space-between;gap:12px;
padding:10px 0;border-bottom:1px solid var(--line);font-size:14px}dt{color:var(--muted);white-space:nowrap}dd{margin:0;text-align:right;overflow-wrap:anywhere;
font-weight:500}
ul.scopes{list-style:none;padding:0;margin:8px 0 16px}ul.scopes li{padding:8px 12px;border:1px solid var(--line);
border-radius:10px;margin-bottom:6px;font-size:14px}ul.scopes code{font-weight:600}
.warn{background:var(--warn-bg);border:1px solid var(--warn-line);border-radius:10px;padding:10px 12px;font-size:14px;
margin:12px 0}.actions{display:flex;gap:10px;margin-top:20px}
button,.button{flex:1;appearance:none;border-radius:10px;padding:11px 14px;font:inherit;font-weight:600;cursor:pointer;
border:1px solid var(--line);background:var(--card);color:var(--ink)}
button.primary{background:var(--accent);border-color:var(--accent);color:var(--accent-ink)}
button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
label{display:block;font-size:14px;font-weight:600;margin:12px 0 4px}input[type=text],input[type=password]{width:100%;
padding:10px 12px;border-radius:10px;border:1px solid var(--line);background:var(--bg);color:var(--ink);font:inherit}
.note{margin-top:14px}.error h1{color:var(--danger)}footer{text-align:center;color:var(--muted);font-size:12px;margin-top:14px}
`;

const LOGO =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true"><path d="M4 21V9l8-6 8 6v12"/><path d="M8 21v-8h8v8M8 17h8"/></svg>';

export interface PageOptions {
  title: string;
  body: Raw;
  className?: string;
}

/** A whole document, with the nonce its stylesheet needs. */
export function renderPage(opts: PageOptions): { html: string; nonce: string } {
  const nonce = randomBytes(16).toString('base64');
  const doc = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="same-origin"><title>${opts.title}</title><style nonce="${nonce}">${raw(STYLE)}</style></head>
<body><main><div class="card ${opts.className ?? ''}"><div class="brand">${raw(LOGO)}<span>Portcullis</span></div>${opts.body}</div>
<footer>Secured by Portcullis · OAuth 2.1 for MCP</footer></main></body></html>`;
  return { html: doc.value, nonce };
}

/** Headers for every page: no framing, no caching, no scripts, no referrer beyond the gateway (same-origin keeps `Origin` on form posts). */
export function pageHeaders(nonce: string): Record<string, string> {
  return {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy': `default-src 'none'; style-src 'nonce-${nonce}'; img-src data:; base-uri 'none'; frame-ancestors 'none'`,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'same-origin',
  };
}

export function pageResponse(
  opts: PageOptions,
  init: { status?: number; headers?: Record<string, string>; cookies?: string[] } = {},
): Response {
  const { html: body, nonce } = renderPage(opts);
  const headers = new Headers({ ...pageHeaders(nonce), ...init.headers });
  for (const c of init.cookies ?? []) headers.append('Set-Cookie', c);
  return new Response(body, { status: init.status ?? 200, headers });
}
