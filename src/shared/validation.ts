import { badInput } from './errors.js';

/**
 * The input-text rule, applied where text enters: C0 controls (NUL among them),
 * DEL and C1 controls. PostgreSQL cannot store NUL in text at all while SQLite
 * keeps it, so letting any control character through would make one input
 * mean different things on the two dialects (SPEC §8).
 */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
/** Half of a UTF-16 pair without the other half: not a character, and neither dialect stores it as sent. */
const LONE_SURROGATE = /\p{Cs}/u;

/** `value` unchanged, or BAD_USER_INPUT naming the field when it has a control character or a lone surrogate. */
export function requirePlainText(field: string, value: string): string {
  if (CONTROL_CHARACTER.test(value)) throw badInput(field, 'must not contain control characters.');
  if (LONE_SURROGATE.test(value)) throw badInput(field, 'must be valid Unicode (no unpaired surrogates).');
  return value;
}

/** Trimmed, non-empty text of at most `max` characters; BAD_USER_INPUT naming the field otherwise. */
export function requireText(field: string, value: string, max: number): string {
  const text = value.trim();
  if (text.length === 0) throw badInput(field, 'must not be empty.');
  if ([...text].length > max) throw badInput(field, `must be at most ${max} characters.`);
  return requirePlainText(field, text);
}

/** Like requireText, but null/empty means "no value". */
export function optionalText(field: string, value: string | null | undefined, max: number): string | null {
  if (value == null || value.trim() === '') return null;
  return requireText(field, value, max);
}

const IDENTIFIER = /^[A-Za-z0-9_\-.:@]+$/;

/** Whether `value` is 1 to `max` characters of letters, digits and `_ - . : @` (so it can be looked up as is). */
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

/** Keygate ids: a three-letter prefix and a ULID (shared/ids.ts makes them). */
const KEYGATE_ID = /^[a-z]{3}_[0-9A-Z]{26}$/;

/** Whether `value` has the shape of a Keygate id (of `prefix`, when given); nothing else can name a stored row. */
export function isKeygateId(value: string, prefix?: string): boolean {
  return KEYGATE_ID.test(value) && (prefix === undefined || value.startsWith(`${prefix}_`));
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const EMAIL_MAX = 254;

/** A trimmed email address: no control characters, then the shape check; BAD_USER_INPUT naming the field otherwise. */
export function requireEmail(field: string, value: string): string {
  const email = requirePlainText(field, value.trim());
  if (email.length > EMAIL_MAX || !EMAIL.test(email)) {
    throw badInput(field, `must be an email address of at most ${EMAIL_MAX} characters.`);
  }
  return email;
}

/** Like requireEmail, but null/empty means "no value". */
export function optionalEmail(field: string, value: string | null | undefined): string | null {
  if (value == null || value.trim() === '') return null;
  return requireEmail(field, value);
}

/** Deepest nesting of arrays and objects a JSON input may have. */
export const MAX_JSON_DEPTH = 32;

/** Why a string (value or key) cannot be stored in JSON on both dialects, or null when it can. */
function jsonStringProblem(text: string): string | null {
  // PostgreSQL jsonb refuses \u0000 (22P05) and unpaired surrogates (22P02); SQLite's JSON text keeps both.
  if (text.includes('\u0000')) return 'must not contain NUL (\\u0000) in any string or key.';
  if (LONE_SURROGATE.test(text)) return 'must be valid Unicode (no unpaired surrogates) in every string and key.';
  return null;
}

/**
 * What is wrong with a JSON value (too deep, or a string or key no dialect
 * can store as sent), or null. Walks level by level and stops as soon as the
 * depth passes `limit`, so hostile nesting costs no deep recursion.
 */
function jsonProblem(value: unknown, limit: number): string | null {
  let level: unknown[] = [value];
  for (let depth = 0; level.length; depth++) {
    const next: unknown[] = [];
    for (const v of level) {
      if (typeof v === 'string') {
        const problem = jsonStringProblem(v);
        if (problem) return problem;
      } else if (v !== null && typeof v === 'object') {
        const isArray = Array.isArray(v);
        for (const [key, child] of Object.entries(v)) {
          const problem = isArray ? null : jsonStringProblem(key);
          if (problem) return problem;
          next.push(child);
        }
      }
    }
    if (next.length && depth + 1 > limit) return `must be nested at most ${limit} levels deep.`;
    level = next;
  }
  return null;
}

/** Arbitrary JSON of bounded size and depth that both dialects store as sent, as JSON text (null for no value). */
export function optionalJson(field: string, value: unknown, maxBytes: number): string | null {
  if (value === undefined || value === null) return null;
  const problem = jsonProblem(value, MAX_JSON_DEPTH);
  if (problem) throw badInput(field, problem);
  const text = JSON.stringify(value);
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) throw badInput(field, `must be at most ${maxBytes} bytes of JSON, got ${size}.`);
  return text;
}
