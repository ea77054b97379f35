import { createRequire } from 'node:module';

/** This package's version, as serve and workers report it. */
export function packageVersion(): string | undefined {
  try {
    // src/cli and dist/cli are both two levels below the package root
    return (createRequire(import.meta.url)('../../package.json') as { version?: string }).version;
  } catch {
    return undefined;
  }
}
