import { createHash } from 'node:crypto';
import { RESERVED_PREFIX, RESERVED_PROPERTIES, reservedProperties } from '../reserved-properties.js';
import type { ImageRecord, ImageStatus, ImageUse, NewImage } from '../types.js';

/**
 * How an imagegraph image lives in Glance. Glance's own fields carry what it knows (name, status,
 * size, visibility, tags); everything else is a string property under the reserved `imagegraph.`
 * prefix, documented here and in the README, so the Glance CLI shows the same facts:
 *
 * | property                              | value                                              |
 * |---------------------------------------|----------------------------------------------------|
 * | imagegraph.organization / .visibility | owner organization / PUBLIC or ORGANIZATION        |
 * | imagegraph.source_kind / .source_uri / .created_by | provenance                            |
 * | imagegraph.idempotency_key / .idempotency_fingerprint | the import's idempotency key          |
 * | imagegraph.description                | free text                                          |
 * | imagegraph.architecture / .virtualization | enum values                                    |
 * | imagegraph.os_kernel/_family/_distro/_version/_variant/_codename | the operating system    |
 * | imagegraph.gpu_vendor / .gpu_driver / .gpu_models | GPU (models as a JSON array)           |
 * | imagegraph.software_versions          | JSON array of { name, version }                    |
 * | imagegraph.sha256                     | sha256 counted while imagegraph uploaded the bytes |
 * | imagegraph.failed_reason              | why an import failed (the image stays `queued`)    |
 * | imagegraph.use.<hash>                 | one registered use, JSON { organization, kind, consumerId, createdAt } |
 * | imagegraph.protected_by_uses          | "true" while imagegraph set `protected` for uses   |
 *
 * User tags are Glance tags `name=value`.
 */
export const P = {
  ...RESERVED_PROPERTIES,
  idempotencyFingerprint: `${RESERVED_PREFIX}idempotency_fingerprint`,
  description: `${RESERVED_PREFIX}description`,
  architecture: `${RESERVED_PREFIX}architecture`,
  virtualization: `${RESERVED_PREFIX}virtualization`,
  osKernel: `${RESERVED_PREFIX}os_kernel`,
  osFamily: `${RESERVED_PREFIX}os_family`,
  osDistro: `${RESERVED_PREFIX}os_distro`,
  osVersion: `${RESERVED_PREFIX}os_version`,
  osVariant: `${RESERVED_PREFIX}os_variant`,
  osCodename: `${RESERVED_PREFIX}os_codename`,
  gpuVendor: `${RESERVED_PREFIX}gpu_vendor`,
  gpuDriver: `${RESERVED_PREFIX}gpu_driver`,
  gpuModels: `${RESERVED_PREFIX}gpu_models`,
  softwareVersions: `${RESERVED_PREFIX}software_versions`,
  sha256: `${RESERVED_PREFIX}sha256`,
  failedReason: `${RESERVED_PREFIX}failed_reason`,
  usePrefix: `${RESERVED_PREFIX}use.`,
  protectedByUses: `${RESERVED_PREFIX}protected_by_uses`,
} as const;

/** A Glance v2 image as JSON: its own fields plus flat string properties. */
export type GlanceImage = {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  owner: string | null;
  size: number | null;
  protected: boolean;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
} & Record<string, unknown>;

/** Glance statuses to the contract's; a failed upload or web-download stays `queued`, see failed_reason. */
const STATUS: Record<string, ImageStatus> = {
  queued: 'PENDING',
  saving: 'CREATING',
  uploading: 'CREATING',
  importing: 'CREATING',
  active: 'READY',
};

export function glanceStatus(image: GlanceImage): { status: ImageStatus; statusReason: string | null } {
  const failed = str(image, P.failedReason);
  if (failed) return { status: 'FAILED', statusReason: failed };
  const status = STATUS[image.status];
  if (status) return { status, statusReason: null };
  return { status: 'FAILED', statusReason: `The image is ${image.status} at Glance` };
}

/**
 * The record of a Glance image, or null for one that is not imagegraph's to show: a private image
 * without an owning organization (made by other tools in the same project).
 */
