import type { Checked } from '../limits.js';

/**
 * What a Harvest access token can look like: personal access tokens (`1234567.pt.AbC…`) and OAuth
 * tokens use letters, digits and a few URL-safe punctuation marks. Anything else (spaces, quotes,
 * angle brackets, control characters) is refused before it reaches a header, a log or a database.
 */
export const TOKEN_PATTERN = /^[A-Za-z0-9._~+/=-]+$/;

export const TOKEN_MAX_LENGTH = 4096;

export function isPlausibleToken(token: string): boolean {
  return token.length <= TOKEN_MAX_LENGTH && TOKEN_PATTERN.test(token);
}

/** What is asked of a token and of an account id: the rule every surface checks and states. */
const TOKEN_RULE = `must be a Harvest personal access token (1 to ${TOKEN_MAX_LENGTH} letters, digits or . _ - ~ + / =)`;
const ACCOUNT_ID_RULE = 'must be the numeric Harvest account id (digits only)';

/** Where the input is absent (undefined or null): the surface's own hint, or the rule. */
interface CheckOptions {
  readonly missing?: string;
}

/**
 * A token, trimmed; refused when absent or not plausible (see TOKEN_PATTERN). The CLI, the HTTP API,
 * the control store, the connectors and the client itself all check a token with this one rule.
 */
export function checkToken(field: string, input: unknown, options: CheckOptions = {}): Checked<string> {
  const rule = `${field} ${TOKEN_RULE}`;
  if (input === undefined || input === null) return { ok: false, message: options.missing ?? rule };
  const token = typeof input === 'string' ? input.trim() : '';
  return token !== '' && isPlausibleToken(token) ? { ok: true, value: token } : { ok: false, message: rule };
}

/** An account id (text or a JSON number), trimmed to its digits; refused when absent or not 1–19 digits. */
export function checkAccountId(field: string, input: unknown, options: CheckOptions = {}): Checked<string> {
  const rule = `${field} ${ACCOUNT_ID_RULE}`;
  if (input === undefined || input === null) return { ok: false, message: options.missing ?? rule };
  const id = typeof input === 'string' || typeof input === 'number' ? String(input).trim() : '';
  return /^\d{1,19}$/.test(id) ? { ok: true, value: id } : { ok: false, message: rule };
}
