import type { NewImage, OsDistro, OsFamily } from '../../src/providers/types.js';

/**
 * The sample catalog `npm run seed` puts in a fresh region: the images a small cloud would offer,
 * PUBLIC platform images and a few of each organization's own, all READY. They have no bytes (nothing
 * was downloaded), so they are for looking at listings, filters and pages, not for booting.
 */
const DISTROS: { distro: OsDistro; family: OsFamily; version: string; codename: string | null; sizeGiB: number }[] = [
  { distro: 'UBUNTU', family: 'DEBIAN', version: '24.04', codename: 'noble', sizeGiB: 3 },
  { distro: 'UBUNTU', family: 'DEBIAN', version: '22.04', codename: 'jammy', sizeGiB: 3 },
  { distro: 'DEBIAN', family: 'DEBIAN', version: '12', codename: 'bookworm', sizeGiB: 2 },
  { distro: 'DEBIAN', family: 'DEBIAN', version: '13', codename: 'trixie', sizeGiB: 2 },
  { distro: 'ROCKY', family: 'REDHAT', version: '9', codename: null, sizeGiB: 10 },
  { distro: 'ALMALINUX', family: 'REDHAT', version: '9', codename: null, sizeGiB: 10 },
  { distro: 'RHEL', family: 'REDHAT', version: '9', codename: null, sizeGiB: 10 },
];

const GIB = 2 ** 30;
const DAY = 86_400_000;

export function sampleCatalog(organizations: readonly string[], now = Date.now()): NewImage[] {
  const images: NewImage[] = [];
  let age = 0;
  const add = (
    image: Omit<NewImage, 'status' | 'description' | 'softwareVersions' | 'diskFormat' | 'virtualization' | 'checksum'>,
  ) =>
    images.push({
      ...image,
      status: 'READY',
      description: null,
      diskFormat: 'RAW',
      virtualization: 'VIRTUALIZED',
      checksum: null,
      softwareVersions: [],
      createdAt: new Date(now - ++age * DAY),
    });
  for (const os of DISTROS) {
    for (const architecture of ['X86_64', 'AARCH64'] as const) {
      const name = `${os.distro.toLowerCase()}-${os.version}-${architecture === 'X86_64' ? 'amd64' : 'arm64'}`;
      add({
        name,
        organizationId: null,
        visibility: 'PUBLIC',
        sizeBytes: os.sizeGiB * GIB,
        architecture,
        os: {
          kernel: 'LINUX',
          family: os.family,
          distro: os.distro,
          version: os.version,
          variant: 'server',
          codename: os.codename,
        },
        gpu: null,
        tags: [{ name: 'channel', value: 'stable' }],
        source: { kind: 'PLATFORM', uri: null, createdBy: 'seed', format: null },
      });
    }
  }
  const gpuBase = DISTROS[0]!;
  add({
    name: 'ubuntu-24.04-amd64-nvidia',
    organizationId: null,
    visibility: 'PUBLIC',
    sizeBytes: 8 * GIB,
    architecture: 'X86_64',
    os: {
      kernel: 'LINUX',
      family: gpuBase.family,
      distro: gpuBase.distro,
      version: gpuBase.version,
      variant: 'server',
      codename: gpuBase.codename,
    },
    gpu: { vendor: 'NVIDIA', driver: '550.127', models: ['H100', 'L40S'] },
    tags: [{ name: 'channel', value: 'stable' }],
    source: { kind: 'PLATFORM', uri: null, createdBy: 'seed', format: null },
  });
  for (const organization of organizations) {
    for (const [index, role] of ['web', 'db', 'ci-runner'].entries()) {
      const os = DISTROS[index % DISTROS.length]!;
      add({
        name: `${organization}-${role}-${os.distro.toLowerCase()}-${os.version}`,
        organizationId: organization,
        visibility: 'ORGANIZATION',
        sizeBytes: (os.sizeGiB + 2) * GIB,
        architecture: 'X86_64',
        os: { kernel: 'LINUX', family: os.family, distro: os.distro, version: os.version, variant: null, codename: os.codename },
        gpu: null,
        tags: [
          { name: 'team', value: role },
          { name: 'env', value: index === 2 ? 'ci' : 'prod' },
        ],
        source: {
          kind: 'IMPORT',
          uri: `https://images.example.com/${organization}/${role}.raw`,
          createdBy: 'seed',
          format: null,
        },
      });
    }
  }
  return images;
}
