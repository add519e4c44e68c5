import { z } from 'zod';

export const ROLES = ['READER', 'MEMBER', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];

export const MembershipSchema = z.strictObject({ id: z.string().min(1), role: z.enum(ROLES) });
export type Membership = z.infer<typeof MembershipSchema>;

/** The authenticated caller, whatever the auth mode. */
export interface Principal {
  subject: string;
  platformAdmin: boolean;
  organizations: Membership[];
}

/** The caller's role in an organization, or null when it is not a member. */
export function roleIn(principal: Principal, organizationId: string): Role | null {
  return principal.organizations.find((m) => m.id === organizationId)?.role ?? null;
}

/** Whether the caller may list an organization's images: any member, or a platform admin. */
export function canRead(principal: Principal, organizationId: string): boolean {
  return principal.platformAdmin || roleIn(principal, organizationId) !== null;
}
