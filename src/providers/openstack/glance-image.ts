import { createHash } from 'node:crypto';
import {
  isReservedName,
  readSourceFormat,
  RESERVED_PREFIX,
  RESERVED_PROPERTIES,
  reservedProperties,
} from '../reserved-properties.js';
import type { ImageRecord, ImageStatus, ImageUse, NewImage } from '../types.js';
import { DISTRO_FAMILY } from '../os-distros.js';
import { isTyped, readArchitecture, readDistro, STANDARD, standardProperties } from './standard-properties.js';

/**
 * How an imagegraph image lives in Glance. Glance's own fields carry what it knows (name, status,
 * size, visibility, tags, min_disk); the standard properties carry what Nova and the CLI read
 * (architecture, os_distro, os_version, os_type: see standard-properties.ts); the rest is a string
 * property under the reserved `imagegraph.` prefix, so the CLI shows the same facts:
 *
 * | property                              | value                                              |
 * |---------------------------------------|----------------------------------------------------|
 * | imagegraph.organization / .visibility | owner organization / PUBLIC or ORGANIZATION        |
 * | imagegraph.source_kind / .source_uri / .created_by | provenance                            |
 * | imagegraph.source_format              | what an import converted to raw (QCOW2, XZ...)     |
 * | imagegraph.idempotency_key / .idempotency_fingerprint | the import's idempotency key          |
 * | imagegraph.description                | free text                                          |
 * | imagegraph.virtualization             | VIRTUALIZED (also when missing), BAREMETAL or ANY  |
 * | imagegraph.os_variant / .os_codename  | the operating system's variant and codename        |
 * | imagegraph.gpu_vendor / .gpu_driver / .gpu_models | GPU (models as a JSON array)           |
 * | imagegraph.software_versions          | JSON array of { name, version }                    |
 * | imagegraph.sha256                     | sha256 counted while imagegraph uploaded the bytes |
 * | imagegraph.failed_reason              | why an import failed (the image stays `queued`)    |
 * | imagegraph.use.<hash>                 | one registered use, JSON { organization, kind, consumerId, createdAt } |
 * | imagegraph.protected_by_uses          | "true" while imagegraph set `protected` for uses   |
 *
 * Images written before the standard properties carried imagegraph.architecture, .os_kernel,
 * .os_family, .os_distro and .os_version (enum names) instead: they are read as a fallback, and
 * `legacyUpgrade` moves them to the standard keys. User tags are Glance tags `name=value`.
 */
export const P = {
  ...RESERVED_PROPERTIES,
  idempotencyFingerprint: `${RESERVED_PREFIX}idempotency_fingerprint`,
  description: `${RESERVED_PREFIX}description`,
  virtualization: `${RESERVED_PREFIX}virtualization`,
  osVariant: `${RESERVED_PREFIX}os_variant`,
  osCodename: `${RESERVED_PREFIX}os_codename`,
  gpuVendor: `${RESERVED_PREFIX}gpu_vendor`,
  gpuDriver: `${RESERVED_PREFIX}gpu_driver`,
  gpuModels: `${RESERVED_PREFIX}gpu_models`,
  softwareVersions: `${RESERVED_PREFIX}software_versions`,
  sha256: `${RESERVED_PREFIX}sha256`,
  failedReason: `${RESERVED_PREFIX}failed_reason`,
  deprecatedAt: `${RESERVED_PREFIX}deprecated_at`,
  deprecationReplacement: `${RESERVED_PREFIX}deprecation_replacement`,
  signature: `${RESERVED_PREFIX}signature`,
  sourceImageId: `${RESERVED_PREFIX}source_image_id`,
  /** Sharing is a Glance tag `imagegraph.shared_with=<organization>`: Glance filters on tags, and adds or removes one atomically. */
  sharedWithTag: `${RESERVED_PREFIX}shared_with=`,
  /** Set when a replica starts running the import (''=not running): Glance keeps a streamed upload `queued`. */
  importStartedAt: `${RESERVED_PREFIX}import_started_at`,
  usePrefix: `${RESERVED_PREFIX}use.`,
  protectedByUses: `${RESERVED_PREFIX}protected_by_uses`,
} as const;

/** What images written before the standard properties used instead of them (enum names as values). */
export const LEGACY = {
  architecture: `${RESERVED_PREFIX}architecture`,
  osKernel: `${RESERVED_PREFIX}os_kernel`,
  osFamily: `${RESERVED_PREFIX}os_family`,
  osDistro: `${RESERVED_PREFIX}os_distro`,
  osVersion: `${RESERVED_PREFIX}os_version`,
} as const;

