import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Sqlite, type SqliteDatabase } from './sqlite.js';

/**
 * Schema migrations, applied in order and recorded in `PRAGMA user_version`. Append only: a released
 * migration is never edited, so every data dir can be brought forward.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE images (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    description       TEXT,
    organization_id   TEXT,
    visibility        TEXT NOT NULL CHECK (visibility IN ('PUBLIC', 'ORGANIZATION')),
    status            TEXT NOT NULL CHECK (status IN ('PENDING', 'CREATING', 'READY', 'FAILED')),
    status_reason     TEXT,
    disk_format       TEXT NOT NULL,
    size_bytes        INTEGER,
    checksum_algorithm TEXT,
    checksum_value    TEXT,
    architecture      TEXT NOT NULL,
    virtualization    TEXT NOT NULL,
    os_kernel         TEXT NOT NULL,
    os_family         TEXT NOT NULL,
    os_distro         TEXT NOT NULL,
    os_version        TEXT NOT NULL,
    os_variant        TEXT,
    os_codename       TEXT,
    gpu_vendor        TEXT,
    gpu_driver        TEXT,
    gpu_models        TEXT,
    software_versions TEXT NOT NULL DEFAULT '[]',
    source_kind       TEXT NOT NULL,
    source_uri        TEXT,
    created_by        TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    CHECK ((visibility = 'PUBLIC') = (organization_id IS NULL))
  );
  -- Keyset pagination walks one of these per order; the organization ones serve OWNED listings.
  CREATE INDEX images_name ON images (name, id);
  CREATE INDEX images_created ON images (created_at, id);
  CREATE INDEX images_org_name ON images (organization_id, name, id);
  CREATE INDEX images_org_created ON images (organization_id, created_at, id);

  CREATE TABLE image_tags (
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (image_id, name)
  ) WITHOUT ROWID;
  CREATE INDEX image_tags_lookup ON image_tags (name, value, image_id);
  `,
  `
  ALTER TABLE images ADD COLUMN idempotency_key TEXT;
  ALTER TABLE images ADD COLUMN idempotency_fingerprint TEXT;
  -- Reserved properties (provenance, ownership) mirrored for other tools; see reserved-properties.ts.
  ALTER TABLE images ADD COLUMN properties TEXT NOT NULL DEFAULT '{}';
  -- One key per owner; the platform (PUBLIC images) is the owner ''.
  CREATE UNIQUE INDEX images_idempotency ON images (ifnull(organization_id, ''), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
  CREATE INDEX images_unfinished ON images (status) WHERE status IN ('PENDING', 'CREATING');
  `,
  `
  CREATE TABLE image_uses (
    image_id        TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    consumer_id     TEXT NOT NULL,
    -- The organization holding the use: the owner for its images; the registering one for PUBLIC images,
    -- so two organizations' consumers never collide on one public image.
    organization_id TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (image_id, organization_id, kind, consumer_id)
  ) WITHOUT ROWID;
  `,
  `
  -- What an import fetched when it converted it (QCOW2, XZ...); NULL for a raw download.
  ALTER TABLE images ADD COLUMN source_format TEXT;
  `,
  `
  -- Organizations an image is shared with; the primary key serves "shared with these organizations".
  CREATE TABLE image_shares (
    organization_id TEXT NOT NULL,
    image_id        TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    PRIMARY KEY (organization_id, image_id)
  ) WITHOUT ROWID;
  CREATE INDEX image_shares_image ON image_shares (image_id);
  ALTER TABLE images ADD COLUMN deprecated_at TEXT;
  ALTER TABLE images ADD COLUMN deprecation_replacement TEXT;
  ALTER TABLE images ADD COLUMN signature TEXT;
  ALTER TABLE images ADD COLUMN source_image_id TEXT;
  `,
];

/** Opens (creating if needed) the region's database in WAL mode and brings its schema up to date. */
export function openDatabase(dataDir: string): SqliteDatabase {
  mkdirSync(dataDir, { recursive: true });
  const db = new Sqlite(join(dataDir, 'images.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: SqliteDatabase): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
