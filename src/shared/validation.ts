import { badInput } from './errors.js';

/** Trimmed, non-empty text of at most `max` characters; BAD_USER_INPUT naming the field otherwise. */
export function requireText(field: string, value: string, max: number): string {
  const text = value.trim();
  if (text.length === 0) throw badInput(field, 'must not be empty.');
  if ([...text].length > max) throw badInput(field, `must be at most ${max} characters.`);
  if (/[\u0000-\u001f\u007f]/.test(text)) throw badInput(field, 'must not contain control characters.');
  return text;
}

/** Like requireText, but null/empty means "no value". */
export function optionalText(field: string, value: string | null | undefined, max: number): string | null {
  if (value == null || value.trim() === '') return null;
  return requireText(field, value, max);
}

const IDENTIFIER = /^[A-Za-z0-9_\-.:@]+$/;

export function isIdentifier(value: string, max: number): boolean {
  return value.length > 0 && value.length <= max && IDENTIFIER.test(value);
}

/** An identifier: 1 to `max` characters of letters, digits and `_ - . : @`. */
export function requireIdentifier(field: string, value: string, max: number): string {
  if (!isIdentifier(value, max)) {
    throw badInput(field, `must be 1 to ${max} characters of letters, digits and _ - . : @.`);
  }
  return value;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function optionalEmail(field: string, value: string | null | undefined): string | null {
  if (value == null || value.trim() === '') return null;
  const email = value.trim();
  if (email.length > 254 || !EMAIL.test(email)) throw badInput(field, 'must be an email address of at most 254 characters.');
  return email;
}

/** Arbitrary JSON of bounded size, as JSON text (null for no value). */
/** Deepest nesting of arrays and objects a JSON input may have. */
export const MAX_JSON_DEPTH = 32;

/** Nesting depth of a JSON value, stopping as soon as it passes `limit` (no deep recursion on hostile input). */
function jsonDepthOver(value: unknown, limit: number): boolean {
  let level: unknown[] = [value];
  for (let depth = 0; level.length; depth++) {
    const next: unknown[] = [];
    for (const v of level) {
      if (v !== null && typeof v === 'object') for (const child of Object.values(v)) next.push(child);
    }
    if (next.length && depth + 1 > limit) return true;
    level = next;
  }
  return false;
}

export function optionalJson(field: string, value: unknown, maxBytes: number): string | null {
  if (value === undefined || value === null) return null;
  if (jsonDepthOver(value, MAX_JSON_DEPTH)) throw badInput(field, `must be nested at most ${MAX_JSON_DEPTH} levels deep.`);
  const text = JSON.stringify(value);
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) throw badInput(field, `must be at most ${maxBytes} bytes of JSON, got ${size}.`);
  return text;
}
