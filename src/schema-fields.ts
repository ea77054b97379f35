import { z } from 'zod';
import { checkBaseUrl } from './harvest/base-url.js';
import { checkAccountId, checkToken } from './harvest/token.js';
import {
  checkRateLimit,
  checkSince,
  checkWholeNumber,
  type Checked,
  type Range,
  type WholeNumberOptions,
} from './limits.js';

/*
 * The checks of limits.ts and harvest/base-url.ts as zod fields, for the schemas of the HTTP API, the
 * control store and the connectors. The rules and their messages are written once, there; this
 * module only adapts them, so that the CLI can check its flags without loading zod.
 */

/** A zod field that accepts what `check` accepts, as `check` normalises it, with its message. */
export function checkedField<T>(check: (input: unknown) => Checked<T>) {
  return z.unknown().transform((input, ctx): T => {
    const checked = check(input);
    if (checked.ok) return checked.value;
    ctx.addIssue({ code: 'custom', message: checked.message });
    return z.NEVER;
  });
}

/** See checkWholeNumber. */
export function wholeNumberField(field: string, range: Range, options: WholeNumberOptions = {}) {
  return checkedField((input) => checkWholeNumber(field, range, input, options));
}

/** See checkSince: the future is judged when the input is parsed. */
export function sinceField(field: string) {
  return checkedField((input) => checkSince(field, input, Date.now()));
}

/** See checkRateLimit. */
export function rateLimitField(field: string) {
  return checkedField((input) => checkRateLimit(field, input));
}

/** See checkBaseUrl. */
export function baseUrlField(field: string) {
  return checkedField((input) => checkBaseUrl(field, input));
}

/** See checkToken. */
export function tokenField(field: string, missing?: string) {
  return checkedField((input) => checkToken(field, input, missing === undefined ? {} : { missing }));
}

/** See checkAccountId. */
export function accountIdField(field: string, missing?: string) {
  return checkedField((input) => checkAccountId(field, input, missing === undefined ? {} : { missing }));
}
