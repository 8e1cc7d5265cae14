/**
 * An email address as an agent's owner or an admin contact: RFC 5321's Mailbox
 * shape, Dot-string "@" Domain, with RFC 6531's non-ASCII letters allowed.
 *
 * - Local part: atoms of letters, digits and !#$%&'*+-/=?^_`{|}~ joined by
 *   single dots, at most 64 characters. Quoted local parts ("a b"@x) are refused:
 *   no directory issues them, and they would carry spaces and quotes into names,
 *   logs and tables.
 * - Domain: two or more labels of letters, digits and inner hyphens (at most 63
 *   each), the last starting with a letter. Address literals ([192.0.2.1]) are
 *   refused.
 * - Non-ASCII characters must be letters, combining marks or decimal digits.
 *   That refuses U+FFFD (what bytes that were not UTF-8 decode to), lone
 *   surrogates, controls, spaces and invisible format characters.
 *
 * One regular expression (JSON Schema `pattern`, compiled with the `u` flag as
 * Ajv does), so the REST API, planes.yaml and the published JSON Schema check
 * the same thing.
 */
const ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~\\-\\p{L}\\p{M}\\p{Nd}";
const LABEL_TAIL = '(?:[\\p{L}\\p{M}\\p{Nd}-]{0,61}[\\p{L}\\p{M}\\p{Nd}])?';

export const EMAIL_PATTERN = `^(?=[^@]{1,64}@)[${ATEXT}]+(?:\\.[${ATEXT}]+)*@(?:[\\p{L}\\p{Nd}]${LABEL_TAIL}\\.)+\\p{L}${LABEL_TAIL}$`;

/** What a refused address is told, instead of the pattern itself. */
export const EMAIL_RULE = 'must be an email address, local-part@domain.example (RFC 5321: no spaces, quotes or <>()[]\\,;:, at most 64 characters before the @)';

const emailRegExp = new RegExp(EMAIL_PATTERN, 'u');

export function isEmailAddress(s: string): boolean {
  return s.length <= 254 && emailRegExp.test(s);
}
