import type { IncomingHttpHeaders } from 'node:http';
import { Agent, errors as undiciErrors, request } from 'undici';
import { type FetchFailureReason, ImageFetchError } from '../errors.js';
import { AddressNotAllowedError, guardedConnector } from './guarded-connector.js';

export interface GuardedFetchOptions {
  /** `host` or `host:port` that may be fetched although they resolve to a non-public address. */
  allowedHosts: readonly string[];
  /** Whether plain http URLs may be fetched at all. */
  allowHttp: boolean;
  /** @default 5000 */
  connectTimeoutMs?: number;
  /** Time to the response headers. @default 10000 */
  headersTimeoutMs?: number;
  /** Longest pause between two body chunks. @default 30000 */
  bodyTimeoutMs?: number;
  /** @default 3 */
  maxRedirects?: number;
}

export interface RemoteResponse {
  /** The URL finally answered, after redirects. */
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: AsyncIterable<Uint8Array>;
  /** Stops the transfer, whatever is left of the body. */
  discard(): void;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The only way imagegraph fetches a user-supplied URL (the peek and the download): http(s) without
 * user info, every connection checked by guardedConnector, redirects followed by hand so each hop is
 * checked again (at most `maxRedirects`, never https to http), timeouts on every phase, no proxy
 * from the environment, no content encoding.
 */
export class GuardedFetcher {
  private readonly agent: Agent;
  private readonly maxRedirects: number;

  constructor(private readonly options: GuardedFetchOptions) {
    this.agent = new Agent({
      connect: guardedConnector(options.allowedHosts, options.connectTimeoutMs ?? 5_000),
      headersTimeout: options.headersTimeoutMs ?? 10_000,
      bodyTimeout: options.bodyTimeoutMs ?? 30_000,
    });
    this.maxRedirects = options.maxRedirects ?? 3;
  }

  /** GETs `uri` (optionally a byte range); resolves once a 200/206 answer's headers are in. */
  async open(uri: string, init: { range?: [number, number]; signal?: AbortSignal } = {}): Promise<RemoteResponse> {
    let url = this.checkUrl(uri, uri);
    for (let hop = 0; ; hop++) {
      const response = await this.get(url, init).catch((error: unknown) => {
        throw toFetchError(uri, error);
      });
      if (REDIRECTS.has(response.statusCode)) {
        discard(response.body);
        url = this.redirectTarget(uri, url, response.headers.location, hop);
        continue;
      }
      if (response.statusCode !== 200 && response.statusCode !== 206) {
        discard(response.body);
        throw new ImageFetchError(uri, 'HTTP_STATUS', `The server answered HTTP ${response.statusCode}`, response.statusCode);
      }
      return {
        url: url.href,
        status: response.statusCode,
        headers: response.headers,
        body: response.body,
        discard: () => discard(response.body),
      };
    }
  }

