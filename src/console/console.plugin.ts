import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Plugin } from 'graphql-yoga';
import type { OnRequestPayload } from '../plugins/request-hook.js';
import { packageRoot } from '../shared/package-root.js';

/** The built console: index.html and assets/ (git-ignored; `npm run build`, which `prepare` runs on install). */
export const CONSOLE_DIST_DIR = path.join(packageRoot(), 'dist/console');

/** Path of the console page; its built assets are under `${CONSOLE_PATH}/assets/`. */
export const CONSOLE_PATH = '/console';

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// Only plain file names straight under assets/: no directories, no traversal. Every asset is text.
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

// Every asset comes from Keygate itself; the page holds a session token, so nothing else may run or frame it.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

async function readAsset(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export interface ConsoleOptions {
  /** The built console (index.html and assets/); defaults to CONSOLE_DIST_DIR. */
  dir?: string;
}

/**
 * Serves the console: GET /console (the page) and /console/assets/* (its
 * bundled script and styles, built at install time into dist/console). The
 * page talks to /graphql with the signed-in user's session token.
 */
export function useConsole(options: ConsoleOptions = {}): Plugin {
  const dir = options.dir ?? CONSOLE_DIST_DIR;
  const serve = async ({ request, url, endResponse, fetchAPI }: OnRequestPayload) => {
    const { pathname } = url;
    const respond = (status: number, body: BodyInit | null, headers: Record<string, string> = {}) =>
      endResponse(new fetchAPI.Response(body, { status, headers: { ...SECURITY_HEADERS, ...headers } }));

    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return respond(405, 'Method not allowed.', { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    }
    const head = request.method === 'HEAD';
    if (pathname === CONSOLE_PATH || pathname === `${CONSOLE_PATH}/`) {
      const page = await readAsset(path.join(dir, 'index.html'));
      if (!page) {
        return respond(503, 'The console is not built: run `npm run build` (npm install does it).', {
          'content-type': 'text/plain; charset=utf-8',
        });
      }
      return respond(200, head ? null : page, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
    }
    const name = pathname.slice(`${CONSOLE_PATH}/assets/`.length);
    const type = CONTENT_TYPES[path.extname(name)];
    const asset =
      pathname.startsWith(`${CONSOLE_PATH}/assets/`) && ASSET_NAME.test(name) && type
        ? await readAsset(path.join(dir, 'assets', name))
        : null;
    if (!asset || !type) return respond(404, 'Not found.', { 'content-type': 'text/plain; charset=utf-8' });
    return respond(200, head ? null : asset, { 'content-type': type, 'cache-control': 'no-cache' });
  };
  return {
    // Synchronous on every other request (request-hook.ts).
    onRequest(payload) {
      const { pathname } = payload.url;
      if (pathname !== CONSOLE_PATH && !pathname.startsWith(`${CONSOLE_PATH}/`)) return;
      return serve(payload);
    },
  };
}
