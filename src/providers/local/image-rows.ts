import type { ImageField, ImageRecord, NewImage, Tag } from '../types.js';

/** One row of the `images` table, as better-sqlite3 returns it. */
export interface ImageRow {
  id: string;
  name: string;
  description: string | null;
  organization_id: string | null;
  visibility: ImageRecord['visibility'];
  status: ImageRecord['status'];
  status_reason: string | null;
  disk_format: 'RAW';
  size_bytes: number | null;
  checksum_algorithm: string | null;
  checksum_value: string | null;
  architecture: ImageRecord['architecture'];
  virtualization: ImageRecord['virtualization'];
  os_kernel: ImageRecord['os']['kernel'];
  os_family: ImageRecord['os']['family'];
  os_distro: ImageRecord['os']['distro'];
  os_version: string;
  os_variant: string | null;
  os_codename: string | null;
  gpu_vendor: NonNullable<ImageRecord['gpu']>['vendor'] | null;
  gpu_driver: string | null;
  gpu_models: string | null;
  software_versions: string;
  source_kind: ImageRecord['source']['kind'];
  source_uri: string | null;
  source_format: ImageRecord['source']['format'];
  created_by: string | null;
  created_at: string;
  updated_at: string;
  deprecated_at: string | null;
  deprecation_replacement: string | null;
  signature: string | null;
  source_image_id: string | null;
}

export const IMAGE_COLUMNS = [
  'id',
  'name',
  'description',
  'organization_id',
  'visibility',
  'status',
  'status_reason',
  'disk_format',
  'size_bytes',
  'checksum_algorithm',
  'checksum_value',
  'architecture',
  'virtualization',
  'os_kernel',
  'os_family',
  'os_distro',
  'os_version',
  'os_variant',
  'os_codename',
  'gpu_vendor',
  'gpu_driver',
  'gpu_models',
  'software_versions',
  'source_kind',
  'source_uri',
  'source_format',
  'created_by',
  'created_at',
  'updated_at',
  'deprecated_at',
  'deprecation_replacement',
  'signature',
  'source_image_id',
] as const satisfies readonly (keyof ImageRow)[];

type ImageColumn = (typeof IMAGE_COLUMNS)[number];

/** The columns each record field is read from; tags and shares are rows of their own tables. */
const FIELD_COLUMNS: Readonly<Record<ImageField, readonly ImageColumn[]>> = {
  id: ['id'],
  name: ['name'],
  description: ['description'],
  organizationId: ['organization_id'],
  visibility: ['visibility'],
  status: ['status'],
  statusReason: ['status_reason'],
  diskFormat: ['disk_format'],
  sizeBytes: ['size_bytes'],
  checksum: ['checksum_algorithm', 'checksum_value'],
  architecture: ['architecture'],
  virtualization: ['virtualization'],
  os: ['os_kernel', 'os_family', 'os_distro', 'os_version', 'os_variant', 'os_codename'],
  gpu: ['gpu_vendor', 'gpu_driver', 'gpu_models'],
  softwareVersions: ['software_versions'],
  tags: [],
  source: ['source_kind', 'source_uri', 'created_by', 'source_format', 'source_image_id'],
  properties: [],
  minDiskGiB: [],
  minRamMiB: [],
  sharedWith: [],
  deprecation: ['deprecated_at', 'deprecation_replacement'],
  signature: ['signature'],
  createdAt: ['created_at'],
  updatedAt: ['updated_at'],
};

/**
 * The SELECT list for records of which only `fields` are read (all when absent): every column keeps
 * its position (imageRowOf), and one that no field needs is a NULL, which costs no string to read.
 */
export function selectList(fields: readonly ImageField[] | undefined): string {
  if (!fields) return ALL_COLUMNS;
  let list = selectLists.get(fields);
  if (list === undefined) {
    // The id always: tags and shares are looked up by it.
    const wanted = new Set<ImageColumn>(['id', ...fields.flatMap((field) => FIELD_COLUMNS[field])]);
    list = IMAGE_COLUMNS.map((column) => (wanted.has(column) ? column : 'NULL')).join(', ');
    selectLists.set(fields, list);
  }
  return list;
}

const ALL_COLUMNS = IMAGE_COLUMNS.join(', ');

/** Select lists by the field list they were made for: a cached document hands every request the same list. */
const selectLists = new WeakMap<readonly ImageField[], string>();

/**
 * A row read in better-sqlite3's raw mode (values in IMAGE_COLUMNS order). Raw rows cost half of
 * named ones (better-sqlite3 builds each named row property by property); one object literal of a
 * fixed shape costs next to nothing.
 */
