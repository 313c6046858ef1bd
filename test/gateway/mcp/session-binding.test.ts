import { describe, expect, it } from 'vitest';
import { createSessionBinding } from '../../../src/gateway/mcp/session-binding.js';

describe('upstream session ids bound to their user (R18)', () => {
  const binding = createSessionBinding(Buffer.alloc(32, 7));

  it('hands the client a wrapped id that unwraps for the same user', () => {
    const id = binding.wrap('3f1c.upstream-id', 'alice');
    expect(id.startsWith('3f1c.upstream-id.')).toBe(true);
    expect(binding.unwrap(id, 'alice')).toBe('3f1c.upstream-id');
    expect(binding.unwrap(id, 'alice')).toBe('3f1c.upstream-id'); // cached path
  });

  it("refuses another user's session id, a bare upstream id and a forged tag", () => {
    const id = binding.wrap('sess-1', 'alice');
    expect(binding.unwrap(id, 'bob')).toBeUndefined();
    expect(binding.unwrap('sess-1', 'alice')).toBeUndefined();
    expect(binding.unwrap(`sess-1.${'A'.repeat(22)}`, 'alice')).toBeUndefined();
    expect(binding.unwrap('.', 'alice')).toBeUndefined();
  });

  it('does not accept an id wrapped under another key (replicas must share the secret)', () => {
    const other = createSessionBinding(Buffer.alloc(32, 8));
    expect(binding.unwrap(other.wrap('sess-1', 'alice'), 'alice')).toBeUndefined();
  });

  it('rejects a short secret', () => {
    expect(() => createSessionBinding(Buffer.alloc(8))).toThrow(/16 bytes/);
  });
});
