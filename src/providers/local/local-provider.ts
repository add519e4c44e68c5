import { randomUUID } from 'node:crypto';
import type { SqliteDatabase } from './sqlite.js';
import { reservedProperties } from '../reserved-properties.js';
import type {
  CreateOutcome,
  DeleteOutcome,
  ImageFilter,
  ImagePage,
  ImagePatch,
  ImageProvider,
  ImageQuery,
  ImageRecord,
  ImageScope,
  ImageUse,
  NewImage,
  Tag,
} from '../types.js';
import { openDatabase } from './database.js';
import { StatementCache } from './statement-cache.js';
import { ImageFiles } from './image-files.js';
import { IMAGE_COLUMNS, type ImageRow, imageRowOf, newImageToRow, rowToImage, selectList } from './image-rows.js';
import { keysetAndOrder, whereClause } from './image-query-sql.js';

const SELECT_COLUMNS = IMAGE_COLUMNS.join(', ');

/**
 * The embedded provider: image metadata in SQLite (WAL) and image bytes as files under `dataDir`.
 * Calls are synchronous underneath; the async interface matches providers that go over the network.
 */
export class LocalImageProvider implements ImageProvider {
  readonly kind = 'LOCAL' as const;
  readonly answersInProcess = true;
  private readonly db: SqliteDatabase;
  private readonly files: ImageFiles;
  private readonly statements: StatementCache;

  constructor(readonly dataDir: string) {
    this.db = openDatabase(dataDir);
    this.statements = new StatementCache(this.db);
    this.files = new ImageFiles(dataDir);
    const ids = this.db.prepare('SELECT id FROM images').pluck().all() as string[];
    this.files.removeOrphans(new Set(ids));
  }

  async queryImages(query: ImageQuery): Promise<ImagePage> {
    const where = whereClause(query.scope, query.filter);
    const { keyset, orderBy } = keysetAndOrder(query.order, query.after);
    const conditions = [where.sql, keyset.sql && (where.sql ? `AND ${keyset.sql}` : `WHERE ${keyset.sql}`)];
    const rows = this.imageRows(
      `SELECT ${selectList(query.fields)} FROM images ${conditions.join(' ')} ${orderBy} LIMIT ?`,
      ...where.params,
      ...keyset.params,
      query.first + 1,
    );
    const hasNextPage = rows.length > query.first;
    const read = query.fields && { tags: query.fields.includes('tags'), shares: query.fields.includes('sharedWith') };
    return { images: this.withDetails(rows.slice(0, query.first), read), hasNextPage };
  }

  async countImages(scope: ImageScope, filter: ImageFilter): Promise<number> {
    const where = whereClause(scope, filter);
    const row = this.sql(`SELECT count(*) AS n FROM images ${where.sql}`).get(...where.params) as { n: number };
    return row.n;
  }

