import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { IdempotencyConflictError } from '../../errors.js';
import { reservedProperties } from '../reserved-properties.js';
import type {
  CreatedImage,
  ImageFilter,
  ImagePage,
  ImagePatch,
  ImageProvider,
  ImageQuery,
  ImageRecord,
  ImageScope,
  NewImage,
  Tag,
} from '../types.js';
import { openDatabase } from './database.js';
import { ImageFiles } from './image-files.js';
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
  private readonly files: ImageFiles;

  constructor(readonly dataDir: string) {
    this.db = openDatabase(dataDir);
    this.files = new ImageFiles(dataDir);
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

  async createImage(image: NewImage): Promise<CreatedImage> {
    const row = newImageToRow(randomUUID(), image, new Date());
    const insertImage = this.db.prepare(
      `INSERT INTO images (${SELECT_COLUMNS}, idempotency_key, idempotency_fingerprint, properties)
       VALUES (${IMAGE_COLUMNS.map((c) => `@${c}`).join(', ')}, @key, @fingerprint, @properties)`,
    );
    const insertTag = this.db.prepare('INSERT INTO image_tags (image_id, name, value) VALUES (?, ?, ?)');
    const key = image.idempotency?.key ?? null;
    // Look-up and insert in one transaction: two concurrent calls with one key create one image.
    return this.db.transaction((): CreatedImage => {
      if (image.idempotency) {
        const existing = this.findIdempotent(image.organizationId, image.idempotency.key);
        if (existing) {
          if (existing.fingerprint !== image.idempotency.fingerprint) throw new IdempotencyConflictError(image.idempotency.key);
          return { image: existing.image, created: false };
        }
      }
      insertImage.run({
        ...row,
        key,
        fingerprint: image.idempotency?.fingerprint ?? null,
        properties: JSON.stringify(reservedProperties(image, key)),
      });
      for (const tag of image.tags) insertTag.run(row.id, tag.name, tag.value);
      return { image: rowToImage(row, image.tags), created: true };
    }).immediate();
  }

  async findByIdempotencyKey(organizationId: string | null, key: string) {
    return this.findIdempotent(organizationId, key);
  }

  async updateImage(id: string, patch: ImagePatch): Promise<ImageRecord | null> {
    const columns: Record<string, unknown> = {
      status: patch.status,
      status_reason: patch.statusReason,
      size_bytes: patch.sizeBytes,
      checksum_algorithm: patch.checksum === undefined ? undefined : (patch.checksum?.algorithm ?? null),
      checksum_value: patch.checksum === undefined ? undefined : (patch.checksum?.value ?? null),
    };
    const set = Object.entries(columns).filter(([, value]) => value !== undefined);
    const assignments = [...set.map(([column]) => `${column} = @${column}`), 'updated_at = @updated_at'].join(', ');
    const values = { ...Object.fromEntries(set), updated_at: new Date().toISOString(), id };
    const changed = this.db.prepare(`UPDATE images SET ${assignments} WHERE id = @id`).run(values).changes;
    return changed ? ((await this.getImages([id]))[0] ?? null) : null;
  }

  async writeImageData(id: string, data: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    await this.files.write(id, data, signal);
  }

  async listUnfinishedImports(): Promise<ImageRecord[]> {
    const rows = this.db
      .prepare(`SELECT ${SELECT_COLUMNS} FROM images WHERE status IN ('PENDING', 'CREATING') AND source_kind = 'IMPORT' ORDER BY created_at`)
      .all() as ImageRow[];
    return this.withTags(rows);
  }

  async checkHealth(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private findIdempotent(organizationId: string | null, key: string) {
    const row = this.db
      .prepare(
        `SELECT ${SELECT_COLUMNS}, idempotency_fingerprint FROM images
         WHERE ifnull(organization_id, '') = ? AND idempotency_key = ?`,
      )
      .get(organizationId ?? '', key) as (ImageRow & { idempotency_fingerprint: string }) | undefined;
    return row ? { image: this.withTags([row])[0]!, fingerprint: row.idempotency_fingerprint } : null;
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
