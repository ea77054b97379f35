import prettier from 'prettier';
import { objectsTable, replaceGenerated } from '../src/catalog/readme.js';

/** README.md as `npm run docs` writes it: generated regions from the catalog, formatted by prettier. */
export async function generatedReadme(readme: string, path: string): Promise<string> {
  const options = (await prettier.resolveConfig(path)) ?? {};
  return prettier.format(replaceGenerated(readme, objectsTable()), { ...options, filepath: path });
}
