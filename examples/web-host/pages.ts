/**
 * What the example serves as HTML: the app's static page and script, and the tiny page the login
 * popup lands on, which reports to the window that opened it and closes itself. Every response
 * carries a strict CSP; the popup's page allows exactly one inline script, by its hash.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');

/** Headers every response gets: no framing, no sniffing, no Referer to the AS or anyone else. */
export const BASE_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** The app's page and its assets; undefined for any other path. */
export async function staticFile(pathname: string): Promise<Response | undefined> {
  const entry = STATIC_FILES[pathname];
  if (!entry) return undefined;
  const body = await readFile(path.join(PUBLIC_DIR, entry.file));
  return new Response(body, {
    headers: {
      ...BASE_HEADERS,
      'content-type': entry.type,
      'content-security-policy': APP_CSP,
      // The login popup keeps `window.opener` (it must post back), while other windows cannot reach us.
      'cross-origin-opener-policy': 'same-origin-allow-popups',
    },
  });
}

/** What the popup tells its opener. */
export type PopupMessage =
  | { type: 'portcullis:connected'; serverId: string }
  | { type: 'portcullis:failed'; serverId?: string; code: string; message: string };

/**
 * Posts the message to `window.opener` with the exact target origin — this page's own, which is
 * the app's, never `*`. The opener closes this window once it has the message (closing it here
 * would race the opener's "closed" watch); on failure the opener leaves it open so the person
 * can read why. Opened without an opener, it closes itself on success.
 */
const POPUP_SCRIPT = `
const message = JSON.parse(document.getElementById('message').textContent);
if (window.opener) window.opener.postMessage(message, window.location.origin);
else if (message.type === 'portcullis:connected') window.close();
`;

const POPUP_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${createHash('sha256').update(POPUP_SCRIPT).digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function popupResultPage(message: PopupMessage, status = 200): Response {
  const title = message.type === 'portcullis:connected' ? 'Connected' : 'Login failed';
  const text =
    message.type === 'portcullis:connected'
      ? `Connected to ${message.serverId}. You can close this window.`
      : `${message.message.replace(/\.?$/, '.')} You can close this window.`;
  // A data block is not executed, so the CSP need not allow it; `<` is escaped so it cannot end the block.
  const data = JSON.stringify(message).replace(/</g, '\\u003c');
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1><p>${escapeHtml(text)}</p>
<script type="application/json" id="message">${data}</script>
<script>${POPUP_SCRIPT}</script></body></html>`;
  return new Response(html, {
    status,
    headers: {
      ...BASE_HEADERS,
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': POPUP_CSP,
    },
  });
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
