// The floor of bench/listing.ts, run as its own process so that it shares no event loop with imagegraph
// or with the load generator: `node --import tsx bench/support/bare-listing-server.ts <images.sqlite>
// <tokens.yaml> <region>`. Prints `{"port":N}` once it listens.
//
// A bare node:http handler that does what an `images` page cannot do without: it checks the same
// bearer token (SHA-256 looked up in the same tokens file), parses the JSON body, runs the local
// provider's own SQL on the same SQLite file (read-only, better-sqlite3 as src/providers/local/sqlite.ts
// picks it, statements prepared once): the page with the scope/filter WHERE, the deprecation condition
// and the keyset `(name, id) > (?, ?)` ORDER BY name, id LIMIT first + 1, then the page's tags with one
// IN query, and for the `uses` kind the uses IN query and a count(*) with the same WHERE. It answers the
// JSON imagegraph answers for the same request (same ids, cursors, field order), so bench/listing.ts
// can check the two agree before it measures them.
//
// What it leaves out on purpose, because the answer does not need it: GraphQL parsing, validation and
// execution, the hardening limits, the rate limit, request ids and the request log, metrics, the
// provider's shares query (image_shares of each listed image), and building a full ImageRecord per row.
//
// The request says which selection it asks for in `x-bench-kind` (`page`, or `uses` for the page that
// also asks for usedBy and totalCount); `variables.after` and `variables.filter` ({ osDistro, tags })
// come from the body as imagegraph reads them.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type BetterSqlite3 from 'better-sqlite3';
import { parse as parseYaml } from 'yaml';
import { IMAGE_COLUMNS, type ImageRow } from '../../src/providers/local/image-rows.js';
import { Sqlite } from '../../src/providers/local/sqlite.js';

const [dbFile, tokensFile, region] = process.argv.slice(2);
if (!dbFile || !tokensFile || !region) {
  console.error('usage: bare-listing-server.ts <images.sqlite> <tokens.yaml> <region>');
  process.exit(2);
}