/** Glance's own fields: never shown as properties. */
const GLANCE_FIELDS = new Set([
  'id',
  'name',
  'status',
  'visibility',
  'owner',
  'size',
  'virtual_size',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'protected',
  'tags',
  'created_at',
  'updated_at',
  'self',
  'file',
  'schema',
  'disk_format',
  'container_format',
  'min_disk',
  'min_ram',
  'os_hidden',
  'locations',
  'direct_url',
  'stores',
]);

/** A Glance v2 image as JSON: its own fields plus flat string properties. */
export type GlanceImage = {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  owner: string | null;
  size: number | null;
  protected: boolean;
  min_disk?: number | null;
  min_ram?: number | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
} & Record<string, unknown>;

/**
 * Glance statuses to the contract's; a failed upload or web-download stays `queued`, see failed_reason,
 * and so does an image while its bytes stream in, see import_started_at.
 */
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
  if (image.status === 'queued' && str(image, P.importStartedAt)) return { status: 'CREATING', statusReason: null };
  const status = STATUS[image.status];
  if (status) return { status, statusReason: null };
  return { status: 'FAILED', statusReason: `The image is ${image.status} at Glance` };
}

/**
 * Whose a Glance image is, in imagegraph's terms: the one rule every route uses (listings, node(id),
 * imageChanged, mutations). Only images owned by the region's project belong to the region, whatever
 * their Glance visibility: another project's image (public, community or shared with this one) is not
 * the region's, and its imagegraph properties are not trusted to say whose it is. Of the project's:
 * with imagegraph.organization, that organization's; without, public and community images are PUBLIC
 * (the platform's) and private and shared ones belong to no organization (platform admins only).
 */
export function ownership(image: GlanceImage, projectId: string): Pick<ImageRecord, 'organizationId' | 'visibility'> | null {
  if (image.owner !== projectId) return null;
  const organizationId = str(image, P.organization);
  if (organizationId) return { organizationId, visibility: 'ORGANIZATION' };
  return {
    organizationId: null,
    visibility: image.visibility === 'public' || image.visibility === 'community' ? 'PUBLIC' : 'ORGANIZATION',
  };
}

