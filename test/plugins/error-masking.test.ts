import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { createImagegraph, type Imagegraph } from '../../src/server.js';

let dir: string;
let app: Imagegraph;
afterEach(async () => {
  await app.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function serverWithCapturedLogs() {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-mask-'));
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(
        ...chunk
          .toString()
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as Record<string, unknown>),
      );
      done();
    },
  });
  const config = parseConfig({ regions: [{ id: 'local', name: 'Local', provider: { type: 'local', dataDir: dir } }] });
  app = await createImagegraph(config, { logger: pino({ level: 'info' }, sink) });
  return lines;
}

describe('error masking', () => {
  it('answers an unexpected failure with INTERNAL_SERVER_ERROR and logs its cause with the request id', async () => {
    const logs = await serverWithCapturedLogs();
    // A real fault: the region's database is closed under the server.
    await app.provider('local').close();
    const response = await app.yoga.fetch('http://imagegraph.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-123' },
      body: JSON.stringify({ query: '{ images(region: "local") { totalCount } }' }),
    });
    const body = (await response.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(response.headers.get('x-request-id')).toBe('req-123');
    expect(body.errors[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(JSON.stringify(body)).not.toMatch(/database|sqlite|\.ts:/i);
    const logged = logs.find((line) => line.msg === 'unexpected error');
    expect(logged).toMatchObject({ requestId: 'req-123', level: 50 });
    expect(JSON.stringify(logged)).toMatch(/database connection is not open/);
  });

  it("keeps a domain error's message and code, logging it at no level above debug", async () => {
    const logs = await serverWithCapturedLogs();
    const response = await app.yoga.fetch('http://imagegraph.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ images(region: "nowhere") { totalCount } }' }),
    });
    const body = (await response.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(body.errors[0]).toMatchObject({
      message: 'Region "nowhere" not found',
      extensions: { code: 'REGION_NOT_FOUND', region: 'nowhere' },
    });
    expect(logs.filter((line) => (line.level as number) >= 40)).toEqual([]);
  });

  it("passes GraphQL's own syntax and validation errors through unmasked", async () => {
    await serverWithCapturedLogs();
    const post = (query: string) =>
      app.yoga.fetch('http://imagegraph.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      });
    const syntax = (await (await post('{ viewer {')).json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(syntax.errors[0]!.extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(syntax.errors[0]!.message).toMatch(/Syntax Error/);
    const unknown = (await (await post('{ nope }')).json()) as { errors: { message: string; extensions: { code: string } }[] };
    expect(unknown.errors[0]!.message).toMatch(/Cannot query field "nope"/);
  });
});
