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
