import { z } from 'zod';
import type { Architecture, GpuVendor, OsDistro, OsFamily, OsKernel, Virtualization, Visibility } from '../providers/types.js';
import { DISTRO_FAMILY } from '../providers/os-distros.js';
import { OrganizationIdSchema, RegionIdArgSchema } from './ids.js';
import { ImageTagsSchema, type TagInput } from './tags.js';

type Maybe<T> = T | null | undefined;

/**
 * `ImportImageInput` as GraphQL hands it over: fields with a default (visibility, architecture,
 * virtualization, os.kernel) arrive filled in unless the client sends an explicit null.
 */
export interface ImportImageInput {
  region: string;
  organization?: Maybe<string>;
  visibility?: Maybe<Visibility>;
  name: string;
  description?: Maybe<string>;
  uri: string;
  architecture?: Maybe<Architecture>;
  virtualization?: Maybe<Virtualization>;
  os: {
    kernel?: Maybe<OsKernel>;
    family: OsFamily;
    distro: OsDistro;
    version: string;
    variant?: Maybe<string>;
    codename?: Maybe<string>;
  };
  gpu?: Maybe<{ vendor: GpuVendor; driver: string; models: string[] }>;
  softwareVersions?: Maybe<{ name: string; version: string }[]>;
  tags?: Maybe<TagInput[]>;
  idempotencyKey?: Maybe<string>;
  /** Convert a disk format or compressed raw disk to raw while importing (default true). */
  convert?: Maybe<boolean>;
}

const Text = (max: number) => z.string().min(1).max(max);

/** Behaviour spec section 5.2: every rule, reported together with its path. */
export const ImportImageInputSchema = z
  .looseObject({
    region: RegionIdArgSchema,
    visibility: z.enum(['PUBLIC', 'ORGANIZATION']),
    organization: OrganizationIdSchema.nullish(),
    name: z.string().regex(/^[A-Za-z0-9._-]{1,63}$/, 'must be 1-63 letters, digits, ".", "-" or "_"'),
    description: z.string().max(255).nullish(),
    uri: z.string().max(2048).refine(isImportableUrl, 'must be an absolute http(s) URL without user info'),
    architecture: z.enum(['X86_64', 'AARCH64', 'OTHER']).nullish(),
    os: z.looseObject({
      family: z.enum(['DEBIAN', 'REDHAT', 'OTHER']),
      distro: z.enum(['UBUNTU', 'DEBIAN', 'ROCKY', 'ALMALINUX', 'RHEL', 'OTHER']),
      version: Text(64),
      variant: Text(64).nullish(),
      codename: Text(64).nullish(),
    }),
    gpu: z.looseObject({ driver: Text(64), models: z.array(Text(64)).max(16) }).nullish(),
    softwareVersions: z
      .array(z.object({ name: Text(63), version: Text(255) }))
      .max(32)
      .nullish(),
    tags: ImageTagsSchema.nullish(),
    idempotencyKey: Text(255).nullish(),
  })
  // OTHER is what imagegraph reads when a provider names something else: an import says what it is.
  .refine((input) => input.architecture !== 'OTHER', {
    path: ['architecture'],
    message: 'OTHER cannot be imported: name the architecture',
  })
  .refine((input) => input.os.distro !== 'OTHER', {
    path: ['os', 'distro'],
    message: 'OTHER cannot be imported: name the distribution',
  })
  .refine((input) => input.os.distro === 'OTHER' || DISTRO_FAMILY[input.os.distro] === input.os.family, {
    path: ['os', 'family'],
    message: 'does not match the distribution (UBUNTU and DEBIAN are DEBIAN; ROCKY, ALMALINUX and RHEL are REDHAT)',
  })
  .refine((input) => input.visibility === 'PUBLIC' || Boolean(input.organization), {
    path: ['organization'],
    message: 'is required unless visibility is PUBLIC',
  })
  .refine((input) => input.visibility !== 'PUBLIC' || !input.organization, {
    path: ['organization'],
    message: 'must be empty for a PUBLIC image, which the platform owns',
  });

function isImportableUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password;
  } catch {
    return false;
  }
}
