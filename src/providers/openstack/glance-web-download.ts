import { setTimeout as sleep } from 'node:timers/promises';
import { ImageFetchError, UnsupportedImageFormatError } from '../../errors.js';
import { hasVhdFooter, PEEK_BYTES, VHD_FOOTER_BYTES, vhdProbe } from '../../imports/formats/index.js';
import { checkHead } from '../../imports/peek-image.js';
import type { ImageRecord } from '../types.js';
import { type GlanceClient, GlanceHttpError } from './glance-client.js';
import type { GlanceImage } from './glance-image.js';

const POLL_MS = 500;

/**
 * Glance's `web-download` import: Glance fetches the URL itself, so imagegraph checks what arrived
 * afterwards (the head and a fixed VHD's footer, read back with Range) and deactivates an image whose
 * bytes are not a raw bootable disk. A failed download returns the image to `queued` without its task
 * lock; the task's message says why.
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
      throw new ImageFetchError(uri, 'ADDRESS_NOT_ALLOWED', `Glance refused to fetch the URL: ${error.message}`);
    }
    throw error;
  }
  for (let started = false; ;) {
    await sleep(POLL_MS, undefined, { signal });
    const image = (await glance.json<GlanceImage>('GET', `/v2/images/${id}`)).body;
    if (image.status === 'active') {
      await verifyStoredBytes(glance, id, uri, image.size ?? 0);
      return {
        sizeBytes: image.size,
        checksum: image.os_hash_value ? { algorithm: image.os_hash_algo ?? 'sha512', value: image.os_hash_value } : null,
      };
    }
    if (image.status !== 'queued') started = true;
    if (image.status === 'queued' && !image['os_glance_import_task'] && started) throw await taskFailure(glance, id, uri);
    if (!['queued', 'importing', 'saving', 'uploading'].includes(image.status)) {
      throw new ImageFetchError(uri, 'CONNECTION_FAILED', `Glance's import ended with the image ${image.status}`);
    }
  }
}

async function verifyStoredBytes(glance: GlanceClient, id: string, uri: string, size: number): Promise<void> {
  try {
    checkHead(uri, await glance.bytes(`/v2/images/${id}/file`, 0, PEEK_BYTES - 1));
    if (
      size >= VHD_FOOTER_BYTES &&
      hasVhdFooter(await glance.bytes(`/v2/images/${id}/file`, size - VHD_FOOTER_BYTES, size - 1))
    ) {
      throw new UnsupportedImageFormatError('VHD', vhdProbe.hint);
    }
  } catch (error) {
    // Active in Glance but not a bootable raw disk: make it unusable (deactivated maps to FAILED).
    await glance.json('POST', `/v2/images/${id}/actions/deactivate`).catch(() => undefined);
    throw error;
  }
}

async function taskFailure(glance: GlanceClient, id: string, uri: string): Promise<ImageFetchError> {
  const { body } = await glance.json<{ tasks?: { status: string; message: string; updated_at: string }[] }>(
    'GET',
    `/v2/images/${id}/tasks`,
  );
  const failed = (body.tasks ?? [])
    .filter((task) => task.status === 'failure')
    .sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1))[0];
  return new ImageFetchError(
    uri,
    'CONNECTION_FAILED',
    `Glance could not download the image: ${failed?.message ?? 'no reason given'}`,
  );
}
