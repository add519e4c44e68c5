import type { GraphQLParams, Plugin } from 'graphql-yoga';
import { BadRequestError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { errorResponse } from '../schema/query-errors.js';

export interface RequestBodyOptions {
  /** Bodies larger than this are refused with 413, unread. @default 1048576 */
  maxBodyBytes: number;
  metrics: Metrics;
}

/** What a POST body may be: JSON. A browser cannot send it cross-site without a CORS preflight. */
const JSON_TYPES = new Set(['application/json', 'application/graphql+json']);

/**
 * The POST body policy: JSON only (415 for forms, multipart and text/plain, which any web page can
 * send to a developer's server without CORS), at most `maxBodyBytes` (413, counted while reading, so
 * a body without Content-Length is cut too), and malformed JSON answered with a short fixed message
 * (400), never echoed. GET requests are yoga's, which never runs a mutation over GET.
 */
export function useRequestBody({ maxBodyBytes, metrics }: RequestBodyOptions): Plugin {
  const refuse = (error: BadRequestError) => {
    metrics.requestsRefused.inc({ reason: `http${error.httpStatus}` });
    return errorResponse(error);
  };
  return {
    onRequestParse({ request, setRequestParser, endResponse }) {
      if (request.method !== 'POST') return;
      const mediaType = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (!JSON_TYPES.has(mediaType)) {
        return endResponse(refuse(new BadRequestError('POST bodies must be application/json', 415)));
      }
      const declared = request.headers.get('content-length');
      if (Number(declared ?? 0) > maxBodyBytes) {
        return endResponse(refuse(new BadRequestError(`The request body is larger than ${maxBodyBytes} bytes`, 413)));
      }
      setRequestParser(async (req) => {
        // With a Content-Length within the limit, Node's parser ends the body there: read it at once
        // (the adapter's fast path). Without one, count while reading.
        const text = declared !== null ? await req.text() : await readText(req, maxBodyBytes);
        if (text === null) return refuse(new BadRequestError(`The request body is larger than ${maxBodyBytes} bytes`, 413));
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return refuse(new BadRequestError('The request body is not valid JSON'));
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          return refuse(new BadRequestError('The request body must be a JSON object with a "query"'));
        }
        return body as GraphQLParams;
      });
    },
  };
}

/** The body as text, or null as soon as it grows over `max` bytes (the rest is never read). */
async function readText(request: Request, max: number): Promise<string | null> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
