import { describe, expect, it } from 'vitest';
import { compileEnvTemplate } from '../../../src/gateway/mcp/env-template.js';
import { OAuthError } from '../../../src/oauth/errors.js';
import { fakePrincipal } from './harness.js';

describe('stdio env templates', () => {
  it('renders identity, claims and the upstream token per user', async () => {
    const render = compileEnvTemplate({
      MCP_USER: '{{user.id}}',
      MCP_EMAIL: '{{ claims.email }}',
      GITHUB_TOKEN: '{{upstream.access_token}}',
      WHO: '{{user.id}} via {{client.id}} ({{scopes}})',
      GROUPS: '{{claims.groups}}',
      MISSING: '[{{claims.nope}}]',
    });
    const env = await render(
      fakePrincipal('alice', { claims: { email: 'a@example.test', groups: ['x', 'y'] } }),
    );
    expect(env).toEqual({
      MCP_USER: 'alice',
      MCP_EMAIL: 'a@example.test',
      GITHUB_TOKEN: 'upstream-token-of-alice',
      WHO: 'alice via client-of-alice (mcp:read mcp:write)',
      GROUPS: '["x","y"]',
      MISSING: '[]',
    });
  });

  it('rejects an unknown placeholder when configured, not when a user arrives', () => {
    expect(() => compileEnvTemplate({ X: '{{user.password}}' })).toThrow(
      /unknown placeholder \{\{user.password\}\}/,
    );
    expect(() => compileEnvTemplate({ 'A=B': 'x' })).toThrow(/not a valid variable name/);
    expect(() => compileEnvTemplate({ F: '{{upstream.access_token_path}}' })).toThrow(
      /unknown placeholder \{\{upstream.access_token_path\}\}/,
    );
  });

  it("renders {{upstream.access_token_file}} as the session's file path, without reading the token", async () => {
    let asked = 0;
    const p = { ...fakePrincipal('alice'), upstreamAccessToken: async () => String(++asked) };
    const render = compileEnvTemplate({ F: '{{ upstream.access_token_file }}', U: '{{user.id}}' });
    expect(render.usesTokenFile).toBe(true);
    expect(await render(p, '/tmp/portcullis-token-x/access_token')).toEqual({
      F: '/tmp/portcullis-token-x/access_token',
      U: 'alice',
    });
    expect(asked).toBe(0); // the caller writes the file; the template only names it
    await expect(render(p)).rejects.toThrow(/needs the session token file/);
    expect(compileEnvTemplate({ T: '{{upstream.access_token}}' }).usesTokenFile).toBe(false);
  });

  it('asks the user to sign in again when the upstream token is gone', async () => {
    const render = compileEnvTemplate({ T: '{{upstream.access_token}}' });
    const err = await render(fakePrincipal('alice', { upstreamToken: '' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect((err as OAuthError).error).toBe('invalid_token');
  });

  it('does not ask for the upstream token when no template uses it', async () => {
    let asked = 0;
    const p = { ...fakePrincipal('alice'), upstreamAccessToken: async () => String(++asked) };
    await compileEnvTemplate({ U: '{{user.id}}' })(p);
    expect(asked).toBe(0);
  });

  it('drops NUL bytes a claim might carry', async () => {
    const env = await compileEnvTemplate({ N: '{{claims.name}}' })(
      fakePrincipal('a', { claims: { name: 'x\0y' } }),
    );
    expect(env['N']).toBe('xy');
  });
});
