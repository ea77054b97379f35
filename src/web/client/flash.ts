/** A one-time message carried to the next page (e.g. "pipeline deleted" on the list). */
const KEY = 'harvest-sync:flash';

export function setFlash(message: string): void {
  sessionStorage.setItem(KEY, message);
}

export function takeFlash(): string | null {
  const message = sessionStorage.getItem(KEY);
  if (message !== null) sessionStorage.removeItem(KEY);
  return message;
}
