import type { Architecture, ImageFilter, ImageRecord, NewImage, OsDistro } from '../types.js';

/**
 * Glance's standard image properties (the ones Nova, Horizon and the OpenStack CLI use) and the typed
 * fields they stand for: the one table that reading, writing on import and filtering all use, so that
 * a field and its filter cannot disagree.
 *
 * | Glance property          | typed field        | values                                                         |
 * |--------------------------|--------------------|----------------------------------------------------------------|
 * | architecture             | architecture       | x86_64 <-> X86_64, aarch64 <-> AARCH64; missing: X86_64 (the seed's rule); anything else: OTHER |
 * | os_distro                | os.distro          | libosinfo short ids ubuntu, debian, rocky, almalinux, rhel; missing or anything else: OTHER |
 * | (derived from os_distro) | os.family          | ubuntu, debian: DEBIAN; rocky, almalinux, rhel: REDHAT; else OTHER |
 * | os_version               | os.version         | as is; missing: ""                                              |
 * | os_type                  | os.kernel          | linux (the only kernel the contract names)                     |
 * | min_disk, min_ram (core) | minDiskGiB, minRamMiB | 0 (Glance's "unset"): null                                  |
 *
 * A value that maps to OTHER (or that no typed field takes, as hw_firmware_type) stays readable in
 * Image.properties under its own name. Nothing is guessed.
 */
export const STANDARD = {
  architecture: 'architecture',
  osDistro: 'os_distro',
  osVersion: 'os_version',
  osType: 'os_type',
} as const;

export const ARCHITECTURE_VALUES = { X86_64: 'x86_64', AARCH64: 'aarch64' } as const satisfies Record<
  Exclude<Architecture, 'OTHER'>,
  string
>;

export const DISTRO_VALUES = {
  UBUNTU: 'ubuntu',
  DEBIAN: 'debian',
  ROCKY: 'rocky',
  ALMALINUX: 'almalinux',
  RHEL: 'rhel',
} as const satisfies Record<Exclude<OsDistro, 'OTHER'>, string>;

const ARCHITECTURES = new Map<string, Architecture>(
  Object.entries(ARCHITECTURE_VALUES).map(([field, value]) => [value, field as Architecture]),
);
const DISTROS = new Map<string, OsDistro>(Object.entries(DISTRO_VALUES).map(([field, value]) => [value, field as OsDistro]));

/** The typed architecture of a Glance `architecture` value (null: the property is missing). */
export function readArchitecture(value: string | null): Architecture {
  if (value === null) return 'X86_64';
  return ARCHITECTURES.get(value) ?? 'OTHER';
}

/** The typed distribution of a Glance `os_distro` value (null: the property is missing). */
export function readDistro(value: string | null): OsDistro {
  return (value !== null && DISTROS.get(value)) || 'OTHER';
}

/** Whether a standard property's value is fully said by its typed field (else it stays in Image.properties too). */
export function isTyped(name: string, value: string): boolean {
  if (name === STANDARD.architecture) return ARCHITECTURES.has(value);
  if (name === STANDARD.osDistro) return DISTROS.has(value);
  if (name === STANDARD.osType) return value === 'linux';
  return name === STANDARD.osVersion;
}

/** The standard properties an import writes, so Nova schedules it right (an AARCH64 image on arm hosts). */
export function standardProperties(image: Pick<NewImage, 'architecture' | 'os'>): Record<string, string> {
  const properties: Record<string, string> = { [STANDARD.osType]: 'linux' };
  if (image.architecture !== 'OTHER') properties[STANDARD.architecture] = ARCHITECTURE_VALUES[image.architecture];
  if (image.os.distro !== 'OTHER') properties[STANDARD.osDistro] = DISTRO_VALUES[image.os.distro];
  if (image.os.version) properties[STANDARD.osVersion] = image.os.version;
  return properties;
}

/**
 * The Glance query parameters for what can be asked exactly. What cannot (X86_64, which a missing
 * property also means; OTHER; a family; an empty version) is left to the residual check on each page,
 * which checks every field of the filter anyway.
 */
export function standardFilterParams(filter: ImageFilter): [string, string][] {
  const params: [string, string][] = [];
  if (filter.architecture === 'AARCH64') params.push([STANDARD.architecture, ARCHITECTURE_VALUES.AARCH64]);
  if (filter.osDistro && filter.osDistro !== 'OTHER') params.push([STANDARD.osDistro, DISTRO_VALUES[filter.osDistro]]);
  if (filter.osVersion) params.push([STANDARD.osVersion, filter.osVersion]);
  return params;
}

/** Whether a record's typed fields meet the filter's conditions on them (the residual of the push-down). */
export function matchesStandard(filter: ImageFilter, image: ImageRecord): boolean {
  return (
    (!filter.architecture || image.architecture === filter.architecture) &&
    (!filter.osDistro || image.os.distro === filter.osDistro) &&
    (!filter.osFamily || image.os.family === filter.osFamily) &&
    (filter.osVersion === undefined || image.os.version === filter.osVersion)
  );
}
