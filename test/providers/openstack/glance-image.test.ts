import { describe, expect, it } from 'vitest';
import { type GlanceImage, legacyUpgrade, toGlanceCreate, toRecord } from '../../../src/providers/openstack/glance-image.js';
import { filterParams, residual } from '../../../src/providers/openstack/glance-query.js';
import { newImage } from '../../fixtures/images.js';

const PROJECT = 'p-imagegraph';

/** A Glance image as `GET /v2/images/{id}` shows it, with what an operator or imagegraph set on it. */
function glance(overrides: Record<string, unknown> = {}): GlanceImage {
  return {
    id: '5f3c1c2e-0000-4000-8000-000000000001',
    name: 'image',
    status: 'active',
    visibility: 'public',
    owner: PROJECT,
    size: 3 * 2 ** 30,
    protected: false,
    min_disk: 0,
    min_ram: 0,
    os_hash_algo: 'sha512',
    os_hash_value: 'ab'.repeat(64),
    tags: [],
    created_at: '2026-11-01T10:00:00Z',
    updated_at: '2026-11-01T10:00:00Z',
    disk_format: 'raw',
    container_format: 'bare',
    os_hidden: false,
    ...overrides,
  } as GlanceImage;
}

describe('reading a Glance image', () => {
  it('takes the standard properties an operator sets, and keeps the rest as properties', () => {
    const record = toRecord(
      glance({
        architecture: 'aarch64',
        os_distro: 'ubuntu',
        os_version: '24.04',
        os_type: 'linux',
        hw_firmware_type: 'uefi',
        hw_disk_bus: 'virtio',
        min_disk: 10,
        min_ram: 2048,
        os_glance_importing_to_stores: '',
      }),
      PROJECT,
    )!;
    expect(record).toMatchObject({
      architecture: 'AARCH64',
      os: { kernel: 'LINUX', family: 'DEBIAN', distro: 'UBUNTU', version: '24.04' },
      minDiskGiB: 10,
      minRamMiB: 2048,
      visibility: 'PUBLIC',
      organizationId: null,
    });
    expect(record.properties).toEqual([
      { name: 'hw_disk_bus', value: 'virtio' },
      { name: 'hw_firmware_type', value: 'uefi' },
    ]);
  });

  it.each([
    ['no architecture', {}, 'X86_64'],
    ['x86_64', { architecture: 'x86_64' }, 'X86_64'],
    ['aarch64', { architecture: 'aarch64' }, 'AARCH64'],
    ['ppc64le', { architecture: 'ppc64le' }, 'OTHER'],
    ['a differently spelt arm64', { architecture: 'arm64' }, 'OTHER'],
  ])('reads %s as %s, never a guess', (_name, properties, architecture) => {
    const record = toRecord(glance(properties), PROJECT)!;
    expect(record.architecture).toBe(architecture);
    if (architecture === 'OTHER') {
      expect(record.properties).toContainEqual({
        name: 'architecture',
        value: (properties as { architecture: string }).architecture,
      });
    }
  });

  it.each([
    ['no os_distro', {}, { distro: 'OTHER', family: 'OTHER', version: '' }],
    ['debian 12', { os_distro: 'debian', os_version: '12' }, { distro: 'DEBIAN', family: 'DEBIAN', version: '12' }],
    ['rocky 9', { os_distro: 'rocky', os_version: '9' }, { distro: 'ROCKY', family: 'REDHAT', version: '9' }],
    ['almalinux', { os_distro: 'almalinux' }, { distro: 'ALMALINUX', family: 'REDHAT', version: '' }],
    ['rhel', { os_distro: 'rhel' }, { distro: 'RHEL', family: 'REDHAT', version: '' }],
    ['fedora', { os_distro: 'fedora' }, { distro: 'OTHER', family: 'OTHER', version: '' }],
    ['Ubuntu, capitalised', { os_distro: 'Ubuntu' }, { distro: 'OTHER', family: 'OTHER', version: '' }],
  ])('reads %s', (_name, properties, os) => {
    expect(toRecord(glance(properties), PROJECT)!.os).toMatchObject(os);
  });

  it('reads an image written before the standard properties by its imagegraph.* ones, and knows how to bring it forward', () => {
    const legacy = glance({
      visibility: 'private',
      'imagegraph.organization': 'acme',
      'imagegraph.architecture': 'AARCH64',
      'imagegraph.os_kernel': 'LINUX',
      'imagegraph.os_family': 'REDHAT',
      'imagegraph.os_distro': 'ROCKY',
      'imagegraph.os_version': '9',
    });
    expect(toRecord(legacy, PROJECT)).toMatchObject({
      organizationId: 'acme',
      architecture: 'AARCH64',
      os: { distro: 'ROCKY', family: 'REDHAT', version: '9' },
      properties: [],
    });
    const ops = legacyUpgrade(legacy);
    expect(ops).toEqual(
      expect.arrayContaining([
        { op: 'add', path: '/architecture', value: 'aarch64' },
        { op: 'add', path: '/os_distro', value: 'rocky' },
        { op: 'add', path: '/os_version', value: '9' },
        { op: 'add', path: '/os_type', value: 'linux' },
        { op: 'remove', path: '/imagegraph.architecture' },
        { op: 'remove', path: '/imagegraph.os_distro' },
      ]),
    );
    expect(legacyUpgrade(glance({ architecture: 'aarch64', os_distro: 'rocky' }))).toEqual([]);
  });

  it.each([
    ['public, no organization', { visibility: 'public' }, { visibility: 'PUBLIC', organizationId: null }],
    ['community, no organization', { visibility: 'community' }, { visibility: 'PUBLIC', organizationId: null }],
    ['private, no organization', { visibility: 'private' }, { visibility: 'ORGANIZATION', organizationId: null }],
    ['shared, no organization', { visibility: 'shared' }, { visibility: 'ORGANIZATION', organizationId: null }],
    [
      'private, acme',
      { visibility: 'private', 'imagegraph.organization': 'acme' },
      { visibility: 'ORGANIZATION', organizationId: 'acme' },
    ],
    [
      'public, acme',
      { visibility: 'public', 'imagegraph.organization': 'acme' },
      { visibility: 'ORGANIZATION', organizationId: 'acme' },
    ],
  ])('owns a project image that is %s as %j', (_name, fields, ownership) => {
    expect(toRecord(glance(fields), PROJECT)).toMatchObject(ownership);
  });

  it("does not take another project's image, whatever it claims", () => {
    for (const visibility of ['public', 'community', 'shared', 'private']) {
      expect(toRecord(glance({ owner: 'someone-else', visibility, 'imagegraph.organization': 'acme' }), PROJECT)).toBeNull();
    }
  });
});

