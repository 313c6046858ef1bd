/**
 * The consent page (MCP §Confused Deputy, SBP Required Protections / A28, A33): who the client
 * is and where its details come from, where the browser will be sent, which scopes, and who is
 * signing in; a CSRF token in the form; approve or deny. Framing is refused by the page headers.
 */
import type { ClientSummary } from '../interaction/records.js';
import { html, type PageOptions, type Raw } from './layout.js';

export interface ConsentView {
  action: string;
  interactionId: string;
  csrf: string;
  client: ClientSummary;
  /** The redirect URI the code will go to. */
  redirectUri: string;
  scopes: string[];
  resource: string;
  resourceName?: string | undefined;
  /** The signed-in user's display name, or undefined when the IdP login comes next. */
  user?: string | undefined;
  idpName: string;
}

const SCOPE_TEXT: Record<string, string> = {
  mcp: 'Use this MCP server’s tools, prompts and resources as you',
  offline_access: 'Stay connected when you are not using it (refresh tokens)',
};

function sourceLine(client: ClientSummary): Raw {
  switch (client.source.kind) {
    case 'cimd':
      return html`Details published by <strong>${client.source.host}</strong> (client metadata document)`;
    case 'dcr':
      return html`Registered itself with this gateway on ${new Date(client.source.registeredAt).toISOString().slice(0, 10)}; its name is not verified`;
    case 'static':
      return html`Pre-registered by the operator of this gateway`;
  }
}

/** Where the browser goes after approval, in words a person can check. */
function destination(uri: string): { label: string; local: boolean } {
  try {
    const url = new URL(uri);
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      const local = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
      return { label: local ? `an app on this computer (${url.host})` : url.host, local };
    }
    return { label: `the ${url.protocol.slice(0, -1)} app on this device`, local: true };
  } catch {
    return { label: uri, local: false };
  }
}

function initial(name: string): string {
  return (/[\p{L}\p{N}]/u.exec(name)?.[0] ?? '?').toUpperCase();
}

export function consentPage(v: ConsentView): PageOptions {
  const name = v.client.name ?? 'An unnamed app';
  const dest = destination(v.redirectUri);
  const onlyLocal = v.client.redirectUris.every((u) => destination(u).local);
  const target = v.resourceName ?? new URL(v.resource).host;
  const scopes = v.scopes.map(
    (s) => html`<li><code>${s}</code>${SCOPE_TEXT[s] ? html` — ${SCOPE_TEXT[s]}` : html``}</li>`,
  );
  return {
    title: `Allow ${name} to access ${target}?`,
    body: html`<h1>Allow access to ${target}?</h1>
<div class="app"><div class="avatar" aria-hidden="true">${initial(name)}</div>
<div><strong>${name}</strong><span class="muted">${sourceLine(v.client)}</span></div></div>
<p>This app is asking to:</p>
<ul class="scopes">${scopes}</ul>
<dl>
<div><dt>Sends you back to</dt><dd>${dest.label}</dd></div>
${v.client.source.kind === 'cimd' ? html`<div><dt>Client ID host</dt><dd>${v.client.source.host}</dd></div>` : html``}
<div><dt>Server</dt><dd>${v.resource}</dd></div>
<div><dt>Signed in as</dt><dd>${v.user ?? `You will sign in with ${v.idpName} next`}</dd></div>
</dl>
${
  onlyLocal
    ? html`<div class="warn" role="note"><strong>Only approve if you just started this from an app on this device.</strong>
This app receives approvals locally, so any program on this computer could be claiming its name.</div>`
    : html``
}
<form method="post" action="${v.action}">
<input type="hidden" name="interaction" value="${v.interactionId}">
<input type="hidden" name="csrf" value="${v.csrf}">
<div class="actions"><button type="submit" name="decision" value="deny">Deny</button>
<button class="primary" type="submit" name="decision" value="approve">Allow</button></div>
</form>
<p class="muted note">Nothing is shared with the app unless you choose Allow.</p>`,
  };
}
