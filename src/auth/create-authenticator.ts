import type { AuthConfig } from '../config.js';
import type { Authenticator } from './authenticator.js';
import { DevAuthenticator } from './dev-authenticator.js';
import { JwtAuthenticator } from './jwt-authenticator.js';
import { TokensAuthenticator } from './tokens-authenticator.js';

export async function createAuthenticator(config: AuthConfig): Promise<Authenticator> {
  switch (config.mode) {
    case 'dev':
      return new DevAuthenticator();
    case 'tokens':
      return new TokensAuthenticator(config.tokensFile);
    case 'jwt':
      return JwtAuthenticator.create(config.jwt);
  }
}
