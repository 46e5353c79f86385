import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import { type Plugin, shouldRenderGraphiQL } from 'graphql-yoga';
import type { OnRequestPayload } from './request-hook.js';

/** Where GraphiQL's assets are served; their names carry a hash of their content. */
export const GRAPHIQL_ASSETS_PATH = '/graphiql/';

/** The query GraphiQL opens with: it works for every credential, and says how to send one. */
export const GRAPHIQL_DEFAULT_QUERY = `# Keygate GraphiQL
#
# Every request needs a credential: nothing is sent
# to Keygate until the Headers tab below holds one:
#
#   { "X-API-Key": "server-…" }
#   { "Authorization": "Bearer <session token>" }
#
# \`npm start\` prints the demo keys; a user's token
# comes from \`npx keygate token --email …\`.
# Run the query with Ctrl-Enter; Shift-Ctrl-R loads
# the schema for the docs and autocompletion.

query WhoAmI {
  viewer {
    kind
    permissions
    apiKey {
      name
      type
    }
    user {
      email
    }
  }
}
`;

/** What GraphiQL shows for a request it did not send because it carried no credential. */
const NOT_SENT =
  'Not sent: the request has no credential. Add one in the Headers tab: { "X-API-Key": "server-…" } or { "Authorization": "Bearer <session token>" }.';

// Every asset comes from Keygate itself. Monaco (GraphiQL's editor) inserts <style> elements
// without a nonce, so styles may be inline; scripts, workers and connections stay same-origin.
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

type Encoding = 'br' | 'gzip';
type Bytes = Uint8Array<ArrayBuffer>;

/** A view of a buffer as a response body, without copying (Node's buffers are never shared memory). */
const bytes = (buffer: Buffer): Bytes => new Uint8Array(buffer.buffer as ArrayBuffer, buffer.byteOffset, buffer.byteLength);

interface Asset {
  type: string;
  etag: string;
  identity: Bytes;
  /** Compressed once, the first time GraphiQL is opened (in the thread pool, off the event loop). */
  encoded: Promise<Record<Encoding, Bytes>>;
}

interface GraphiQL {
  page: string;
  assets: Map<string, Asset>;
}

const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);

function asset(type: string, body: Buffer): Asset {
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
  const encoded = Promise.all([
    // Quality 6: nearly all of brotli's gain on these files at a tenth of the time of 11.
    brotli(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 6, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }),
    gzipped(body, { level: 6 }),
  ]).then(([br, gz]) => ({ br: bytes(br), gzip: bytes(gz) }));
  // Nobody may be waiting yet; a failure is reported to whoever asks for the asset.
  encoded.catch(() => {});
  return { type, etag, identity: bytes(body), encoded };
}

/** The hashed path of an asset: a changed asset gets a new URL, so each one can be cached forever. */
const pathOf = (name: string, extension: string, { etag }: Asset) =>
  `${GRAPHIQL_ASSETS_PATH}${name}-${etag.slice(1, 17)}.${extension}`;

/**
 * GraphiQL as Yoga's renderer ships it (@graphql-yoga/render-graphiql: one
 * page with the bundle, its styles, the editor's three workers and the
 * favicon inlined, 9 MB), taken apart into a small page and assets of their
 * own. Built on first use: most processes never serve GraphiQL.
 */
async function buildGraphiQL(endpoint: string, title: string): Promise<GraphiQL> {
  const bundle = await import('@graphql-yoga/render-graphiql/graphiql');
  const assets = new Map<string, Asset>();
  const add = (name: string, extension: string, item: Asset) => {
    const path = pathOf(name, extension, item);
    assets.set(path, item);
    return path;
  };
  const js = 'text/javascript; charset=utf-8';
  const workers = {
    editorWorkerService: add('editor.worker', 'js', asset(js, Buffer.from(bundle.editorWorkerService))),
    json: add('json.worker', 'js', asset(js, Buffer.from(bundle.jsonWorker))),
    graphql: add('graphql.worker', 'js', asset(js, Buffer.from(bundle.graphqlWorker))),
  };
  const [iconType, iconData] = bundle.favicon.replace(/^data:/, '').split(';base64,');
  const favicon = add('favicon', 'ico', asset(iconType ?? 'image/x-icon', Buffer.from(iconData ?? '', 'base64')));
  const styles = add('graphiql', 'css', asset('text/css; charset=utf-8', Buffer.from(bundle.css)));
  const options = {
    title,
    defaultQuery: GRAPHIQL_DEFAULT_QUERY,
    defaultEditorToolsVisibility: 'headers',
    // A pasted key stays in this page: it is not written to the browser's storage.
    shouldPersistHeaders: false,
  };
  // What Yoga's page did inline, as one same-origin script (the CSP allows no inline script):
  // point the editor at its workers, then start GraphiQL. Requests without a credential are
  // answered here with a hint instead of being sent to fail (GraphiQL asks for the schema at once).
  const start = `(function () {
  var workers = ${JSON.stringify(workers)};
  self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: function (moduleId, label) { return workers[label]; } };
  var endpoint = new URL(${JSON.stringify(endpoint)}, location.href).href;
  var send = window.fetch.bind(window);
  window.fetch = function (input, init) {
    var request = new Request(input, init);
    var target = request.url.split('?')[0];
    if (target === endpoint && !request.headers.has('x-api-key') && !request.headers.has('authorization')) {
      var body = JSON.stringify({ errors: [{ message: ${JSON.stringify(NOT_SENT)}, extensions: { code: 'UNAUTHENTICATED' } }] });
      return Promise.resolve(new Response(body, { status: 200, headers: { 'content-type': 'application/json' } }));
    }
    return send(request);
  };
})();
${bundle.js};
YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), ${JSON.stringify(options)});
`;
  const script = add('graphiql', 'js', asset(js, Buffer.from(start)));
  const escapedTitle = title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapedTitle}</title>
    <link rel="icon" href="${favicon}" />
    <link rel="stylesheet" href="${styles}" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>GraphiQL needs JavaScript.</noscript>
    <div id="root"></div>
    <script src="${script}"></script>
  </body>