export function imageRowOf(values: readonly unknown[]): ImageRow {
  return {
    id: values[0] as ImageRow['id'],
    name: values[1] as ImageRow['name'],
    description: values[2] as ImageRow['description'],
    organization_id: values[3] as ImageRow['organization_id'],
    visibility: values[4] as ImageRow['visibility'],
    status: values[5] as ImageRow['status'],
    status_reason: values[6] as ImageRow['status_reason'],
    disk_format: values[7] as ImageRow['disk_format'],
    size_bytes: values[8] as ImageRow['size_bytes'],
    checksum_algorithm: values[9] as ImageRow['checksum_algorithm'],
    checksum_value: values[10] as ImageRow['checksum_value'],
    architecture: values[11] as ImageRow['architecture'],
    virtualization: values[12] as ImageRow['virtualization'],
    os_kernel: values[13] as ImageRow['os_kernel'],
    os_family: values[14] as ImageRow['os_family'],
    os_distro: values[15] as ImageRow['os_distro'],
    os_version: values[16] as ImageRow['os_version'],
    os_variant: values[17] as ImageRow['os_variant'],
    os_codename: values[18] as ImageRow['os_codename'],
    gpu_vendor: values[19] as ImageRow['gpu_vendor'],
    gpu_driver: values[20] as ImageRow['gpu_driver'],
    gpu_models: values[21] as ImageRow['gpu_models'],
    software_versions: values[22] as ImageRow['software_versions'],
    source_kind: values[23] as ImageRow['source_kind'],
    source_uri: values[24] as ImageRow['source_uri'],
    source_format: values[25] as ImageRow['source_format'],
    created_by: values[26] as ImageRow['created_by'],
    created_at: values[27] as ImageRow['created_at'],
    updated_at: values[28] as ImageRow['updated_at'],
    deprecated_at: values[29] as ImageRow['deprecated_at'],
    deprecation_replacement: values[30] as ImageRow['deprecation_replacement'],
    signature: values[31] as ImageRow['signature'],
    source_image_id: values[32] as ImageRow['source_image_id'],
  };
}

export function rowToImage(row: ImageRow, tags: Tag[], sharedWith: string[]): ImageRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    organizationId: row.organization_id,
    visibility: row.visibility,
    status: row.status,
    statusReason: row.status_reason,
    diskFormat: row.disk_format,
    sizeBytes: row.size_bytes,
    checksum:
      row.checksum_algorithm && row.checksum_value ? { algorithm: row.checksum_algorithm, value: row.checksum_value } : null,
    architecture: row.architecture,
    virtualization: row.virtualization,
    os: {
      kernel: row.os_kernel,
      family: row.os_family,
      distro: row.os_distro,
      version: row.os_version,
      variant: row.os_variant,
      codename: row.os_codename,
    },
    gpu:
      row.gpu_vendor && row.gpu_driver
        ? { vendor: row.gpu_vendor, driver: row.gpu_driver, models: JSON.parse(row.gpu_models ?? '[]') as string[] }
        : null,
    // Null where the column was not read (selectList).
    softwareVersions: row.software_versions ? (JSON.parse(row.software_versions) as ImageRecord['softwareVersions']) : [],
    tags,
    source: {
      kind: row.source_kind,
      uri: row.source_uri,
      createdBy: row.created_by,
      format: row.source_format,
      sourceImageId: row.source_image_id,
    },
    // The local provider keeps no properties of its own beyond the typed fields.
    properties: [],
    minDiskGiB: null,
    minRamMiB: null,
    sharedWith,
    deprecation: row.deprecated_at ? { at: new Date(row.deprecated_at), replacementId: row.deprecation_replacement } : null,
    signature: row.signature,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function newImageToRow(id: string, image: NewImage, now: Date): ImageRow {
  return {
    id,
    name: image.name,
    description: image.description,
    organization_id: image.organizationId,
    visibility: image.visibility,
    status: image.status ?? 'PENDING',
    status_reason: image.statusReason ?? null,
    disk_format: image.diskFormat,
    size_bytes: image.sizeBytes,
    checksum_algorithm: image.checksum?.algorithm ?? null,
    checksum_value: image.checksum?.value ?? null,
    architecture: image.architecture,
    virtualization: image.virtualization,
    os_kernel: image.os.kernel,
    os_family: image.os.family,
    os_distro: image.os.distro,
    os_version: image.os.version,
    os_variant: image.os.variant,
    os_codename: image.os.codename,
    gpu_vendor: image.gpu?.vendor ?? null,
    gpu_driver: image.gpu?.driver ?? null,
    gpu_models: image.gpu ? JSON.stringify(image.gpu.models) : null,
    software_versions: JSON.stringify(image.softwareVersions),
    source_kind: image.source.kind,
    source_uri: image.source.uri,
    source_format: image.source.format,
    created_by: image.source.createdBy,
    created_at: (image.createdAt ?? now).toISOString(),
    updated_at: now.toISOString(),
    deprecated_at: null,
    deprecation_replacement: null,
    signature: null,
    source_image_id: image.source.sourceImageId ?? null,
  };
}
