import { PermissionDeniedError } from '../errors.js';
import { type Principal, roleIn } from './principal.js';

/** MEMBER or ADMIN of the organization (or a platform admin): what changing its images takes. */
export function requireMember(principal: Principal, organizationId: string, action: string): void {
  if (principal.platformAdmin) return;
  const role = roleIn(principal, organizationId);
  if (role !== 'MEMBER' && role !== 'ADMIN') {
    throw new PermissionDeniedError(`${action} in organization "${organizationId}" needs the MEMBER or ADMIN role`);
  }
}
