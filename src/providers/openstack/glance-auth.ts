/**
 * How the provider authenticates to Glance: a small strategy, so that Keystone tokens can slot in
 * beside trusted headers. `headers()` is asked before every request; `invalidate()` after a 401, so a
 * token strategy can renew once and the request be retried once.
 */
export interface GlanceAuth {
  headers(): Promise<Record<string, string>>;
  /** Glance refused these credentials (401): forget them if they are still the current ones. */
  invalidate(refused: Record<string, string>): void;
  /** The Glance project imagegraph's images belong to (the token's project, with Keystone). */
  projectId(): Promise<string>;
  /** Glance's URL when the strategy finds it (Keystone's catalog); otherwise the config's imageUrl. */
  endpoint?(): Promise<string>;
}

export interface TrustedHeadersOptions {
  projectId: string;
  userId: string;
  roles: readonly string[];
}

/**
 * For a Glance whose pipeline trusts identity headers (labs, tests, or behind an authenticating
 * proxy): sends what keystonemiddleware would have set after validating a token.
 */
export class TrustedHeadersAuth implements GlanceAuth {
  private readonly fixed: Record<string, string>;

  constructor(private readonly options: TrustedHeadersOptions) {
    this.fixed = {
      'x-identity-status': 'Confirmed',
      'x-project-id': options.projectId,
      'x-user-id': options.userId,
      'x-roles': options.roles.join(','),
    };
  }

  async headers(): Promise<Record<string, string>> {
    return this.fixed;
  }

  invalidate(): void {}

  async projectId(): Promise<string> {
    return this.options.projectId;
  }
}
