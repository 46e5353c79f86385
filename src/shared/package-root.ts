import fs from 'node:fs';
import path from 'node:path';

/**
 * The Keygate checkout or install this code runs from: the nearest directory
 * above this file with Keygate's package.json. Works the same from `src/`
 * (tsx, tests) and from the compiled bundle in `dist/`.
 */
export function packageRoot(from: string = import.meta.dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'keygate') return dir;
    if (path.dirname(dir) === dir) throw new Error(`No Keygate package.json above ${from}.`);
  }
}
