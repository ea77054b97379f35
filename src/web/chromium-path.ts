/** Debian's chromium, the browser the UI tests and screenshots drive. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/** Where chromium is: HARVEST_SYNC_CHROMIUM, else CHROMIUM_PATH (older name), else Debian's. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.HARVEST_SYNC_CHROMIUM || env.CHROMIUM_PATH || DEFAULT_CHROMIUM;
}
