import { describe, expect, it } from 'vitest';
import { EMAIL_PATTERN, isEmailAddress } from './email.ts';
import { validate } from './validate.ts';
import { Type } from '@sinclair/typebox';

describe('email addresses (RFC 5321 Mailbox, RFC 6531 letters)', () => {
  it('takes ordinary and international addresses', () => {
    for (const a of ['a@b.co', "o'brien@acme.example", 'first.last+tag@mail.acme.example', 'a-b_c{x}@x-y.example', 'ünïcødé@bücher.example', '用户@例子.广告', 'x@xn--bcher-kva.example', `${'x'.repeat(64)}@acme.example`]) {
      expect(isEmailAddress(a), a).toBe(true);
    }
  });

  it('refuses markup, quoting, literals, bad dots and hyphens, and characters that are not letters', () => {
    for (const a of [
      '<script>@x.example', '"a b"@x.example', 'a@[192.0.2.1]', 'a@localhost', 'a..b@x.example', '.a@x.example', 'a.@x.example',
      'a@-x.example', 'a@x-.example', 'a@x.1', 'a b@x.example', 'a@x.example\n', '@x.example', 'a@', 'a@@x.example', 'a@x..example',
      'a@x.example.', `${'x'.repeat(65)}@acme.example`, `a@${'x'.repeat(64)}.example`, `a@${'x.'.repeat(130)}example`,
      'a\uFFFD@x.example', 'a\uD800@x.example', 'a\u200B@x.example', 'a\u202E@x.example', 'a\u0000@x.example', 'a@x.exa\u00ADmple',
    ]) {
      expect(isEmailAddress(a), JSON.stringify(a)).toBe(false);
    }
  });

  it('is the pattern schemas check with, and says what is wanted instead of quoting it', () => {
    const Schema = Type.Object({ owner: Type.String({ pattern: EMAIL_PATTERN, maxLength: 254 }) });
    expect(validate(Schema, { owner: 'ana@acme.example' }, 'x')).toEqual({ owner: 'ana@acme.example' });
    expect(() => validate(Schema, { owner: '<script>@x.example' }, 'x')).toThrow(/^x: owner must be an email address, local-part@domain\.example \(RFC 5321/);
  });
});
