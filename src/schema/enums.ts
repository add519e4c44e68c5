import { GraphQLScalarType } from 'graphql';
import { DateTimeResolver, SafeIntResolver } from 'graphql-scalars';
import type { DetectedFormat } from '../imports/formats/types.js';
import { builder } from './builder.js';

/**
 * graphql-scalars' DateTime (same input rules, same output text), answering the string itself: its
 * serialize hands back the Date, and a Date in an answer takes JSON.stringify off its fast path
 * (toJSON per value): a page of 20 images took twice as long to write.
 */
const DateTime = new GraphQLScalarType({
  ...DateTimeResolver.toConfig(),
  serialize: (value) => (DateTimeResolver.serialize(value) as Date).toISOString(),
});

builder.addScalarType('DateTime', DateTime, {
  description: 'A date and time in RFC 3339 form, e.g. 2026-11-26T15:00:00.000Z.',
});
builder.addScalarType('SafeInt', SafeIntResolver, {
  description: 'An integer up to 2^53-1, for byte sizes beyond the 32-bit Int.',
});

/** Declares an enum whose values each carry a description. */
function describedEnum<const V extends string>(name: string, description: string, values: Record<V, string>) {
  return builder.enumType(name, {
    description,
    values: Object.fromEntries(Object.entries(values).map(([value, text]) => [value, { description: text }])) as {
      [K in V]: { description: string };
    },
  });
}

export const OrganizationRoleEnum = describedEnum('OrganizationRole', "A caller's role in an organization.", {
  READER: "May list the organization's images.",
  MEMBER: 'May also import and delete images and register or release their uses.',
  ADMIN: 'Same rights as MEMBER today.',
});

export const ProviderKindEnum = describedEnum('ProviderKind', 'The kind of image provider behind a region.', {
  LOCAL: 'The embedded provider: SQLite metadata and files on disk.',
  OPENSTACK: 'An OpenStack Glance image service (v2 API).',
});

export const ImageVisibilityEnum = describedEnum('ImageVisibility', 'Who can see an image.', {
  PUBLIC: 'Every caller: a platform image with no owning organization.',
  ORGANIZATION: 'Members of the owning organization (and platform admins).',
});

export const ImageStatusEnum = describedEnum('ImageStatus', 'Where an image is in its lifecycle.', {
  PENDING: 'Accepted; no bytes fetched yet.',
  CREATING: 'Bytes are moving into the provider.',
  READY: 'Stored and usable.',
  FAILED: 'The import failed; see statusReason.',
});

export const DiskFormatEnum = describedEnum('DiskFormat', 'The format of the stored disk.', {
  RAW: 'A raw bootable disk (MBR or GPT partition table).',
});

export const ArchitectureEnum = describedEnum('Architecture', 'The CPU architecture an image boots on.', {
  X86_64: '64-bit x86 (amd64).',
  AARCH64: '64-bit ARM (arm64).',
  OTHER:
    'Another architecture, or a value the provider holds that names none of the above (its raw value is in Image.properties).',
});

export const VirtualizationEnum = describedEnum('Virtualization', 'Where an image may run.', {
  VIRTUALIZED: 'On virtual machines.',
  BAREMETAL: 'On bare-metal servers.',
  ANY: 'On both.',
});

export const OsKernelEnum = describedEnum('OsKernel', 'Operating system kernel.', { LINUX: 'Linux.' });

export const OsFamilyEnum = describedEnum('OsFamily', 'Operating system family.', {
  DEBIAN: 'Debian and derivatives (apt, dpkg).',
  REDHAT: 'Red Hat and derivatives (dnf, rpm).',
  OTHER: 'Another family, or not known (the distribution is OTHER).',
});

export const OsDistroEnum = describedEnum('OsDistro', 'Operating system distribution.', {
  UBUNTU: 'Ubuntu.',
  DEBIAN: 'Debian.',
  ROCKY: 'Rocky Linux.',
  ALMALINUX: 'AlmaLinux.',
  RHEL: 'Red Hat Enterprise Linux.',
  OTHER: 'Another distribution, or none recorded (a raw value is in Image.properties).',
});

export const GpuVendorEnum = describedEnum('GpuVendor', 'GPU vendor.', { NVIDIA: 'NVIDIA.', AMD: 'AMD.' });

export const ImageSourceKindEnum = describedEnum('ImageSourceKind', 'How an image came to exist.', {
  IMPORT: 'Imported from a remote URL with importImage.',
  SNAPSHOT: "A snapshot of a server's disk.",
  PLATFORM: 'Provided by the platform operator.',
  COPY: 'Copied from another image with copyImage (source.sourceImageId names it).',
});

export const ImageScopeEnum = describedEnum('ImageScope', 'Which images a listing covers.', {
  AVAILABLE: "Public images plus the caller's organizations' images.",
  OWNED: "Only images owned by the caller's (or the named) organizations.",
  SHARED: "Only images other organizations shared with the caller's (or the named) organizations.",
});

export const SignatureStatusEnum = describedEnum(
  'SignatureStatus',
  "A platform image's signature, checked against the region's key.",
  {
    VERIFIED: 'The signature verifies: the image is shown to everyone.',
    INVALID: 'A signature is attached but does not verify: the image is shown to platform admins only.',
    UNSIGNED: 'No signature is attached: the image is shown to platform admins only.',
  },
);

export const ImageOrderFieldEnum = describedEnum('ImageOrderField', 'What images are sorted by.', {
  NAME: 'Image name (byte order), ties broken by ID.',
  CREATED_AT: 'Creation time, ties broken by ID.',
});

export const OrderDirectionEnum = describedEnum('OrderDirection', 'Sort direction.', {
  ASC: 'Smallest first.',
  DESC: 'Largest first.',
});

export const DetectedFormatEnum = builder.enumType('DetectedFormat', {
  description: "What the format detector found in an image's first bytes.",
  values: {
    QCOW2: { description: 'QEMU copy-on-write v2/v3.' },
    QED: { description: 'QEMU enhanced disk.' },
    VMDK: { description: 'VMware disk (sparse extent or descriptor).' },
    VHD: { description: 'Microsoft Virtual Hard Disk (dynamic, or fixed seen by its footer).' },
    VHDX: { description: 'Microsoft Hyper-V VHDX.' },
    VDI: { description: 'VirtualBox disk image.' },
    ISO: { description: 'ISO 9660 installer media, hybrid ISOs with an MBR included.' },
    LUKS: { description: 'A LUKS-encrypted volume.' },
    GZIP: { description: 'A gzip-compressed file.' },
    XZ: { description: 'An xz-compressed file.' },
    ZSTD: { description: 'A zstd-compressed file.' },
    BZIP2: { description: 'A bzip2-compressed file.' },
    ZIP: { description: 'A zip archive.' },
    TAR: { description: 'A tar archive.' },
    RAW_WITHOUT_BOOT_RECORD: { description: 'Raw bytes with no MBR/GPT boot record (e.g. a bare filesystem).' },
    UNKNOWN: { description: 'Nothing recognisable.' },
  } satisfies Record<DetectedFormat, { description: string }>,
});

export const ImportPhaseEnum = describedEnum('ImportPhase', 'The step a running import is at.', {
  QUEUED: 'Accepted, waiting for a free import slot.',
  DOWNLOADING: 'Fetching the file (and, for a raw or compressed disk, storing it as it arrives).',
  CONVERTING: 'qemu-img is converting the downloaded file to a raw disk.',
  STORING: 'The converted raw disk is moving into the provider.',
});
