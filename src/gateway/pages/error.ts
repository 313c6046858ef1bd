/**
 * The page shown when an authorization request cannot be answered by redirect: an unknown
 * client or an unregistered redirect URI (OAuth 2.1 §4.1.2.1: inform the user, never redirect),
 * an expired interaction, a forged form post.
 */
import { html, type PageOptions } from './layout.js';

const TITLES: Record<string, string> = {
  invalid_client: 'This app is not recognised',
  invalid_redirect_uri: 'This app asked to send you somewhere unexpected',
  invalid_request: 'This sign-in link is not valid',
  access_denied: 'Request refused',
  server_error: 'Something went wrong',
  temporarily_unavailable: 'Please try again shortly',
};

export function errorPage(error: string, description: string | undefined): PageOptions {
  const title = TITLES[error] ?? 'This request cannot be completed';
  return {
    title,
    className: 'error',
    body: html`<h1>${title}</h1>
<p class="muted">${description ?? 'The request was refused.'}</p>
<p class="muted">You can close this window and start again from the app you were using. Nothing was shared with it.</p>
<dl><div><dt>Error code</dt><dd><code>${error}</code></dd></div></dl>`,
  };
}