export function toRecord(image: GlanceImage): ImageRecord | null {
  const isPublic = image.visibility === 'public';
  const organizationId = isPublic ? null : str(image, P.organization);
  if (!isPublic && !organizationId) return null;
  const { status, statusReason } = glanceStatus(image);
  const sha256 = str(image, P.sha256);
  const gpuVendor = str(image, P.gpuVendor);
  return {
    id: image.id,
    name: image.name ?? '',
    description: str(image, P.description),
    organizationId,
    visibility: isPublic ? 'PUBLIC' : 'ORGANIZATION',
    status,
    statusReason,
    diskFormat: 'RAW',
    sizeBytes: image.size,
    checksum: sha256
      ? { algorithm: 'sha256', value: sha256 }
      : image.os_hash_algo && image.os_hash_value
        ? { algorithm: image.os_hash_algo, value: image.os_hash_value }
        : null,
    architecture: (str(image, P.architecture) ?? 'X86_64') as ImageRecord['architecture'],
    virtualization: (str(image, P.virtualization) ?? 'VIRTUALIZED') as ImageRecord['virtualization'],
    os: {
      kernel: (str(image, P.osKernel) ?? 'LINUX') as ImageRecord['os']['kernel'],
      family: (str(image, P.osFamily) ?? 'DEBIAN') as ImageRecord['os']['family'],
      distro: (str(image, P.osDistro) ?? 'DEBIAN') as ImageRecord['os']['distro'],
      version: str(image, P.osVersion) ?? '',
      variant: str(image, P.osVariant),
      codename: str(image, P.osCodename),
    },
    gpu: gpuVendor
      ? {
          vendor: gpuVendor as NonNullable<ImageRecord['gpu']>['vendor'],
          driver: str(image, P.gpuDriver) ?? '',
          models: parseJson<string[]>(str(image, P.gpuModels), []),
        }
      : null,
    softwareVersions: parseJson(str(image, P.softwareVersions), []),
    tags: image.tags
      .filter((tag) => tag.includes('='))
      .map((tag) => ({ name: tag.slice(0, tag.indexOf('=')), value: tag.slice(tag.indexOf('=') + 1) }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
    source: {
      kind: (str(image, P.sourceKind) ?? 'PLATFORM') as ImageRecord['source']['kind'],
      uri: str(image, P.sourceUri),
      createdBy: str(image, P.createdBy),
    },
    createdAt: new Date(image.created_at),
    updatedAt: new Date(image.updated_at),
  };
}

/** The body of `POST /v2/images` for a new image. */
export function toGlanceCreate(image: NewImage, id: string): Record<string, unknown> {
  const key = image.idempotency?.key ?? null;
  const properties: Record<string, string | null> = {
    ...reservedProperties(image, key),
    [P.idempotencyFingerprint]: image.idempotency?.fingerprint ?? null,
    [P.description]: image.description,
    [P.architecture]: image.architecture,
    [P.virtualization]: image.virtualization,
    [P.osKernel]: image.os.kernel,
    [P.osFamily]: image.os.family,
    [P.osDistro]: image.os.distro,
    [P.osVersion]: image.os.version,
    [P.osVariant]: image.os.variant,
    [P.osCodename]: image.os.codename,
    [P.gpuVendor]: image.gpu?.vendor ?? null,
    [P.gpuDriver]: image.gpu?.driver ?? null,
    [P.gpuModels]: image.gpu ? JSON.stringify(image.gpu.models) : null,
    [P.softwareVersions]: image.softwareVersions.length ? JSON.stringify(image.softwareVersions) : null,
  };
  return {
    id,
    name: image.name,
    disk_format: 'raw',
    container_format: 'bare',
    visibility: image.visibility === 'PUBLIC' ? 'public' : 'private',
    tags: image.tags.map((tag) => `${tag.name}=${tag.value}`),
    ...Object.fromEntries(Object.entries(properties).filter(([, value]) => value !== null && value !== '')),
  };
}

/** The uses recorded on an image, oldest first. */
export function usesOf(image: GlanceImage): ImageUse[] {
  return Object.entries(image)
    .filter(([key]) => key.startsWith(P.usePrefix))
    .map(([, value]) => {
      const use = parseJson<{ organization: string; kind: string; consumerId: string; createdAt: string }>(String(value), null!);
      return { organizationId: use.organization, kind: use.kind, consumerId: use.consumerId, createdAt: new Date(use.createdAt) };
    })
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.consumerId < b.consumerId ? -1 : 1));
}

/** The property that records one use: a hash, since consumer IDs may hold any character. */
export function useProperty(organizationId: string, kind: string, consumerId: string): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([organizationId, kind, consumerId]))
    .digest('hex')
    .slice(0, 24);
  return `${P.usePrefix}${hash}`;
}

/**
 * The Glance image id for an idempotency key: derived from project, owner, key and generation (see
 * OpenStackImageProvider.createImage), so two replicas
 * creating the same key at once collide on Glance's unique id (409) instead of creating two images.
 * The project is part of it because ids are unique across the whole Glance: regions (or deployments)
 * sharing one Glance under other projects must not collide on the same owner and key.
 */
export function idempotentImageId(projectId: string, organizationId: string | null, key: string, generation: number): string {
  const hex = createHash('sha256')
    .update(`imagegraph\u0000${projectId}\u0000${organizationId ?? ''}\u0000${key}\u0000${generation}`)
    .digest('hex');
  // A version-8 (custom) UUID.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function str(image: GlanceImage, key: string): string | null {
  const value = image[key];
  return typeof value === 'string' && value !== '' ? value : null;
}

function parseJson<T>(text: string | null, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
