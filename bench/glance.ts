// npm run bench:glance: the latency of an `images` page through imagegraph (HTTP, GraphQL, access
// check, Glance provider) as a ratio to the same page fetched directly from Glance's REST API, both
// over loopback in the same run against the same Glance (goal: <= 1.25), for the first page and a
// deep one. Uses GLANCE_URL, or starts Glance with scripts/glance.sh (installed: scripts/glance.sh install).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createImagegraph } from '../src/server.js';
import { catalog, seed } from '../test/fixtures/images.js';

const ITERATIONS = 300;
const PAGE = 20;
const IMAGES = 400;
const PROJECT = `bench-${Date.now()}`;
const dir = mkdtempSync(join(tmpdir(), 'imagegraph-bench-glance-'));
const script = join(import.meta.dirname, '..', 'scripts', 'glance.sh');

let glanceUrl = process.env.GLANCE_URL;
if (!glanceUrl) glanceUrl = /GLANCE_URL=(\S+)/.exec(execFileSync('bash', [script, 'start', dir], { encoding: 'utf8' }))![1]!;

const headers = {
  'x-identity-status': 'Confirmed',
  'x-project-id': PROJECT,
  'x-user-id': 'bench',
  'x-roles': 'admin',
  accept: 'application/json',
};

const config = parseConfig({
  regions: [
    {
      id: 'glance',
      name: 'Glance',
      provider: {
        type: 'openstack',
        imageUrl: glanceUrl,
        auth: { type: 'trusted-headers', projectId: PROJECT, userId: 'bench', roles: ['admin'] },
      },
    },
  ],
  server: { port: 0 },
});
const app = await createImagegraph(config, { logger: createLogger('silent') });
const { url: graphqlUrl } = await app.listen();

console.log(`Seeding ${IMAGES} images into Glance project ${PROJECT}...`);
await seed(app.provider('glance'), catalog(['dev'], IMAGES));

const QUERY = `query ($after: String) { images(region: "glance", first: ${PAGE}, after: $after,
  filter: { scope: OWNED, organizations: ["dev"] }) { nodes { id name status } pageInfo { endCursor } } }`;

async function viaImagegraph(after: string | null): Promise<{ names: string[]; endCursor: string }> {
  const response = await request(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: QUERY, variables: { after } }),
  });
  const { data } = (await response.body.json()) as {
    data: { images: { nodes: { name: string }[]; pageInfo: { endCursor: string } } };
  };
  return { names: data.images.nodes.map((n) => n.name), endCursor: data.images.pageInfo.endCursor };
}

/** The same page straight from Glance: the listing imagegraph's provider asks for, one call. */
async function viaGlance(marker: string | null): Promise<string[]> {
  const params = new URLSearchParams({
    visibility: 'private',
    owner: PROJECT,
    'imagegraph.organization': 'dev',
    sort: 'name:asc,id:asc',
    limit: String(PAGE),
    ...(marker ? { marker } : {}),
  });
  const response = await request(`${glanceUrl}/v2/images?${params}`, { headers });
  const body = (await response.body.json()) as { images: { name: string }[] };
  return body.images.map((image) => image.name);
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const p90 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.9)]!;
const p10 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.1)]!;

async function compare(label: string, after: string | null, marker: string | null): Promise<void> {
  const ours = await viaImagegraph(after);
  const theirs = await viaGlance(marker);
  if (JSON.stringify(ours.names) !== JSON.stringify(theirs)) throw new Error(`${label}: the pages differ`);
  for (let i = 0; i < 20; i++) await Promise.all([viaImagegraph(after), viaGlance(marker)]);
  const imagegraph: number[] = [];
  const glance: number[] = [];
  // Interleaved, so that both see the same machine at the same moments.
  for (let i = 0; i < ITERATIONS; i++) {
    imagegraph.push(await timed(() => viaImagegraph(after)));
    glance.push(await timed(() => viaGlance(marker)));
  }
  // Glance's latency is bimodal on loopback (a ~40 ms delayed-ACK stall hits some answers at random),
  // so the fast mode (p10) is reported beside the median: it is the cost each path adds by itself.
  console.log(
    `${label}: imagegraph p10 ${p10(imagegraph).toFixed(2)} / median ${median(imagegraph).toFixed(2)} / p90 ${p90(imagegraph).toFixed(2)} ms; ` +
      `Glance direct p10 ${p10(glance).toFixed(2)} / median ${median(glance).toFixed(2)} / p90 ${p90(glance).toFixed(2)} ms; ` +
      `ratio p10 ${(p10(imagegraph) / p10(glance)).toFixed(3)}, median ${(median(imagegraph) / median(glance)).toFixed(3)}`,
  );
}

try {
  await compare(`first page (${PAGE} of ${IMAGES})`, null, null);
  // Walk to page 10 to get both cursors for the same position.
  let after: string | null = null;
  let marker: string | null = null;
  for (let page = 1; page < 10; page++) {
    const ours: { names: string[]; endCursor: string } = await viaImagegraph(after);
    after = ours.endCursor;
    const params = new URLSearchParams({
      visibility: 'private',
      owner: PROJECT,
      'imagegraph.organization': 'dev',
      sort: 'name:asc,id:asc',
      limit: String(PAGE),
      ...(marker ? { marker } : {}),
    });
    const response = await request(`${glanceUrl}/v2/images?${params}`, { headers });
    const body = (await response.body.json()) as { images: { id: string }[] };
    marker = body.images.at(-1)!.id;
  }
  await compare('page 10 (deep, keyset via marker)', after, marker);
} finally {
  await app.close();
  if (!process.env.GLANCE_URL) execFileSync('bash', [script, 'stop', dir]);
  rmSync(dir, { recursive: true, force: true });
}