  /**
   * One GET, sent a second time (on a fresh connection) when the connection it went out on closed
   * before any answer: a keep-alive connection the server was closing as the request was sent, which
   * the server never read. A GET may be repeated; anything else fails as it did.
   */
  private async get(url: URL, init: { range?: [number, number]; signal?: AbortSignal }) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request(url, {
          dispatcher: this.agent,
          method: 'GET',
          signal: init.signal,
          headers: {
            'accept-encoding': 'identity',
            'user-agent': 'imagegraph-import/1',
            ...(init.range ? { range: `bytes=${init.range[0]}-${init.range[1]}` } : {}),
          },
        });
      } catch (error) {
        if (attempt > 1 || init.signal?.aborted || (error as { code?: string }).code !== 'UND_ERR_SOCKET') throw error;
      }
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private checkUrl(uri: string, candidate: string): URL {
    let url: URL;
    try {
      url = new URL(candidate);
    } catch {
      throw new ImageFetchError(uri, 'INVALID_URL', 'The URL is not an absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new ImageFetchError(uri, 'SCHEME_NOT_ALLOWED', `Only http and https URLs can be imported, not ${url.protocol}`);
    }
    if (url.protocol === 'http:' && !this.options.allowHttp) {
      throw new ImageFetchError(uri, 'SCHEME_NOT_ALLOWED', 'Plain http is disabled on this server; use https');
    }
    if (url.username || url.password) {
      throw new ImageFetchError(uri, 'INVALID_URL', 'URLs with user info (user:password@) are not accepted');
    }
    return url;
  }

  private redirectTarget(uri: string, from: URL, location: string | string[] | undefined, hop: number): URL {
    if (hop >= this.maxRedirects) {
      throw new ImageFetchError(uri, 'REDIRECT_NOT_ALLOWED', `More than ${this.maxRedirects} redirects`);
    }
    if (typeof location !== 'string') {
      throw new ImageFetchError(uri, 'REDIRECT_NOT_ALLOWED', 'A redirect without a Location header');
    }
    let target: URL;
    try {
      target = new URL(location, from);
    } catch {
      throw new ImageFetchError(uri, 'REDIRECT_NOT_ALLOWED', 'A redirect to an invalid URL');
    }
    if (from.protocol === 'https:' && target.protocol === 'http:') {
      throw new ImageFetchError(uri, 'REDIRECT_NOT_ALLOWED', 'A redirect from https to plain http');
    }
    if (target.protocol !== 'https:' && target.protocol !== 'http:') {
      throw new ImageFetchError(uri, 'REDIRECT_NOT_ALLOWED', `A redirect to ${target.protocol}`);
    }
    return this.checkUrl(uri, target.href);
  }
}

/** Destroying an undici body makes it emit 'error' (aborted): expected here, so it is listened to. */
function discard(body: NodeJS.ReadableStream & { destroy(): unknown }): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** Maps whatever a fetch or a body read threw to the contract's failure reasons. */
export function toFetchError(uri: string, error: unknown): ImageFetchError {
  if (error instanceof ImageFetchError) return error;
  const reason = failureReason(error);
  const messages: Record<FetchFailureReason, string> = {
    INVALID_URL: 'The URL is not valid',
    SCHEME_NOT_ALLOWED: 'The URL scheme is not allowed',
    ADDRESS_NOT_ALLOWED: 'The URL points to a non-public address, which imports may not reach',
    DNS_FAILURE: 'The host name could not be resolved',
    CONNECTION_FAILED: 'Could not connect to the server, or it closed the connection',
    TLS_FAILURE: 'The TLS handshake failed (certificate or protocol)',
    TIMEOUT: 'The server did not answer in time',
    HTTP_STATUS: 'The server answered with an error status',
    REDIRECT_NOT_ALLOWED: 'The redirect is not allowed',
    TOO_SMALL: 'The image is too small',
    TOO_LARGE: 'The image is too large',
  };
  return new ImageFetchError(uri, reason, messages[reason], null, { cause: error });
}

function failureReason(error: unknown): FetchFailureReason {
  const chain = causes(error);
  if (chain.some((e) => e instanceof AddressNotAllowedError)) return 'ADDRESS_NOT_ALLOWED';
  const codes = chain.map((e) => (e as { code?: string }).code ?? '');
  const names = chain.map((e) => (e as Error).name ?? '');
  if (
    chain.some(
      (e) =>
        e instanceof undiciErrors.ConnectTimeoutError ||
        e instanceof undiciErrors.HeadersTimeoutError ||
        e instanceof undiciErrors.BodyTimeoutError,
    ) ||
    names.includes('TimeoutError') ||
    codes.includes('ETIMEDOUT')
  ) {
    return 'TIMEOUT';
  }
  if (codes.some((c) => c === 'ENOTFOUND' || c === 'EAI_AGAIN' || c === 'EAI_FAIL')) return 'DNS_FAILURE';
  if (codes.some((c) => c.startsWith('ERR_TLS') || c.startsWith('ERR_SSL') || /CERT|SELF_SIGNED|VERIFY/.test(c))) {
    return 'TLS_FAILURE';
  }
  if (names.includes('AbortError')) return 'TIMEOUT';
  return 'CONNECTION_FAILED';
}

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e && chain.length < 5; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}