  async getImages(ids: readonly string[]): Promise<(ImageRecord | null)[]> {
    if (ids.length === 0) return [];
    const rows = this.imageRows(`SELECT ${SELECT_COLUMNS} FROM images WHERE id IN (${ids.map(() => '?').join(', ')})`, ...ids);
    const byId = new Map(this.withDetails(rows).map((image) => [image.id, image]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async createImage(image: NewImage): Promise<CreateOutcome> {
    const row = newImageToRow(randomUUID(), image, new Date());
    const insertImage = this.sql(
      `INSERT INTO images (${SELECT_COLUMNS}, idempotency_key, idempotency_fingerprint, properties)
       VALUES (${IMAGE_COLUMNS.map((c) => `@${c}`).join(', ')}, @key, @fingerprint, @properties)`,
    );
    const insertTag = this.sql('INSERT INTO image_tags (image_id, name, value) VALUES (?, ?, ?)');
    const key = image.idempotency?.key ?? null;
    // Look-up and insert in one transaction: two concurrent calls with one key create one image.
    return this.db
      .transaction((): CreateOutcome => {
        if (image.idempotency) {
          const existing = this.findIdempotent(image.organizationId, image.idempotency.key);
          if (existing) return { result: 'existing', ...existing };
        }
        insertImage.run({
          ...row,
          key,
          fingerprint: image.idempotency?.fingerprint ?? null,
          properties: JSON.stringify(reservedProperties(image, key)),
        });
        for (const tag of image.tags) insertTag.run(row.id, tag.name, tag.value);
        return { result: 'created', image: rowToImage(row, image.tags, []) };
      })
      .immediate();
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
      deprecated_at: patch.deprecation === undefined ? undefined : (patch.deprecation?.at.toISOString() ?? null),
      deprecation_replacement: patch.deprecation === undefined ? undefined : (patch.deprecation?.replacementId ?? null),
      signature: patch.signature,
    };
    const set = Object.entries(columns).filter(([, value]) => value !== undefined);
    const assignments = [...set.map(([column]) => `${column} = @${column}`), 'updated_at = @updated_at'].join(', ');
    const values = { ...Object.fromEntries(set), updated_at: new Date().toISOString(), id };
    const changed = this.db
      .transaction(() => {
        const changes = this.sql(`UPDATE images SET ${assignments} WHERE id = @id`).run(values).changes;
        if (changes && patch.shareWith) {
          this.sql('INSERT INTO image_shares (organization_id, image_id) VALUES (?, ?) ON CONFLICT DO NOTHING').run(
            patch.shareWith,
            id,
          );
        }
        if (changes && patch.unshareWith) {
          this.sql('DELETE FROM image_shares WHERE organization_id = ? AND image_id = ?').run(patch.unshareWith, id);
        }
        return changes;
      })
      .immediate();
    // A FAILED image holds no bytes, even those a crash left between the rename and READY.
    if (patch.status === 'FAILED') await this.files.remove(id);
    return changed ? ((await this.getImages([id]))[0] ?? null) : null;
  }

  async writeImageData(id: string, data: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    await this.files.write(id, data, signal);
    // Deleted while the bytes were moving: the delete found no file to remove, so remove it here.
    if (!this.exists(id)) await this.files.remove(id);
  }

  async readImageData(id: string, start: number, end: number): Promise<Uint8Array> {
    return this.files.read(id, start, end);
  }

  async deleteImage(id: string): Promise<DeleteOutcome> {
    const outcome = this.db
      .transaction((): DeleteOutcome => {
        if (!this.exists(id)) return { result: 'not-found' };
        const usedBy = this.usesOf([id])[0]!;
        if (usedBy.length) return { result: 'in-use', usedBy };
        this.sql('DELETE FROM images WHERE id = ?').run(id);
        return { result: 'deleted' };
      })
      .immediate();
    if (outcome.result === 'deleted') await this.files.remove(id);
    return outcome;
  }

  async registerImageUse(id: string, use: Omit<ImageUse, 'createdAt'>): Promise<boolean> {
    return this.db
      .transaction(() => {
        if (!this.exists(id)) return false;
        this.sql(
          `INSERT INTO image_uses (image_id, kind, consumer_id, organization_id, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT DO NOTHING`,
        ).run(id, use.kind, use.consumerId, use.organizationId, new Date().toISOString());
        return true;
      })
      .immediate();
  }

  async releaseImageUse(
    id: string,
    { kind, consumerId, organizationIds }: { kind: string; consumerId: string; organizationIds: readonly string[] | 'all' },
  ): Promise<boolean> {
    const orgs =
      organizationIds === 'all' ? '' : `AND organization_id IN (${organizationIds.map(() => '?').join(', ') || 'NULL'})`;
    return this.db
      .transaction(() => {
        if (!this.exists(id)) return false;
        this.sql(`DELETE FROM image_uses WHERE image_id = ? AND kind = ? AND consumer_id = ? ${orgs}`).run(
          id,
          kind,
          consumerId,
          ...(organizationIds === 'all' ? [] : organizationIds),
        );
        return true;
      })
      .immediate();
  }

  async listImageUses(ids: readonly string[]): Promise<ImageUse[][]> {
    return this.usesOf(ids);
  }

  async listUnfinishedImports(): Promise<ImageRecord[]> {
    const rows = this.imageRows(
      `SELECT ${SELECT_COLUMNS} FROM images WHERE status IN ('PENDING', 'CREATING') AND source_kind IN ('IMPORT', 'COPY')
         ORDER BY created_at`,
    );
    return this.withDetails(rows);
  }

  async checkHealth(): Promise<void> {
    this.sql('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.db.close();
  }

  /** Image rows for a `SELECT ${SELECT_COLUMNS} ...` (or a selectList), read raw (see imageRowOf). */
  private imageRows(text: string, ...params: unknown[]): ImageRow[] {
    return (this.statements.raw(text).all(...params) as unknown[][]).map(imageRowOf);
  }

  /** The statement for this SQL, prepared once. */
  private sql(text: string) {
    return this.statements.get(text);
  }

  private exists(id: string): boolean {
    return this.sql('SELECT 1 FROM images WHERE id = ?').get(id) !== undefined;
  }

  private usesOf(ids: readonly string[]): ImageUse[][] {
    if (ids.length === 0) return [];
    const rows = this.sql(
      `SELECT image_id, kind, consumer_id, organization_id, created_at FROM image_uses
         WHERE image_id IN (${ids.map(() => '?').join(', ')}) ORDER BY created_at, kind, consumer_id`,
    ).all(...ids) as { image_id: string; kind: string; consumer_id: string; organization_id: string; created_at: string }[];
    return ids.map((id) =>
      rows
        .filter((row) => row.image_id === id)
        .map((row) => ({
          kind: row.kind,
          consumerId: row.consumer_id,
          organizationId: row.organization_id,
          createdAt: new Date(row.created_at),
        })),
    );
  }

  private findIdempotent(organizationId: string | null, key: string) {
    const row = this.sql(
      `SELECT ${SELECT_COLUMNS}, idempotency_fingerprint FROM images
         WHERE ifnull(organization_id, '') = ? AND idempotency_key = ?`,
    ).get(organizationId ?? '', key) as (ImageRow & { idempotency_fingerprint: string }) | undefined;
    return row ? { image: this.withDetails([row])[0]!, fingerprint: row.idempotency_fingerprint } : null;
  }

  /**
   * Records of rows with their tags and shares (one query for both); `read` leaves out what
   * the caller will not read (a record's tags or shares are then empty).
   */
  private withDetails(rows: ImageRow[], read: { tags: boolean; shares: boolean } = { tags: true, shares: true }): ImageRecord[] {
    if (rows.length === 0 || (!read.tags && !read.shares)) return rows.map((row) => rowToImage(row, [], []));
    const ids = rows.map((row) => row.id);
    const placeholders = ids.map(() => '?').join(', ');
    // A share is a row with a null value: tag values are never null.
    const tagsSql = `SELECT image_id, name, value FROM image_tags WHERE image_id IN (${placeholders})`;
    const sharesSql = `SELECT image_id, organization_id, NULL FROM image_shares WHERE image_id IN (${placeholders})`;
    const both = read.tags && read.shares;
    const detailRows = this.statements
      .raw(both ? `${tagsSql} UNION ALL ${sharesSql} ORDER BY 2` : `${read.tags ? tagsSql : sharesSql} ORDER BY 2`)
      .all(...ids, ...(both ? ids : [])) as [imageId: string, name: string, value: string | null][];
    const tagsByImage = new Map<string, Tag[]>();
    const sharesByImage = new Map<string, string[]>();
    for (const [imageId, name, value] of detailRows) {
      if (value === null) {
        const shares = sharesByImage.get(imageId);
        if (shares) shares.push(name);
        else sharesByImage.set(imageId, [name]);
      } else {
        const tags = tagsByImage.get(imageId);
        if (tags) tags.push({ name, value });
        else tagsByImage.set(imageId, [{ name, value }]);
      }
    }
    return rows.map((row) => rowToImage(row, tagsByImage.get(row.id) ?? [], sharesByImage.get(row.id) ?? []));
  }
}
