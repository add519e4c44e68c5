import { request } from 'undici';
import { ProviderUnavailable } from '../errors.js';
import type { Logger } from '../../logger.js';
import type { GlanceAuth } from './glance-auth.js';

export interface KeystoneAuthOptions {
  /** The imagegraph region, for errors and logs. */
  region: string;
  /** Keystone's v3 endpoint, e.g. https://keystone.example.com:5000/v3. */
  authUrl: string;
  applicationCredential: { id: string; secret: string };
  /** Which catalog endpoint of the image service to use. @default 'public' */
  interface?: 'public' | 'internal' | 'admin';
  /** The catalog region of the image endpoint; any when unset. */
  regionName?: string;
  /** Glance's URL, instead of the catalog's. */
  imageUrl?: string;
  logger: Logger;
  /** Renew this long before expires_at (keystoneauth's margin). @default 120000 */
  renewBeforeMs?: number;
  /** @default 10000 */
  timeoutMs?: number;
}

interface Token {
  value: string;
  /** When to get a new one: shortly before expires_at, and at most half way for short-lived tokens. */
  renewAt: number;
  projectId: string;
  imageUrl: string;
}

interface TokenBody {
  token: {
    expires_at: string;
    project?: { id: string };
    catalog?: { type: string; endpoints: { interface: string; region_id?: string; region?: string; url: string }[] }[];
  };
}

/**
 * Keystone application-credential auth: one token per region, reused until shortly before it
 * expires, renewed by one request however many wait for it, and dropped after a 401 from Glance.
 * Tokens and secrets never reach a log line or an error message.
 */
export class KeystoneAuth implements GlanceAuth {
  private token: Promise<Token> | null = null;
  /** The current token's value, once issued: null while a renewal is under way. */
  private issuedValue: string | null = null;
  private readonly renewBeforeMs: number;

  constructor(private readonly options: KeystoneAuthOptions) {
    this.renewBeforeMs = options.renewBeforeMs ?? 120_000;
  }

  async headers(): Promise<Record<string, string>> {
    return { 'x-auth-token': (await this.current()).value };
  }

  async projectId(): Promise<string> {
    return (await this.current()).projectId;
  }

  async endpoint(): Promise<string> {
    return (await this.current()).imageUrl;
  }

  invalidate(refused: Record<string, string>): void {
    // Many requests refused with one revoked token: only the first drops it, the rest use its successor.
    if (refused['x-auth-token'] === this.issuedValue) this.token = null;
  }

  private current(): Promise<Token> {
    const token = this.token;
    if (token) {
      // A settled token near its end is replaced; a pending one is shared (single flight).
      return token.then((t) => (Date.now() < t.renewAt ? t : this.renew(token)));
    }
    return this.renew(null);
  }

  private renew(stale: Promise<Token> | null): Promise<Token> {
    if (this.token !== stale) return this.token!;
    // A renewal is under way: a refusal of the old token must not cancel it (see invalidate).
    this.issuedValue = null;
    const issued = this.issue();
    this.token = issued;
    // A failed attempt is not cached: the next request tries again.
    issued.catch(() => {
      if (this.token === issued) this.token = null;
    });
    return issued;
  }

  private async issue(): Promise<Token> {
    const { region, authUrl, applicationCredential, logger } = this.options;
    const url = `${authUrl.replace(/\/$/, '')}/auth/tokens`;
    let response;
    try {
      response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          auth: { identity: { methods: ['application_credential'], application_credential: applicationCredential } },
        }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
    } catch (error) {
      logger.error({ region, authUrl, err: { message: (error as Error).message } }, 'Keystone is unreachable');
      throw new ProviderUnavailable('Keystone is unreachable');
    }
    const text = await response.body.text();
    const subject = response.headers['x-subject-token'];
    if (response.statusCode !== 201 || typeof subject !== 'string') {
      logger.error(
        { region, authUrl, status: response.statusCode, credentialId: applicationCredential.id },
        response.statusCode === 401 || response.statusCode === 404
          ? 'Keystone refused the application credential (wrong secret, or unknown/expired credential)'
          : 'Keystone did not issue a token',
      );
      throw new ProviderUnavailable('Keystone did not issue a token');
    }
    const body = JSON.parse(text) as TokenBody;
    const imageUrl = this.options.imageUrl ?? this.imageEndpoint(body);
    logger.info({ region, expiresAt: body.token.expires_at }, 'Keystone token issued');
    const expiresAt = Date.parse(body.token.expires_at);
    const now = Date.now();
    this.issuedValue = subject;
    return {
      value: subject,
      renewAt: expiresAt - Math.min(this.renewBeforeMs, (expiresAt - now) / 2),
      projectId: body.token.project?.id ?? '',
      imageUrl,
    };
  }

  private imageEndpoint(body: TokenBody): string {
    const wanted = this.options.interface ?? 'public';
    const endpoint = (body.token.catalog ?? [])
      .filter((service) => service.type === 'image')
      .flatMap((service) => service.endpoints)
      .find((e) => e.interface === wanted && (!this.options.regionName || (e.region_id ?? e.region) === this.options.regionName));
    if (!endpoint) {
      this.options.logger.error(
        { region: this.options.region, interface: wanted, regionName: this.options.regionName },
        'the Keystone catalog has no image endpoint for this interface and region; set imageUrl or fix the catalog',
      );
      throw new ProviderUnavailable('the Keystone catalog has no image endpoint');
    }
    return endpoint.url;
  }
}
