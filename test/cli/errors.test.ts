import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CliError, ExitCode, renderError, scrubSecrets } from '../../src/cli/errors.js';
import { ClientError } from '../../src/client/errors.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { StoreError } from '../../src/store/store.js';
import { TransportError } from '../../src/transport/errors.js';
import { McpRequestError } from '../../src/transport/mcp-session.js';

const url = 'https://mcp.example.com/mcp';
const render = (error: unknown, secrets: string[] = []) => renderError(error, { serverUrl: url, secrets });
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });

describe('rendering failures', () => {
  it('asks for a login on reauth_required, with exit 3', () => {
    const rendered = render(
      new ClientError('reauth_required', 'refreshing the access token failed (invalid_grant)'),
    );
    expect(rendered).toEqual({
      message: 'refreshing the access token failed (invalid_grant)',
      hint: `run: portcullis login ${url}`,
      exitCode: ExitCode.authorization,
    });
  });

  it('does not repeat a hint the message already gives', () => {
    const rendered = render(
      new ClientError('authorization_required', `needs a login; run: portcullis login ${url}`),
    );
    expect(rendered.hint).toBeUndefined();
    expect(rendered.exitCode).toBe(3);
  });

  it('unwraps the client core’s error from the transport failure that carries it', () => {
    const wrapped = new TransportError('network', 'could not reach https://mcp.example.com', {
      cause: new ClientError('reauth_required', 'log in again'),
    });
    expect(render(wrapped).exitCode).toBe(ExitCode.authorization);
  });

  it('says to pass --port or free the port when the callback port is taken (exit 2)', () => {
    const rendered = render(new ClientError('callback_port_in_use', 'cannot listen on 127.0.0.1:8080'));
    expect(rendered.hint).toContain('--port');
    expect(rendered.exitCode).toBe(ExitCode.usage);
  });

  it('reports an unreachable server or network with exit 4 and the socket error', () => {
    const transport = new TransportError('network', 'could not reach https://mcp.example.com', {
      cause: new TypeError('fetch failed', { cause: refused() }),
    });
    expect(render(transport)).toMatchObject({
      message: 'could not reach https://mcp.example.com (connect ECONNREFUSED 127.0.0.1:9)',
      exitCode: ExitCode.unreachable,
    });
    expect(render(transport).hint).toContain(`portcullis doctor ${url}`);
    expect(render(new TypeError('fetch failed', { cause: refused() })).exitCode).toBe(4);
    const metadata = new OAuthError('temporarily_unavailable', 'could not reach https://as.example.com', {
      cause: refused(),
    });
    expect(render(metadata)).toMatchObject({
      message: expect.stringMatching(/^could not reach https:\/\/as/),
      exitCode: 4,
    });
    expect(render(new McpRequestError('timeout', 'tools/list timed out')).exitCode).toBe(4);
  });

  it('treats a registration that failed to reach the AS as unreachable, not as a registration problem', () => {
    const error = new ClientError('registration_failed', 'could not reach the registration endpoint', {
      cause: refused(),
    });
    expect(render(error).exitCode).toBe(ExitCode.unreachable);
  });

  it('asks for a login when the server still refuses the token (401/403)', () => {
    const error = new TransportError('http_error', 'the server answered HTTP 401', { status: 401 });
    expect(render(error)).toMatchObject({ exitCode: 3, hint: `run: portcullis login ${url}` });
  });

  it('explains a store key that cannot decrypt the state', () => {
    const rendered = render(
      new StoreError('decrypt_failed', 'value in namespace "tokens" cannot be decrypted'),
    );
    expect(rendered.hint).toContain('PORTCULLIS_KEY');
    expect(rendered.exitCode).toBe(ExitCode.failure);
  });

  it('maps the CLI’s own errors to their documented codes', () => {
    expect(render(new CliError('usage', 'bad flag')).exitCode).toBe(2);
    expect(render(new CliError('config_invalid', 'bad file')).exitCode).toBe(2);
    expect(render(new CliError('tool_error', 'the tool failed')).exitCode).toBe(5);
    expect(render(new CliError('aborted', 'cancelled')).exitCode).toBe(130);
    expect(render(new ClientError('aborted', 'login cancelled')).exitCode).toBe(130);
    expect(render(new DOMException('This operation was aborted', 'AbortError')).exitCode).toBe(130);
  });

  it('reports invalid input found by a zod schema as a usage error naming the path', () => {
    const result = z.object({ port: z.number() }).safeParse({ port: 'x' });
    const rendered = render(result.error);
    expect(rendered.exitCode).toBe(ExitCode.usage);
    expect(rendered.message).toContain('port:');
  });

  it('points at the tool list when the server says the arguments are invalid', () => {
    const rendered = render(new McpRequestError(-32602, 'Tool nope not found'));
    expect(rendered).toMatchObject({ message: 'the server answered: Tool nope not found', exitCode: 1 });
    expect(rendered.hint).toBe(`list the tools and their arguments: portcullis tools ${url}`);
  });

  it('renders anything else as a plain failure (exit 1)', () => {
    expect(render(new Error('something odd'))).toEqual({ message: 'something odd', exitCode: 1 });
    expect(render('a string')).toEqual({ message: 'a string', exitCode: 1 });
  });

  it('never prints a secret, a bearer value, or a code in a URL', () => {
    const error = new Error(
      'sent Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig to https://cb.example/callback?code=abc123&state=s1 with client secret hunter22',
    );
    const { message } = render(error, ['hunter22']);
    expect(message).not.toMatch(/eyJ|abc123|hunter22/);
    expect(message).toContain('Bearer [redacted]');
    expect(message).toContain('code=[redacted]&state=s1');
  });

  it('scrubs refresh tokens and client secrets in form bodies too', () => {
    expect(scrubSecrets('grant_type=refresh_token&refresh_token=r1&client_secret=s2', [])).toBe(
      'grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]',
    );
  });
});
