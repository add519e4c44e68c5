import type { ImageRecord, NewImage, Tag } from '../types.js';

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
    softwareVersions: JSON.parse(row.software_versions) as ImageRecord['softwareVersions'],
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