const PAGE = 20;
const db = new Sqlite(dbFile, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');

interface TokenEntry {
  sha256: string;
  platformAdmin?: boolean;
  organizations?: { id: string; role: string }[];
}
/** Token digest (hex) to the organizations its holder may read. */
const readable = new Map(
  (parseYaml(readFileSync(tokensFile, 'utf8')) as TokenEntry[]).map((entry) => {
    if (entry.platformAdmin) throw new Error('the floor implements the scope of an organization member only');
    return [entry.sha256.toLowerCase(), (entry.organizations ?? []).map((membership) => membership.id)];
  }),
);

/** Statements by SQL text: each distinct statement is prepared once. */
const statements = new Map<string, BetterSqlite3.Statement<unknown[]>>();
function statement(sql: string): BetterSqlite3.Statement<unknown[]> {
  let prepared = statements.get(sql);
  if (!prepared) {
    prepared = db.prepare<unknown[]>(sql);
    statements.set(sql, prepared);
  }
  return prepared;
}

interface Filter {
  osDistro?: string;
  tags?: { name: string; value: string }[];
}

/** The provider's WHERE (src/providers/local/image-query-sql.ts) for an AVAILABLE listing of a member. */
function where(orgs: string[], filter: Filter, now: string): { sql: string; params: unknown[] } {
  const marks = orgs.map(() => '?').join(', ');
  const conditions = [
    orgs.length
      ? `(visibility = 'PUBLIC' OR organization_id IN (${marks}) OR id IN (SELECT image_id FROM image_shares WHERE organization_id IN (${marks})))`
      : `(visibility = 'PUBLIC')`,
  ];
  const params: unknown[] = [...orgs, ...orgs];
  if (filter.osDistro) {
    conditions.push('os_distro = ?');
    params.push(filter.osDistro);
  }
  conditions.push('(deprecated_at IS NULL OR deprecated_at > ?)');
  params.push(now);
  for (const tag of filter.tags ?? []) {
    conditions.push('EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = images.id AND t.name = ? AND t.value = ?)');
    params.push(tag.name, tag.value);
  }
  return { sql: `WHERE ${conditions.join(' AND ')}`, params };
}

const SELECT = `SELECT ${IMAGE_COLUMNS.join(', ')} FROM images`;
const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');
const base64url = (text: string) => Buffer.from(text).toString('base64url');

function answer(kind: string, orgs: string[], variables: { after?: string | null; filter?: Filter | null }): string {
  const now = new Date().toISOString();
  const condition = where(orgs, variables.filter ?? {}, now);
  let keyset = '';
  const keysetParams: unknown[] = [];
  if (variables.after) {
    const cursor = JSON.parse(Buffer.from(variables.after, 'base64url').toString('utf8')) as { v: string; i: string };
    keyset = ' AND (name, id) > (?, ?)';
    keysetParams.push(cursor.v, cursor.i);
  }
  const rows = statement(`${SELECT} ${condition.sql}${keyset} ORDER BY name ASC, id ASC LIMIT ?`).all(
    ...condition.params,
    ...keysetParams,
    PAGE + 1,
  ) as ImageRow[];
  const hasNextPage = rows.length > PAGE;
  const page = rows.slice(0, PAGE);
  const ids = page.map((row) => row.id);

  const tags = new Map<string, { name: string; value: string }[]>();
  const uses = new Map<string, { kind: string; consumerId: string; createdAt: string }[]>();
  if (ids.length) {
    const tagRows = statement(
      `SELECT image_id, name, value FROM image_tags WHERE image_id IN (${marks(ids.length)}) ORDER BY name`,
    ).all(...ids) as { image_id: string; name: string; value: string }[];
    for (const row of tagRows) {
      const list = tags.get(row.image_id);
      if (list) list.push({ name: row.name, value: row.value });
      else tags.set(row.image_id, [{ name: row.name, value: row.value }]);
    }
    if (kind === 'uses') {
      const useRows = statement(
        `SELECT image_id, kind, consumer_id, organization_id, created_at FROM image_uses
         WHERE image_id IN (${marks(ids.length)}) ORDER BY created_at, kind, consumer_id`,
      ).all(...ids) as { image_id: string; kind: string; consumer_id: string; organization_id: string; created_at: string }[];
      for (const row of useRows) {
        // On a PUBLIC image only the uses of organizations the caller may read are shown.
        if (!orgs.includes(row.organization_id)) continue;
        const use = { kind: row.kind, consumerId: row.consumer_id, createdAt: row.created_at };
        const list = uses.get(row.image_id);
        if (list) list.push(use);
        else uses.set(row.image_id, [use]);
      }
    }
  }

  const nodes = page.map((row) => ({
    id: base64url(`Image:${region}:${row.id}`),
    name: row.name,
    status: row.status,
    sizeBytes: row.size_bytes,
    architecture: row.architecture,
    os: { distro: row.os_distro, version: row.os_version },
    tags: tags.get(row.id) ?? [],
    createdAt: row.created_at,
    ...(kind === 'uses' ? { usedBy: uses.get(row.id) ?? [] } : {}),
  }));
  const last = page.at(-1);
  const pageInfo = {
    hasNextPage,
    endCursor: last ? base64url(JSON.stringify({ f: 'NAME', d: 'ASC', v: last.name, i: last.id })) : null,
  };
  if (kind !== 'uses') return JSON.stringify({ data: { images: { nodes, pageInfo } } });
  const { n } = statement(`SELECT count(*) AS n FROM images ${condition.sql}`).get(...condition.params) as { n: number };
  return JSON.stringify({ data: { images: { totalCount: n, nodes, pageInfo } } });
}

function send(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

function handle(request: IncomingMessage, response: ServerResponse, body: Buffer): void {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
  const orgs = token ? readable.get(createHash('sha256').update(token).digest('hex')) : undefined;
  if (!orgs) return send(response, 401, '{"errors":[{"message":"Unauthenticated"}]}');
  let variables: { after?: string | null; filter?: Filter | null };
  try {
    variables = (JSON.parse(body.toString('utf8')) as { variables?: typeof variables }).variables ?? {};
  } catch {
    return send(response, 400, '{"errors":[{"message":"the body is not JSON"}]}');
  }
  send(response, 200, answer(String(request.headers['x-bench-kind'] ?? 'page'), orgs, variables));
}

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    try {
      handle(request, response, Buffer.concat(chunks));
    } catch (error) {
      send(response, 500, JSON.stringify({ errors: [{ message: (error as Error).message }] }));
    }
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })));
process.on('SIGTERM', () => {
  server.close();
  db.close();
  process.exit(0);
});
