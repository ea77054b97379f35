/**
 * `text` with every occurrence of each secret replaced by `mask`: the one scrubber for messages
 * that may quote a password or a token (a driver's error, a network error, Harvest's body). Longer
 * secrets go first, so a secret that contains another (a password and its percent-encoded form) is
 * blanked whole. Empty secrets are ignored: they would match everywhere.
 */
export function redactSecrets(text: string, secrets: readonly string[], mask = '***'): string {
  let out = text;
  const ordered = secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  for (const secret of ordered) out = out.split(secret).join(mask);
  return out;
}
