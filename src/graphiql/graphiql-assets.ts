import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GRAPHIQL_ASSETS_PATH } from './graphiql-page.js';

const require = createRequire(import.meta.url);
const DIST = join(dirname(require.resolve('@graphql-yoga/graphiql/package.json')), 'dist');

/** The only files served, so the route cannot be walked to anything else on disk. */
const ASSETS: Readonly<Record<string, string>> = {
  'graphiql.css': 'text/css; charset=utf-8',
  'yoga-graphiql.umd.js': 'text/javascript; charset=utf-8',
  'monacoeditorwork/editor.worker.bundle.js': 'text/javascript; charset=utf-8',
  'monacoeditorwork/json.worker.bundle.js': 'text/javascript; charset=utf-8',
  'monacoeditorwork/graphql.worker..bundle.js': 'text/javascript; charset=utf-8',
};

const cache = new Map<string, Buffer>();

/** Serves GraphiQL's files from the installed @graphql-yoga/graphiql package; null when the path is not one. */
export async function graphiqlAsset(pathname: string): Promise<Response | null> {
  if (!pathname.startsWith(`${GRAPHIQL_ASSETS_PATH}/`)) return null;
  const name = pathname.slice(GRAPHIQL_ASSETS_PATH.length + 1);
  const contentType = ASSETS[name];
  if (!contentType) return new Response('Not found', { status: 404 });
  let body = cache.get(name);
  if (!body) {
    body = await readFile(join(DIST, name));
    cache.set(name, body);
  }
  return new Response(new Uint8Array(body), {
    headers: { 'content-type': contentType, 'cache-control': 'public, max-age=86400' },
  });
}