</html>
`;
  return { page, assets };
}

/** The encoding to send for an Accept-Encoding header: brotli, else gzip, else none (q=0 refuses). */
export function chooseEncoding(acceptEncoding: string | null): Encoding | null {
  const weights = new Map<string, number>();
  for (const part of (acceptEncoding ?? '').toLowerCase().split(',')) {
    const [name, ...params] = part.split(';').map((p) => p.trim());
    if (!name) continue;
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    weights.set(name, Number.isFinite(weight) ? weight : 0);
  }
  const weight = (name: string) => weights.get(name) ?? weights.get('*') ?? 0;
  if (weight('br') > 0 && weight('br') >= weight('gzip')) return 'br';
  if (weight('gzip') > 0) return 'gzip';
  return null;
}

export interface GraphiQLOptions {
  graphqlEndpoint: string;
  title: string;
}

/**
 * GraphiQL on GET of the GraphQL endpoint from a browser (Accept: text/html):
 * a page of a few hundred bytes with a content security policy, and its
 * assets under /graphiql/, compressed once (brotli or gzip, by
 * Accept-Encoding) and cacheable forever under hashed names. Offline: no
 * CDN. The page is public (it holds nothing); every query it sends is
 * authenticated like any other.
 */
export function useGraphiQL(options: GraphiQLOptions): Plugin {
  let built: Promise<GraphiQL> | null = null;
  const graphiql = () => {
    if (!built) {
      built = buildGraphiQL(options.graphqlEndpoint, options.title);
      // A failed build (only a broken install fails it) is tried again on the next request.
      built.catch(() => {
        built = null;
      });
    }
    return built;
  };
  const serve = async ({ request, url, endResponse, fetchAPI }: OnRequestPayload, isPage: boolean) => {
    const { pathname } = url;
    if (isPage) {
      const { page } = await graphiql();
      return endResponse(new fetchAPI.Response(page, { status: 200, headers: PAGE_HEADERS }));
    }
    const plain = { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return endResponse(
        new fetchAPI.Response('Method not allowed.', { status: 405, headers: { ...plain, allow: 'GET, HEAD' } }),
      );
    }
    const item = (await graphiql()).assets.get(pathname);
    if (!item) return endResponse(new fetchAPI.Response('Not found.', { status: 404, headers: plain }));
    const headers: Record<string, string> = {
      'content-type': item.type,
      'cache-control': 'public, max-age=31536000, immutable',
      etag: item.etag,
      vary: 'accept-encoding',
      'x-content-type-options': 'nosniff',
    };
    if (request.headers.get('if-none-match') === item.etag) {
      return endResponse(new fetchAPI.Response(null, { status: 304, headers }));
    }
    const encoding = chooseEncoding(request.headers.get('accept-encoding'));
    const body = encoding ? (await item.encoded)[encoding] : item.identity;
    if (encoding) headers['content-encoding'] = encoding;
    headers['content-length'] = String(body.byteLength);
    return endResponse(new fetchAPI.Response(request.method === 'HEAD' ? null : body, { status: 200, headers }));
  };
  return {
    // Synchronous on every other request (request-hook.ts).
    onRequest(payload) {
      const { pathname } = payload.url;
      const isPage =
        (pathname === options.graphqlEndpoint || pathname === `${options.graphqlEndpoint}/`) &&
        shouldRenderGraphiQL(payload.request);
      if (!isPage && !pathname.startsWith(GRAPHIQL_ASSETS_PATH)) return;
      return serve(payload, isPage);
    },
  };
}
