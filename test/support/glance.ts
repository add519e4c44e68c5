import { inject } from 'vitest';

export type ProviderKind = 'local' | 'openstack';

declare module 'vitest' {
  export interface ProvidedContext {
    glanceUrl: string | null;
  }
}

/** The Glance the openstack half of the suite runs against (started by test/global-setup.ts), if any. */
export function glanceUrl(): string | null {
  return process.env.GLANCE_URL ?? inject('glanceUrl') ?? null;
}

/** The providers the both-provider acceptance tests run on: local always, openstack when there is a Glance. */
export function providerKinds(): ProviderKind[] {
  return glanceUrl() ? ['local', 'openstack'] : ['local'];
}

/**
 * An image as Glance's own REST API shows it to `projectId` (an admin of it), bypassing imagegraph;
 * null when Glance answers 404.
 */
export async function glanceImage(projectId: string, providerId: string): Promise<Record<string, unknown> | null> {
  const url = glanceUrl();
  if (!url) throw new Error('no Glance to ask');
  const response = await fetch(`${url}/v2/images/${providerId}`, {
    headers: { 'x-identity-status': 'Confirmed', 'x-project-id': projectId, 'x-roles': 'admin', accept: 'application/json' },
  });
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`Glance answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}
