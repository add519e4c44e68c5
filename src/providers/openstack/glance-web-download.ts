import { setTimeout as sleep } from 'node:timers/promises';
import { RemoteFetchFailed } from '../errors.js';
import type { ImageRecord } from '../types.js';
import { type GlanceClient, GlanceHttpError } from './glance-client.js';
import type { GlanceImage } from './glance-image.js';

const POLL_MS = 500;

/**
 * Glance's `web-download` import: Glance fetches the URL itself; this resolves once the image is
 * active (the caller then checks what arrived before calling it READY). A failed download returns the
 * image to `queued` without its task lock; the task's message says why.
 */
export async function webDownload(
  glance: GlanceClient,
  id: string,
  uri: string,
  signal: AbortSignal,
): Promise<Pick<ImageRecord, 'sizeBytes' | 'checksum'>> {
  try {
    await glance.json('POST', `/v2/images/${id}/import`, { method: { name: 'web-download', uri } });
  } catch (error) {
    if (error instanceof GlanceHttpError && error.status === 400) {
      throw new RemoteFetchFailed(true, `Glance refused to fetch the URL: ${error.message}`);
    }
    throw error;
  }
  for (let started = false; ;) {
    await sleep(POLL_MS, undefined, { signal });
    const image = (await glance.json<GlanceImage>('GET', `/v2/images/${id}`)).body;
    if (image.status === 'active') {
      return {
        sizeBytes: image.size,
        checksum: image.os_hash_value ? { algorithm: image.os_hash_algo ?? 'sha512', value: image.os_hash_value } : null,
      };
    }
    if (image.status !== 'queued') started = true;
    if (image.status === 'queued' && !image['os_glance_import_task'] && started) throw await taskFailure(glance, id);
    if (!['queued', 'importing', 'saving', 'uploading'].includes(image.status)) {
      throw new RemoteFetchFailed(false, `Glance's import ended with the image ${image.status}`);
    }
  }
}

async function taskFailure(glance: GlanceClient, id: string): Promise<RemoteFetchFailed> {
  const { body } = await glance.json<{ tasks?: { status: string; message: string; updated_at: string }[] }>(
    'GET',
    `/v2/images/${id}/tasks`,
  );
  const failed = (body.tasks ?? [])
    .filter((task) => task.status === 'failure')
    .sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1))[0];
  return new RemoteFetchFailed(false, `Glance could not download the image: ${failed?.message ?? 'no reason given'}`);
}
