import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { encodeImageId } from '../../src/ids.js';
import { LocalImageProvider } from '../../src/providers/local/local-provider.js';
import { createImagegraph, type Imagegraph } from '../../src/server.js';
import { createOne, newImage } from '../fixtures/images.js';
import { capturedLogs, loud } from '../support/captured-logs.js';

const URL_ = 'http://127.0.0.1:4000/graphql';

let dir: string;
let app: Imagegraph;
let lines: Record<string, unknown>[];
let imageId: string;

/** A dev-mode server (every request is a platform admin) with one image to lose. */
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-body-'));
  const provider = new LocalImageProvider(join(dir, 'local'));
  const image = await createOne(provider, newImage({ name: 'precious', status: 'READY' }));
  await provider.close();
  imageId = encodeImageId('local', image.id);
  const captured = capturedLogs();
  lines = captured.lines;
  const config = parseConfig({
    limits: { maxBodyBytes: 64 * 1024 },
    regions: [{ id: 'local', name: 'Local', provider: { type: 'local', dataDir: join(dir, 'local') } }],
  });
  app = await createImagegraph(config, { logger: captured.logger });
});
afterEach(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const post = (body: BodyInit, contentType?: string, init: RequestInit = {}) =>
  app.yoga.fetch(URL_, { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body, ...init });

async function stillThere(): Promise<boolean> {
  const response = await post(
    JSON.stringify({ query: 'query ($id: ID!) { node(id: $id) { id } }', variables: { id: imageId } }),
    'application/json',
  );
  return ((await response.json()) as { data: { node: unknown } }).data.node !== null;
}

const DELETE = () => `mutation { deleteImage(input: { id: "${imageId}" }) { __typename } }`;

describe('what a web page can send to a dev server', () => {
  it('refuses an HTML form POST of a mutation with 415 and runs nothing', async () => {
    const response = await post(new URLSearchParams({ query: DELETE() }).toString(), 'application/x-www-form-urlencoded');

    expect(response.status).toBe(415);
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
      'BAD_REQUEST',
    );
    expect(await stillThere()).toBe(true);
  });

  it('refuses multipart and text/plain bodies, and a POST without a content type, with 415', async () => {
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: DELETE() }));
    expect((await post(form)).status).toBe(415);
    expect((await post(JSON.stringify({ query: DELETE() }), 'text/plain')).status).toBe(415);
    expect((await post(JSON.stringify({ query: DELETE() }))).status).toBe(415);
    expect(await stillThere()).toBe(true);
  });

  it('never runs a mutation sent with GET', async () => {
    const response = await app.yoga.fetch(`${URL_}?query=${encodeURIComponent(DELETE())}`, {
      headers: { accept: 'application/json' },
    });

    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/only perform a mutation operation from a POST request/);
    expect(await stillThere()).toBe(true);
  });

  it('runs the same mutation sent as application/json (which a page cannot send cross-site without CORS)', async () => {
    const response = await post(JSON.stringify({ query: DELETE() }), 'application/json; charset=utf-8');
    expect(((await response.json()) as { data: { deleteImage: { __typename: string } } }).data.deleteImage.__typename).toBe(
      'DeleteImagePayload',
    );
    expect(await stillThere()).toBe(false);
  });
});

describe('request bodies', () => {
  it('refuses a body over maxBodyBytes by its Content-Length with 413, unread', async () => {
    const response = await post('x'.repeat(64 * 1024 + 1), 'application/json');
    expect(response.status).toBe(413);
    expect(JSON.stringify(await response.json())).toMatch(/larger than 65536 bytes/);
  });

  it('cuts a streamed body without Content-Length as soon as it passes maxBodyBytes', async () => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += 16 * 1024;
        controller.enqueue(new Uint8Array(16 * 1024).fill(0x20));
        if (sent > 10 * 1024 * 1024) controller.close();
      },
    });
    const response = await post(body, 'application/json', { duplex: 'half' } as RequestInit);

    expect(response.status).toBe(413);
    expect(sent).toBeLessThan(1024 * 1024);
  });

  it('answers malformed JSON with a short fixed 400, never echoing the body, and no error log', async () => {
    const body = `{"query": "${'A'.repeat(60_000)}`;
    const response = await post(body, 'application/json');
    const text = await response.text();

    expect(response.status).toBe(400);
    expect(JSON.parse(text)).toEqual({
      errors: [{ message: 'The request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }],
    });
    expect(loud(lines)).toEqual([]);
  });

  it('answers a JSON body that is not an object with 400', async () => {
    for (const body of ['[]', '42', 'null', '"query"']) {
      const response = await post(body, 'application/json');
      expect(response.status, body).toBe(400);
    }
  });

  it('answers a variable of the wrong type with 400 BAD_USER_INPUT, without its value, and no error log', async () => {
    const first = `ten${'0'.repeat(50_000)}`;
    const response = await post(
      JSON.stringify({
        query: 'query ($first: Int) { images(region: "local", first: $first) { nodes { id } } }',
        variables: { first },
      }),
      'application/json',
    );
    const text = await response.text();
    const body = JSON.parse(text) as { errors: { message: string; extensions: Record<string, unknown> }[] };

    expect(response.status).toBe(400);
    expect(body.errors[0]!.extensions).toEqual({ code: 'BAD_USER_INPUT' });
    expect(body.errors[0]!.message).toMatch(/^Variable "\$first"/);
    expect(text.length).toBeLessThan(600);
    expect(loud(lines)).toEqual([]);
  });
});
