import type { OsDistro, OsFamily } from './types.js';

/**
 * The family each distribution belongs to. Imports must name a family that agrees with their
 * distribution, and the Glance provider derives the family from the distribution it reads, so the
 * two can never disagree whatever provider holds an image.
 */
export const DISTRO_FAMILY = {
  UBUNTU: 'DEBIAN',
  DEBIAN: 'DEBIAN',
  ROCKY: 'REDHAT',
  ALMALINUX: 'REDHAT',
  RHEL: 'REDHAT',
  OTHER: 'OTHER',
} as const satisfies Record<OsDistro, OsFamily>;