/** The record of a Glance image, or null when it is not the region's (see `ownership`). */
export function toRecord(image: GlanceImage, projectId: string): ImageRecord | null {
  const owner = ownership(image, projectId);
  if (!owner) return null;
  const { status, statusReason } = glanceStatus(image);
  const sha256 = str(image, P.sha256);
  const gpuVendor = str(image, P.gpuVendor);
  const distro =
    str(image, STANDARD.osDistro) !== null
      ? readDistro(str(image, STANDARD.osDistro))
      : legacyEnum(image, LEGACY.osDistro, readDistro(null));
  return {
    id: image.id,
    name: image.name ?? '',
    description: str(image, P.description),
    ...owner,
    status,
    statusReason,
    diskFormat: 'RAW',
    sizeBytes: image.size,
    checksum: sha256
      ? { algorithm: 'sha256', value: sha256 }
      : image.os_hash_algo && image.os_hash_value
        ? { algorithm: image.os_hash_algo, value: image.os_hash_value }
        : null,
    architecture:
      str(image, STANDARD.architecture) !== null
        ? readArchitecture(str(image, STANDARD.architecture))
        : legacyEnum(image, LEGACY.architecture, readArchitecture(null)),
    virtualization: (str(image, P.virtualization) ?? 'VIRTUALIZED') as ImageRecord['virtualization'],
    os: {
      kernel: 'LINUX',
      family: DISTRO_FAMILY[distro],
      distro,
      version: str(image, STANDARD.osVersion) ?? str(image, LEGACY.osVersion) ?? '',
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
      .filter((tag) => tag.includes('=') && !isReservedName(tag))
      .map((tag) => ({ name: tag.slice(0, tag.indexOf('=')), value: tag.slice(tag.indexOf('=') + 1) }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
    source: {
      kind: (str(image, P.sourceKind) ?? 'PLATFORM') as ImageRecord['source']['kind'],
      uri: str(image, P.sourceUri),
      createdBy: str(image, P.createdBy),
      format: readSourceFormat(str(image, P.sourceFormat)),
      sourceImageId: str(image, P.sourceImageId),
    },
    properties: untypedProperties(image),
    minDiskGiB: image.min_disk ? image.min_disk : null,
    minRamMiB: image.min_ram ? image.min_ram : null,
    sharedWith: image.tags
      .filter((tag) => tag.startsWith(P.sharedWithTag))
      .map((tag) => tag.slice(P.sharedWithTag.length))
      .sort(),
    deprecation: deprecationOf(image),
    // The seed's operators sign with unikorn's property; imagegraph's own wins when it is there at all
    // (set to '' it says "no signature": setImageSignature(null) removes one).
    signature: typeof image[P.signature] === 'string' ? str(image, P.signature) : str(image, UNIKORN_DIGEST),
    createdAt: new Date(image.created_at),
    updatedAt: new Date(image.updated_at),
  };
}

/** What the seed's region service reads the platform image signature from. */
export const UNIKORN_DIGEST = 'unikorn:digest';

function deprecationOf(image: GlanceImage): ImageRecord['deprecation'] {
  const at = str(image, P.deprecatedAt);
  if (!at || Number.isNaN(Date.parse(at))) return null;
  return { at: new Date(at), replacementId: str(image, P.deprecationReplacement) };
}

/** A legacy enum-name property, when it names a member of the typed field; else the field's reading of "missing". */
function legacyEnum<T extends string>(image: GlanceImage, key: string, missing: T): T {
  const value = str(image, key);
  return value && value !== 'OTHER' ? (value as T) : missing;
}

/**
 * The image's properties that no typed field says: everything but Glance's own fields, its internal
 * `os_glance_*` ones, imagegraph's reserved ones, and standard properties whose value a typed field
 * says in full (an architecture read as OTHER keeps its raw value here).
 */
function untypedProperties(image: GlanceImage): { name: string; value: string }[] {
  return Object.entries(image)
    .filter(
      (entry): entry is [string, string] =>
        typeof entry[1] === 'string' &&
        !GLANCE_FIELDS.has(entry[0]) &&
        !entry[0].startsWith('os_glance_') &&
        !isReservedName(entry[0]) &&
        !isTyped(entry[0], entry[1]),
    )
    .map(([name, value]) => ({ name, value }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The body of `POST /v2/images` for a new image: its standard properties and imagegraph's. */
export function toGlanceCreate(image: NewImage, id: string): Record<string, unknown> {
  const key = image.idempotency?.key ?? null;
  const properties: Record<string, string | null> = {
    ...reservedProperties(image, key),
    ...standardProperties(image),
    [P.idempotencyFingerprint]: image.idempotency?.fingerprint ?? null,
    [P.description]: image.description,
    [P.virtualization]: image.virtualization,
    [P.osVariant]: image.os.variant,
    [P.osCodename]: image.os.codename,
    [P.gpuVendor]: image.gpu?.vendor ?? null,
    [P.gpuDriver]: image.gpu?.driver ?? null,
    [P.gpuModels]: image.gpu ? JSON.stringify(image.gpu.models) : null,
    [P.softwareVersions]: image.softwareVersions.length ? JSON.stringify(image.softwareVersions) : null,
    [P.sourceImageId]: image.source.sourceImageId ?? null,
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

/**
 * The JSON-patch that brings an image written before the standard properties up to date: the standard
 * keys from its legacy ones, the legacy ones removed. Empty when there is nothing to do.
 */
export function legacyUpgrade(image: GlanceImage): { op: string; path: string; value?: string }[] {
  if (str(image, LEGACY.osDistro) === null && str(image, LEGACY.architecture) === null) return [];
  const architecture = legacyEnum(image, LEGACY.architecture, readArchitecture(null));
  const distro =
    str(image, STANDARD.osDistro) !== null
      ? readDistro(str(image, STANDARD.osDistro))
      : legacyEnum(image, LEGACY.osDistro, readDistro(null));
  const version = str(image, STANDARD.osVersion) ?? str(image, LEGACY.osVersion) ?? '';
  const wanted = standardProperties({ architecture, os: { distro, version } as NewImage['os'] });
  const ops: { op: string; path: string; value?: string }[] = [];
  for (const [key, value] of Object.entries(wanted))
    if (image[key] === undefined) ops.push({ op: 'add', path: `/${key}`, value });
  for (const key of Object.values(LEGACY)) if (image[key] !== undefined) ops.push({ op: 'remove', path: `/${key}` });
  return ops;
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
