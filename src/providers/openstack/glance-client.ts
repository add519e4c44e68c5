import { Pool, type Dispatcher } from 'undici';
import { ProviderUnavailable } from '../errors.js';
import type { GlanceAuth } from './glance-auth.js';

export interface GlanceClientOptions {
  region: string;
  /** Glance's URL; without it, the auth strategy's endpoint (Keystone's catalog). */
  imageUrl?: string;
  auth: GlanceAuth;
  /** @default 5000 */
  connectTimeoutMs?: number;
  /** Whole request, for everything but uploads. @default 15000 */
  requestTimeoutMs?: number;
}

export interface GlanceResponse<T> {
  status: number;
  body: T;
}

/** A Glance answer the caller may want to map (404, 403, 409...), with Glance's message cleaned up. */
export class GlanceHttpError extends Error {
  override name = 'GlanceHttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Glance's v2 API over one keep-alive undici pool: JSON with `Accept: application/json` (else errors
 * come as HTML), timeouts on every call, and unreachable/5xx/timeouts as ProviderUnavailable.
 */
export class GlanceClient {
  private pool: Pool | null = null;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: GlanceClientOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
  }

  /** The keep-alive pool, made once Glance's URL is known (it may come from Keystone's catalog). */
  private async connection(): Promise<Pool> {
    if (!this.pool) {
      const url = this.options.imageUrl ?? (await this.options.auth.endpoint!());
      this.pool ??= new Pool(url, {
        connections: 16,
        connectTimeout: this.options.connectTimeoutMs ?? 5_000,
        headersTimeout: this.requestTimeoutMs,
        bodyTimeout: this.requestTimeoutMs,
      });
    }
    return this.pool;
  }

  async json<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT',
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<GlanceResponse<T>> {
    const response = await this.send(method, path, body === undefined ? undefined : JSON.stringify(body), {
      'content-type': contentType,
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: (text && response.statusCode !== 204 ? JSON.parse(text) : null) as T };
  }

  /**
   * Streams `data` as the image's bytes (PUT /v2/images/{id}/file); no overall timeout, an idle one.
   * An error of `data` itself (the download broke, or its bytes were refused) is thrown as it is: it
   * says why the import failed, where undici reports it as a failed request to Glance.
   */
  async upload(path: string, data: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    const source: { error?: unknown } = {};
    async function* watched(): AsyncGenerator<Uint8Array> {
      try {
        yield* data;
      } catch (error) {
        source.error = error;
        throw error;
      }
    }
    try {
      const response = await this.send('PUT', path, watched(), { 'content-type': 'application/octet-stream' }, signal ?? null);
      await response.body.text();
    } catch (error) {
      throw 'error' in source ? source.error : error;
    }
  }

  /** Bytes `start`-`end` (inclusive) of an image's stored data, read back with a Range request. */
  async bytes(path: string, start: number, end: number): Promise<Uint8Array> {
    const response = await this.send('GET', path, undefined, { range: `bytes=${start}-${end}` });
    return new Uint8Array(await response.body.arrayBuffer());
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }

  private async send(
    method: string,
    path: string,
    body: string | AsyncIterable<Uint8Array> | undefined,
    headers: Record<string, string>,
    signal: AbortSignal | null = AbortSignal.timeout(this.requestTimeoutMs),
    retried = false,
  ): Promise<Dispatcher.ResponseData> {
    let response: Dispatcher.ResponseData;
    let credentials: Record<string, string> = {};
    try {
      const pool = await this.connection();
      credentials = await this.options.auth.headers();
      response = await pool.request({
        method: method as 'GET',
        path,
        body: body as string | undefined,
        signal: signal ?? undefined,
        headers: { accept: 'application/json', ...credentials, ...headers },
      });
    } catch (error) {
      if (signal?.aborted && signal.reason instanceof Error && signal.reason.name !== 'TimeoutError') throw error;
      throw new ProviderUnavailable(`Glance of region ${this.options.region} did not answer`, { cause: error });
    }
    if (response.statusCode === 401) {
      // Drop the refused token (not one another request has renewed since), then retry once where the
      // body can be sent again: a streamed upload cannot.
      this.options.auth.invalidate(credentials);
      if (!retried && typeof body !== 'object') {
        await response.body.text();
        return this.send(method, path, body, headers, signal, true);
      }
    }
    if (response.statusCode >= 500 || response.statusCode === 401) {
      const text = await response.body.text().catch(() => '');
      throw new ProviderUnavailable(`Glance of region ${this.options.region} answered ${response.statusCode}`, {
        cause: new GlanceHttpError(response.statusCode, cleanMessage(text)),
      });
    }
    if (response.statusCode >= 400) {
      throw new GlanceHttpError(response.statusCode, cleanMessage(await response.body.text()));
    }
    return response;
  }
}

/** Glance's JSON error message without the `<br /><br />` noise it carries. */
function cleanMessage(text: string): string {
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    // an HTML or empty body: keep the text
  }
  return message
    .replace(/<br\s*\/?>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
