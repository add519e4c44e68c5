/**
 * The one interface every image provider implements (local SQLite, OpenStack Glance). The provider is
 * the source of truth: the server keeps no image index and pushes every query down to it.
 *
 * The convention at this boundary: a provider answers with an outcome (`DeleteOutcome`,
 * `CreateOutcome`, a record or null) for everything that can happen to a valid call, refusals
 * included, and throws only provider-level errors (`./errors.ts`: unavailable, a page key that is
 * gone) for what it cannot answer. It never throws a domain error and knows nothing of GraphQL
 * (argument names, paths, codes): resolvers decide which answer an outcome is, and
 * src/provider-access/ maps provider-level errors to domain errors once.
 */

export type ImageStatus = 'PENDING' | 'CREATING' | 'READY' | 'FAILED';
export type Visibility = 'PUBLIC' | 'ORGANIZATION';
/** `OTHER`: the provider says something no member names (its raw value is in `properties`). */
export type Architecture = 'X86_64' | 'AARCH64' | 'OTHER';
export type Virtualization = 'VIRTUALIZED' | 'BAREMETAL' | 'ANY';
export type OsKernel = 'LINUX';
export type OsFamily = 'DEBIAN' | 'REDHAT' | 'OTHER';
export type OsDistro = 'UBUNTU' | 'DEBIAN' | 'ROCKY' | 'ALMALINUX' | 'RHEL' | 'OTHER';
export type GpuVendor = 'NVIDIA' | 'AMD';
export type SourceKind = 'IMPORT' | 'SNAPSHOT' | 'PLATFORM' | 'COPY';
/** The formats an import converts to raw (members of the contract's DetectedFormat). */
export const SOURCE_FORMATS = ['QCOW2', 'QED', 'VMDK', 'VHD', 'VHDX', 'VDI', 'GZIP', 'XZ', 'ZSTD', 'BZIP2'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

export interface OperatingSystem {
  kernel: OsKernel;
  family: OsFamily;
  distro: OsDistro;
  version: string;
  variant: string | null;
  codename: string | null;
}

export interface Gpu {
  vendor: GpuVendor;
  driver: string;
  models: string[];
}

export interface Tag {
  name: string;
  value: string;
}

export interface SoftwareVersion {
  name: string;
  version: string;
}

export interface ImageSource {
  kind: SourceKind;
  uri: string | null;
  createdBy: string | null;
  /** What an import fetched when it converted it to raw; null when it fetched a raw disk. */
  format: SourceFormat | null;
  /** A COPY's source image (its global ID); null (or absent) for every other kind. */
  sourceImageId?: string | null;
}

/** From when on an image is deprecated, and what to use instead (a global ID). */
export interface Deprecation {
  at: Date;
  replacementId: string | null;
}

/** A registered use of an image by a consumer (a server, a cluster...). */
export interface ImageUse {
  kind: string;
  consumerId: string;
  /** The organization holding the use (the owner of an organization's image). */
  organizationId: string;
  createdAt: Date;
}

/** What deleting an image came to; the resolver turns refusals into domain errors. */
export type DeleteOutcome =
  { result: 'deleted' } | { result: 'not-found' } | { result: 'in-use'; usedBy: ImageUse[] } | { result: 'protected' };

/** A provider property with no typed field of its own (Glance hw_*, img_*...). */
export interface ProviderProperty {
  name: string;
  value: string;
}

/**
 * An image as its provider stores it. `id` is the provider's own ID (e.g. the Glance UUID).
 * Ownership: PUBLIC with no organization is the platform's, for everyone; ORGANIZATION with an
 * organization is that organization's; ORGANIZATION with none is an image the provider holds that no
 * organization owns (an operator's private Glance image), for platform admins only.
 */
export interface ImageRecord {
  id: string;
  name: string;
  description: string | null;
  /** Owning organization; null for a PUBLIC (platform) image, or an unassigned one. */
  organizationId: string | null;
  visibility: Visibility;
  status: ImageStatus;
  statusReason: string | null;
  diskFormat: 'RAW';
  sizeBytes: number | null;
  checksum: { algorithm: string; value: string } | null;
  architecture: Architecture;
  virtualization: Virtualization;
  os: OperatingSystem;
  gpu: Gpu | null;
  softwareVersions: SoftwareVersion[];
  /** User tags only; provenance and ownership are typed fields. */
  tags: Tag[];
  source: ImageSource;
  /** Provider properties with no typed field, sorted by name; never imagegraph's reserved ones. */
  properties: ProviderProperty[];
  /** Minimum root disk (GiB) and memory (MiB) the provider asks for; null when unset. */
  minDiskGiB: number | null;
  minRamMiB: number | null;
  /** Organizations the owner shared the image with, sorted. */
  sharedWith: string[];
  /** Null unless the image is (or will be, from `at` on) deprecated. */
  deprecation: Deprecation | null;
  /** The signature attached to the image (base64 ECDSA over SHA-256 of `id`), unverified: the server checks it. */
  signature: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * Which images a query may return, decided by the server from the caller's memberships: PUBLIC images
 * when `includePublic`, plus images owned by `organizationIds` (`'all'`: by any organization, which only
 * a platform admin is given).
 */
export interface ImageScope {
  includePublic: boolean;
  organizationIds: readonly string[] | 'all';
  /** Images no organization owns (platform admins only); a provider that has none ignores this. */
  includeUnassigned?: boolean;
  /** Also images shared with any of these organizations (by whoever owns them). */
  sharedWith?: readonly string[];
}

export interface ImageFilter {
  statuses?: ImageStatus[];
  names?: string[];
  architecture?: Architecture;
  virtualization?: Virtualization;
  osFamily?: OsFamily;
  osDistro?: OsDistro;
  osVersion?: string;
  gpuVendor?: GpuVendor;
  /** Every tag must match. */
  tags?: Tag[];
  createdAfter?: Date;
  createdBefore?: Date;
  /** Leaves out images deprecated at or before this time (the query's "now"). */
  deprecatedBy?: Date;
}

export type ImageOrderField = 'NAME' | 'CREATED_AT';
export type OrderDirection = 'ASC' | 'DESC';

export interface ImageOrder {
  field: ImageOrderField;
  direction: OrderDirection;
}

/**
 * The position after which a page starts: the sort key of the last image seen plus its id as the
 * tie-breaker. Providers may carry their own opaque state in `marker` (e.g. a Glance marker).
 */
export interface PageKey {
  value: string;
  id: string;
}

export interface ImageQuery {
  scope: ImageScope;
  filter: ImageFilter;
  order: ImageOrder;
  first: number;
  after?: PageKey;
  /**
   * The record fields the caller will read (an `images` selection), sorted, when it knows them: a
   * provider may leave the others empty (null, [] or a placeholder) to read less. Absent: all of them.
   * Records read with `fields` are for that caller only (never cached or handed on).
   */
  fields?: readonly ImageField[];
}

/** A field of an image record. */
export type ImageField = keyof ImageRecord;

export interface ImagePage {
  images: ImageRecord[];
  hasNextPage: boolean;
  /**
   * Where the next page starts when the provider stopped early, after rows it scanned but did not
   * return (Glance: a long run of images its filter leaves out): later than the last image returned.
   */
  resumeAfter?: PageKey;
}

/**
 * An idempotency key with a fingerprint of the request it came with: a retry with the same key and
 * fingerprint gets the first image; the same key with another fingerprint is a conflict.
 */
export interface Idempotency {
  key: string;
  fingerprint: string;
}

/** Input for creating an image record; the provider assigns id, timestamps and (by default) PENDING. */
export type NewImage = Omit<
  ImageRecord,
  | 'id'
  | 'createdAt'
  | 'updatedAt'
  | 'status'
  | 'statusReason'
  | 'properties'
  | 'minDiskGiB'
  | 'minRamMiB'
  | 'sharedWith'
  | 'deprecation'
  | 'signature'
> &
  Partial<Pick<ImageRecord, 'status' | 'statusReason' | 'createdAt'>> & {
    /** Scoped to the owning organization (or the platform for PUBLIC images). */
    idempotency?: Idempotency;
  };

/**
 * What an import changes on an image as it goes, and what the lifecycle mutations change: one
 * organization shared with or unshared (each atomic at the provider, so concurrent shares do not
 * overwrite each other), the deprecation (null: none) and the signature (null: removed).
 */
export type ImagePatch = Partial<
  Pick<ImageRecord, 'status' | 'statusReason' | 'sizeBytes' | 'checksum' | 'deprecation' | 'signature'>
> & {
  shareWith?: string;
  unshareWith?: string;
};

/**
 * What creating an image came to: a new image; the image an earlier call with the same idempotency key
 * created, with the fingerprint it was created with (whether that makes this call a retry is the
 * caller's decision); or a key that can no longer be used (Glance: every id it may take is gone).
 */
export type CreateOutcome =
  | { result: 'created'; image: ImageRecord }
  | { result: 'existing'; image: ImageRecord; fingerprint: string }
  | { result: 'key-unusable' };

export interface ImageProvider {
  readonly kind: 'LOCAL' | 'OPENSTACK';
  /**
   * Whether metadata calls (queries, look-ups, writes of records) are answered in this process without
   * waiting on I/O (the local provider's SQLite): they return before any deadline could pass.
   */
  readonly answersInProcess?: boolean;
  /** One page of images matching scope and filter, in the given order, after `after` (PageKeyNotFound when it is gone). */
  queryImages(query: ImageQuery): Promise<ImagePage>;
  /** How many images match scope and filter; null where the provider cannot count cheaply. */
  countImages(scope: ImageScope, filter: ImageFilter): Promise<number | null>;
  /** The images with these ids, in the same order; null for an id that does not exist. */
  getImages(ids: readonly string[]): Promise<(ImageRecord | null)[]>;
  /**
   * Creates an image record. With `idempotency`, atomically answers the image created earlier with the
   * same key instead (two concurrent calls create one image).
   */
  createImage(image: NewImage): Promise<CreateOutcome>;
  /** The image created with this idempotency key by this owner (null: the platform), if any. */
  findByIdempotencyKey(organizationId: string | null, key: string): Promise<{ image: ImageRecord; fingerprint: string } | null>;
  /** Changes status, size or checksum; null when the image no longer exists. */
  updateImage(id: string, patch: ImagePatch): Promise<ImageRecord | null>;
  /**
   * Stores the image's bytes from `data`, all or nothing: on any error (or abort) nothing partial
   * remains. The caller verifies the bytes on the way and sets the status.
   */
  writeImageData(id: string, data: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void>;
  /** Bytes `start` to `end` (inclusive) of the image's stored data, fewer at its end. */
  readImageData(id: string, start: number, end: number): Promise<Uint8Array>;
  /**
   * Present when the provider fetches remote images itself (Glance web-download): it imports `uri`
   * into the image and resolves once the bytes are stored, with their size and checksum, or throws.
   * The caller checks what was stored (readImageData) before marking it READY.
   * Absent: imagegraph downloads through its guarded client and calls writeImageData.
   */
  importFromUri?(id: string, uri: string, signal: AbortSignal): Promise<Pick<ImageRecord, 'sizeBytes' | 'checksum'>>;
  /** Imports that had not finished when the provider last stopped (PENDING or CREATING). */
  listUnfinishedImports(): Promise<ImageRecord[]>;
  /**
   * Deletes metadata and bytes, refusing while uses are registered. Atomic with registerImageUse: of a
   * delete and a registration racing, exactly one succeeds.
   */
  deleteImage(id: string): Promise<DeleteOutcome>;
  /** Registers a use (idempotent per image + organization + kind + consumerId); false when the image does not exist. */
  registerImageUse(id: string, use: Omit<ImageUse, 'createdAt'>): Promise<boolean>;
  /** Releases the use of these organizations (idempotent); false when the image does not exist. */
  releaseImageUse(
    id: string,
    release: { kind: string; consumerId: string; organizationIds: readonly string[] | 'all' },
  ): Promise<boolean>;
  /** The uses of each image, in the order of `ids`. */
  listImageUses(ids: readonly string[]): Promise<ImageUse[][]>;
  /**
   * Brings what the provider holds up to what this version reads (Glance: standard properties on
   * images written before them); run once at start-up, idempotent. Absent: nothing to do.
   */
  prepare?(): Promise<void>;
  /** Throws when the provider cannot serve requests; used by `/ready`. */
  checkHealth(): Promise<void>;
  close(): Promise<void>;
}

/** The sort key of an image for an order, as stored in a PageKey. */
export function sortValue(image: ImageRecord, field: ImageOrderField): string {
  return field === 'NAME' ? image.name : image.createdAt.toISOString();
}
