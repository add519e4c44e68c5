import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type {
  ImageFilter,
  ImagePage,
  ImageProvider,
  ImageQuery,
  ImageRecord,
  ImageScope,
  NewImage,
  Tag,
} from '../types.js';
import { openDatabase } from './database.js';
import { IMAGE_COLUMNS, type ImageRow, newImageToRow, rowToImage } from './image-rows.js';
import { keysetAndOrder, whereClause } from './image-query-sql.js';

const SELECT_COLUMNS = IMAGE_COLUMNS.join(', ');

/**
 * The embedded provider: image metadata in SQLite (WAL) and image bytes as files under `dataDir`.
 * Calls are synchronous underneath; the async interface matches providers that go over the network.
 */
export class LocalImageProvider implements ImageProvider {
  readonly kind = 'LOCAL' as const;
  private readonly db: Database.Database;

  constructor(readonly dataDir: string) {
    this.db = openDatabase(dataDir);
  }

  async queryImages(query: ImageQuery): Promise<ImagePage> {
    const where = whereClause(query.scope, query.filter);
    const { keyset, orderBy } = keysetAndOrder(query.order, query.after);
    const conditions = [where.sql, keyset.sql && (where.sql ? `AND ${keyset.sql}` : `WHERE ${keyset.sql}`)];
    const rows = this.db
      .prepare(`SELECT ${SELECT_COLUMNS} FROM images ${conditions.join(' ')} ${orderBy} LIMIT ?`)
      .all(...where.params, ...keyset.params, query.first + 1) as ImageRow[];
    const hasNextPage = rows.length > query.first;
    return { images: this.withTags(rows.slice(0, query.first)), hasNextPage };
  }

  async countImages(scope: ImageScope, filter: ImageFilter): Promise<number> {
    const where = whereClause(scope, filter);
    const row = this.db.prepare(`SELECT count(*) AS n FROM images ${where.sql}`).get(...where.params) as { n: number };
    return row.n;
  }

  async getImages(ids: readonly string[]): Promise<(ImageRecord | null)[]> {
    if (ids.length === 0) return [];
    const rows = this.db
      .prepare(`SELECT ${SELECT_COLUMNS} FROM images WHERE id IN (${ids.map(() => '?').join(', ')})`)
      .all(...ids) as ImageRow[];
    const byId = new Map(this.withTags(rows).map((image) => [image.id, image]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async createImage(image: NewImage): Promise<ImageRecord> {
    const row = newImageToRow(randomUUID(), image, new Date());
    const insertImage = this.db.prepare(
      `INSERT INTO images (${SELECT_COLUMNS}) VALUES (${IMAGE_COLUMNS.map((c) => `@${c}`).join(', ')})`,
    );
    const insertTag = this.db.prepare('INSERT INTO image_tags (image_id, name, value) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      insertImage.run(row);
      for (const tag of image.tags) insertTag.run(row.id, tag.name, tag.value);
    })();
    return rowToImage(row, image.tags);
  }

  async checkHealth(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.db.close();
  }

  /** Loads the tags of a page of rows in one query. */
  private withTags(rows: ImageRow[]): ImageRecord[] {
    if (rows.length === 0) return [];
    const tagRows = this.db
      .prepare(
        `SELECT image_id, name, value FROM image_tags WHERE image_id IN (${rows.map(() => '?').join(', ')}) ORDER BY name`,
      )
      .all(...rows.map((row) => row.id)) as { image_id: string; name: string; value: string }[];
    const tagsByImage = new Map<string, Tag[]>();
    for (const { image_id, name, value } of tagRows) {
      const tags = tagsByImage.get(image_id) ?? [];
      tags.push({ name, value });
      tagsByImage.set(image_id, tags);
    }
    return rows.map((row) => rowToImage(row, tagsByImage.get(row.id) ?? []));
  }
}
