// PKCE with S256 only (RFC 7636; OAuth 2.1 §4.1.1).
import { describe, expect, it } from 'vitest';
import {
  codeChallengeS256,
  generateCodeVerifier,
  randomToken,
  verifyCodeChallengeS256,
} from '../../../src/oauth/pkce.js';

// RFC 7636 Appendix B.
const RFC_VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const RFC_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

describe('PKCE S256', () => {
  it('computes the RFC 7636 Appendix B challenge from its verifier', () => {
    expect(codeChallengeS256(RFC_VERIFIER)).toBe(RFC_CHALLENGE);
  });

  it('verifies the Appendix B pair and refuses a challenge for another verifier', () => {
    expect(verifyCodeChallengeS256(RFC_VERIFIER, RFC_CHALLENGE)).toBe(true);
    expect(verifyCodeChallengeS256(`${RFC_VERIFIER.slice(0, -1)}Y`, RFC_CHALLENGE)).toBe(false);
    expect(verifyCodeChallengeS256(RFC_VERIFIER, RFC_CHALLENGE.slice(0, -1))).toBe(false);
  });

  it('refuses verifiers outside 43–128 unreserved characters (RFC 7636 §4.1), even when they hash right', () => {
    const short = 'a'.repeat(42);
    const long = 'a'.repeat(129);
    const badChar = `${'a'.repeat(42)}!`;
    for (const verifier of [short, long, badChar]) {
      expect(verifyCodeChallengeS256(verifier, codeChallengeS256(verifier))).toBe(false);
    }
    expect(verifyCodeChallengeS256('a'.repeat(43), codeChallengeS256('a'.repeat(43)))).toBe(true);
    expect(verifyCodeChallengeS256('a'.repeat(128), codeChallengeS256('a'.repeat(128)))).toBe(true);
  });

  it('generates 43-character unreserved verifiers that differ every time', () => {
    const verifiers = new Set(Array.from({ length: 50 }, generateCodeVerifier));
    expect(verifiers.size).toBe(50);
    for (const verifier of verifiers) expect(verifier).toMatch(/^[A-Za-z0-9\-._~]{43}$/);
  });

  it('makes base64url random tokens of the asked size', () => {
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(randomToken(16), 'base64url')).toHaveLength(16);
  });
});
