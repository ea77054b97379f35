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
