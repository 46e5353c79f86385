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
