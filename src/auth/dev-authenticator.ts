import type { Authenticator } from './authenticator.js';
import type { Principal } from './principal.js';

export const DEV_PRINCIPAL: Readonly<Principal> = {
  subject: 'dev',
  platformAdmin: true,
  organizations: [{ id: 'dev', role: 'ADMIN' }],
};

/** Dev mode: every request acts as the platform admin `dev`. Only allowed on a loopback address. */
export class DevAuthenticator implements Authenticator {
  async authenticate(): Promise<Principal> {
    return DEV_PRINCIPAL;
  }
}