describe('writing and filtering', () => {
  it("writes the standard properties on an import, besides imagegraph's own", () => {
    const body = toGlanceCreate(
      newImage({
        organizationId: 'acme',
        architecture: 'AARCH64',
        os: { kernel: 'LINUX', family: 'REDHAT', distro: 'ALMALINUX', version: '9.4', variant: null, codename: null },
      }),
      'id',
    );
    expect(body).toMatchObject({
      architecture: 'aarch64',
      os_distro: 'almalinux',
      os_version: '9.4',
      os_type: 'linux',
      'imagegraph.organization': 'acme',
    });
    expect(body).not.toHaveProperty('imagegraph.architecture');
  });

  it('asks Glance only for what it can answer exactly, and checks every condition on each record', () => {
    expect(filterParams({ architecture: 'AARCH64', osDistro: 'UBUNTU', osVersion: '24.04', osFamily: 'DEBIAN' })).toEqual([
      ['architecture', 'aarch64'],
      ['os_distro', 'ubuntu'],
      ['os_version', '24.04'],
    ]);
    // A missing architecture is X86_64; a missing virtualization VIRTUALIZED: neither can be asked for.
    expect(filterParams({ architecture: 'X86_64', virtualization: 'VIRTUALIZED', osDistro: 'OTHER' })).toEqual([]);
    const bare = toRecord(glance(), PROJECT)!;
    expect(residual({ architecture: 'X86_64', virtualization: 'VIRTUALIZED', osDistro: 'OTHER', osFamily: 'OTHER' })(bare)).toBe(
      true,
    );
    expect(residual({ osVersion: '' })(bare)).toBe(true);
    expect(residual({ architecture: 'AARCH64' })(bare)).toBe(false);
  });
});
