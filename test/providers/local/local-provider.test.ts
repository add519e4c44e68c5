import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sqlite as Database } from '../../../src/providers/local/sqlite.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keysetAndOrder, whereClause } from '../../../src/providers/local/image-query-sql.js';
import { IMAGE_COLUMNS, imageRowOf } from '../../../src/providers/local/image-rows.js';
import { LocalImageProvider } from '../../../src/providers/local/local-provider.js';
import type { ImageField, ImageFilter, ImageOrder, ImageScope } from '../../../src/providers/types.js';
import { catalog, createOne, newImage, seed } from '../../fixtures/images.js';

let dir: string;
let provider: LocalImageProvider;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-local-'));
  provider = new LocalImageProvider(dir);
});
afterEach(async () => {
  await provider.close();
  rmSync(dir, { recursive: true, force: true });
});

/** SQLite's plan for the query the provider would run. */
function plan(scope: ImageScope, filter: ImageFilter, order: ImageOrder, after?: { value: string; id: string }): string {
  const where = whereClause(scope, filter);
  const { keyset, orderBy } = keysetAndOrder(order, after);
  const sql = `SELECT id FROM images ${where.sql} ${keyset.sql ? `${where.sql ? 'AND' : 'WHERE'} ${keyset.sql}` : ''} ${orderBy} LIMIT 21`;
  const db = new Database(join(dir, 'images.sqlite'), { readonly: true });
  try {
    const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...where.params, ...keyset.params) as { detail: string }[];
    return rows.map((row) => row.detail).join('\n');
  } finally {
    db.close();
  }
}

describe('LocalImageProvider', () => {
  it('stores every field of an image and reads it back unchanged', async () => {
    const created = await createOne(
      provider,
      newImage({
        organizationId: 'acme',
        visibility: 'ORGANIZATION',
        description: 'with everything',
        gpu: { vendor: 'NVIDIA', driver: '550.54', models: ['H100', 'A100'] },
        softwareVersions: [{ name: 'kubernetes', version: '1.31' }],
        tags: [
          { name: 'team', value: 'core' },
          { name: 'env', value: 'prod' },
        ],
        source: { kind: 'IMPORT', uri: 'https://mirror.example/a.raw', createdBy: 'alice', format: null },
      }),
    );
    const [read] = await provider.getImages([created.id]);
    expect(read).toEqual({ ...created, tags: [...created.tags].sort((a, b) => a.name.localeCompare(b.name)) });
  });

  it('reads each field alone as it reads it with all the others', async () => {
    const created = await createOne(
      provider,
      newImage({
        organizationId: 'acme',
        description: 'with everything',
        statusReason: 'checked',
        gpu: { vendor: 'NVIDIA', driver: '550.54', models: ['H100'] },
        softwareVersions: [{ name: 'kubernetes', version: '1.31' }],
        tags: [{ name: 'team', value: 'core' }],
        source: { kind: 'IMPORT', uri: 'https://mirror.example/a.raw', createdBy: 'alice', format: 'QCOW2' },
      }),
    );
    await provider.updateImage(created.id, {
      shareWith: 'globex',
      signature: 'c2lnbmF0dXJl',
      deprecation: { at: new Date('2099-01-01T00:00:00Z'), replacementId: null },
    });
    const query = {
      scope: { includePublic: false, organizationIds: ['acme'] },
      filter: {},
      order: { field: 'NAME', direction: 'ASC' },
      first: 5,
    } as const;
    const [whole] = (await provider.queryImages(query)).images;
    for (const field of Object.keys(whole!) as ImageField[]) {
      const [part] = (await provider.queryImages({ ...query, fields: [field] })).images;
      expect(part![field], field).toEqual(whole![field]);
    }
    // Both at once: the one query that reads tags and shares together.
    const [details] = (await provider.queryImages({ ...query, fields: ['tags', 'sharedWith'] })).images;
    expect([details!.tags, details!.sharedWith]).toEqual([whole!.tags, whole!.sharedWith]);
  });

  it('reads raw rows by column position, in the order of IMAGE_COLUMNS', () => {
    // Each column's value is its own name: a column read from the wrong position shows at once.
    expect(imageRowOf(IMAGE_COLUMNS)).toEqual(Object.fromEntries(IMAGE_COLUMNS.map((column) => [column, column])));
  });

  it('keeps images across a restart of the provider', async () => {
    const [created] = await seed(provider, [newImage()]);
    await provider.close();
    provider = new LocalImageProvider(dir);
    expect((await provider.getImages([created!.id]))[0]?.name).toBe(created!.name);
  });

  it('returns null, in order, for ids that do not exist', async () => {
    const [a] = await seed(provider, [newImage({ name: 'a' })]);
    const result = await provider.getImages(['missing', a!.id]);
    expect(result.map((image) => image?.name ?? null)).toEqual([null, 'a']);
  });

  it('refuses a PUBLIC image with an owner, or an organization image without one', async () => {
    await expect(provider.createImage(newImage({ organizationId: 'acme', visibility: 'PUBLIC' }))).rejects.toThrow(/CHECK/);
    await expect(provider.createImage(newImage({ organizationId: null, visibility: 'ORGANIZATION' }))).rejects.toThrow(/CHECK/);
  });

  it('pages through a large list by keyset: a deep page is as exact as the first', async () => {
    await seed(provider, catalog([null, 'acme'], 500));
    const scope: ImageScope = { includePublic: true, organizationIds: ['acme'] };
    const order: ImageOrder = { field: 'CREATED_AT', direction: 'DESC' };
    const seen: string[] = [];
    let after: { value: string; id: string } | undefined;
    for (;;) {
      const page = await provider.queryImages({ scope, filter: {}, order, first: 50, after });
      seen.push(...page.images.map((image) => image.id));
      if (!page.hasNextPage) break;
      const last = page.images.at(-1)!;
      after = { value: last.createdAt.toISOString(), id: last.id };
    }
    expect(seen).toHaveLength(500);
    expect(new Set(seen).size).toBe(500);
    expect(await provider.countImages(scope, {})).toBe(500);
  });

  it.each([
    ['name order', { field: 'NAME', direction: 'ASC' }],
    ['creation order', { field: 'CREATED_AT', direction: 'DESC' }],
  ] as const)('walks an index in %s instead of sorting the table', async (_name, order) => {
    await seed(provider, catalog([null, 'acme'], 50));
    const everything = plan({ includePublic: true, organizationIds: 'all' }, {}, order, { value: 'm', id: 'x' });
    expect(everything).toMatch(/USING (COVERING )?INDEX images_(name|created)/);
    expect(everything).not.toMatch(/TEMP B-TREE/);
    const owned = plan({ includePublic: false, organizationIds: ['acme'] }, { statuses: ['READY'] }, order);
    expect(owned).toMatch(/USING (COVERING )?INDEX images_(org_)?(name|created)/);
    expect(owned).not.toMatch(/SCAN images$/m);
  });
});
