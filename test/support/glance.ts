import { inject, it } from 'vitest';
import { openstack, projectById, projectToken } from './keystone.js';

/**
 * Which provider backs a test region: the local one; `openstack`, a Glance that trusts identity
 * headers; `openstack-keystone`, a Glance in its keystone pipeline, reached with a token from a real
 * Keystone (an application credential per region, Glance's URL from the catalog).
 */
export type ProviderKind = 'local' | 'openstack' | 'openstack-keystone';

declare module 'vitest' {
  export interface ProvidedContext {
    glanceUrl: string | null;
  }
}

/** The trusted-headers Glance the openstack half of the suite runs against (started by test/global-setup.ts), if any. */
export function glanceUrl(): string | null {
  return process.env.GLANCE_URL ?? inject('glanceUrl') ?? null;
}

/** Whether a kind is backed by Glance (whatever its auth): Glance-specific expectations apply. */
export function isOpenStack(kind: ProviderKind): kind is 'openstack' | 'openstack-keystone' {
  return kind === 'openstack' || kind === 'openstack-keystone';
}

/**
 * The providers the both-provider acceptance tests run on: local always, openstack when there is a
 * Glance, openstack-keystone when there is a Keystone (see test/global-setup.ts).
 */
export function providerKinds(): ProviderKind[] {
  return [
    'local' as const,
    ...(glanceUrl() ? (['openstack'] as const) : []),
    ...(openstack() ? (['openstack-keystone'] as const) : []),
  ];
}

/**
 * On openstack-keystone Glance validates the token of every call at Keystone (token_cache_time -1,
 * and Keystone's one worker answers one at a time), so each call costs 100-400 ms: the keystone half
 * of a both-provider file runs a sample of its tests. This marks the tests it leaves to the other
 * halves (the same provider code against the same Glance release): `allButKeystone(kind)('...', fn)`,
 * also `.each` and `.for`; they show as skipped in the keystone half.
 */
export function allButKeystone(kind: ProviderKind) {
  return it.skipIf(kind === 'openstack-keystone');
}

/**
 * An image as Glance's own REST API shows it to `projectId` (an admin of it), bypassing imagegraph;
 * null when Glance answers 404. A project of an openstack-keystone region (see keystone.ts) is asked
 * with a token of its user; any other with trusted headers.
 */
export async function glanceImage(projectId: string, providerId: string): Promise<Record<string, unknown> | null> {
  const project = projectById(projectId);
  const url = project ? openstack()?.glanceUrl : glanceUrl();
  if (!url) throw new Error('no Glance to ask');
  const ask = async (headers: Record<string, string>) =>
    fetch(`${url}/v2/images/${providerId}`, { headers: { ...headers, accept: 'application/json' } });
  let response: Response;
  if (project) {
    response = await ask({ 'x-auth-token': await projectToken(project) });
    if (response.status === 401) response = await ask({ 'x-auth-token': await projectToken(project, true) });
  } else {
    response = await ask({ 'x-identity-status': 'Confirmed', 'x-project-id': projectId, 'x-roles': 'admin' });
  }
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`Glance answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}
