/**
 * Where the login page sends the browser back to: a path of this app only. `next` is parsed as the
 * browser would follow it (the WHATWG URL parser, against the app's origin: it drops tabs and line
 * breaks and reads `\` as `/`, which is how `/%09/evil.example` became `//evil.example`), and kept
 * only when it stays on this origin; what is returned is the path, query and fragment alone.
 */
export function safeNext(next: string | null, origin: string): string {
  if (next === null || next === '') return '/';
  let url: URL;
  try {
    url = new URL(next, origin);
  } catch {
    return '/';
  }
  if (url.origin !== new URL(origin).origin) return '/';
  const path = `${url.pathname}${url.search}${url.hash}`;
  // a path that would itself read as another host when followed (`//host`) never comes out
  return path.startsWith('/') && !path.startsWith('//') ? path : '/';
}
