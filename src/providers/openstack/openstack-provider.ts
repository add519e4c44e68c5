import { randomUUID } from 'node:crypto';
import { ImageGone, PageKeyNotFound, ProviderUnavailable, UploadRefused } from '../errors.js';
import {
  type CreateOutcome,
  type DeleteOutcome,
  type ImagePage,
  type ImagePatch,
  type ImageProvider,
  type ImageQuery,
  type ImageRecord,
  type ImageUse,
  type NewImage,
} from '../types.js';
import { GlanceClient, GlanceHttpError } from './glance-client.js';
import {
  type GlanceImage,
  idempotentImageId,
  LEGACY,
  legacyUpgrade,
  P,
  toGlanceCreate,
  toRecord,
  useProperty,
  usesOf,
} from './glance-image.js';
import { createdAtParam, filterParams, type Params, residual, sortParam, streams, toQueryString } from './glance-query.js';
import type { GlanceAuth } from './glance-auth.js';
import { webDownload } from './glance-web-download.js';

export interface OpenStackProviderOptions {
  region: string;
  /** Glance's URL; without it, the auth strategy's endpoint (Keystone's catalog). */
  imageUrl?: string;
  auth: GlanceAuth;
  /** proxy (default): imagegraph uploads the bytes; web-download: Glance fetches the URL itself. */
  importMethod?: 'proxy' | 'web-download';
  /** How often an upload checks its image is still there. @default 2000 */
  uploadWatchMs?: number;
}

const PATCH_TYPE = 'application/openstack-images-v2.1-json-patch';
/** How many extra Glance pages one stream may read to fill a page its residual filter thinned out. */
const MAX_REFILLS = 5;
/** Deleted images an idempotency key may have had before its next import. */
const MAX_KEY_GENERATIONS = 50;
/** How long a use registration waits for an upload in progress to end (see registerImageUse). */
const UPLOAD_WAIT_MS = 120_000;
/** Writes of one use that uploads beginning meanwhile may drop before the registration gives up. */
const MAX_USE_WRITES = 3;
/** The values images written before the standard properties have under imagegraph.os_distro. */
const LEGACY_DISTROS = ['UBUNTU', 'DEBIAN', 'ROCKY', 'ALMALINUX', 'RHEL'];
const MAX_UPGRADE_ROUNDS = 1_000;
/** How often an upload checks that its image is still there (see writeImageData). */
const UPLOAD_WATCH_MS = 2_000;
/** How long, and how often, to wait for Glance to finish with a broken upload (see writeImageData). */
const SETTLE_TIMEOUT_MS = 5_000;
const SETTLE_POLL_MS = 25;

/**
 * Images in an OpenStack Glance (v2 API): queries pushed down as Glance query parameters, one
 * listing per part of the scope merged in order; ownership, provenance and uses as reserved
 * properties (see glance-image.ts), so several imagegraph replicas agree.
 */
export class OpenStackImageProvider implements ImageProvider {
  readonly kind = 'OPENSTACK' as const;
  private readonly glance: GlanceClient;
  /** Uploads this process has in flight, by image id: see registerImageUse. */
  private readonly uploads = new Map<string, Promise<unknown>>();

  /** Only with web-download: the import runner then lets Glance fetch instead of uploading itself. */
  readonly importFromUri?: ImageProvider['importFromUri'];

  constructor(private readonly options: OpenStackProviderOptions) {
    this.glance = new GlanceClient({ region: options.region, imageUrl: options.imageUrl, auth: options.auth });
    if (options.importMethod === 'web-download') {
      this.importFromUri = (id, uri, signal) => webDownload(this.glance, id, uri, signal);
    }
  }

  async queryImages(query: ImageQuery): Promise<ImagePage> {
    const { order, after } = query;
    const base: Params = [
      ...filterParams(query.filter),
      ...createdAtParam(query.filter, order, after),
      ['sort', sortParam(order)],
    ];
    const sign = order.direction === 'ASC' ? 1 : -1;
    const before = (a: SortKey, b: SortKey) => sign * (compare(a.value, b.value) || compare(a.id, b.id)) < 0;
    const matches = residual(query.filter);
    const project = await this.options.auth.projectId();
    const pages = await Promise.all(
      streams(query.scope, project).map((stream) => {
        const keep = (image: ImageRecord) =>
          stream.keep(image) && matches(image) && (!after || before(after, keyOf(image, order)));
        return this.readStream([...stream.params, ...base], project, query, keep, before);
      }),
    );
    // A stream that stopped early vouches only for what sorts up to its horizon (its last image, or in
    // creation order the start of its last second, which no image sorts equal to): the page ends there.
    const complete = (image: ImageRecord) => pages.every((page) => !page.horizon || !before(page.horizon, keyOf(image, order)));
    const merged = pages
      .flatMap((page) => page.records)
      .filter(complete)
      .sort((a, b) => (before(keyOf(a, order), keyOf(b, order)) ? -1 : 1))
      .slice(0, query.first + 1);
    const cut = pages.some((page) => page.horizon !== null);
    if (merged.length > query.first || !cut)
      return { images: merged.slice(0, query.first), hasNextPage: merged.length > query.first };
    // A short page: everything up to the earliest horizon was scanned, so the next page starts there
    // (else a long run of left-out images would end every page before it, and paging would stall).
    const horizons = pages.flatMap((page) => (page.horizon ? [page.horizon] : []));
    const resumeAfter = horizons.reduce((earliest, horizon) => (before(horizon, earliest) ? horizon : earliest));
    return { images: merged, hasNextPage: true, resumeAfter: { value: resumeAfter.value, id: resumeAfter.id } };
  }

  /**
   * Moves images written before the standard properties (their OS and architecture only under
   * imagegraph.*) to the standard keys, so that Glance can filter them like every other. Each legacy
   * distribution value is listed until none is left; an image is patched once, so a second start
   * costs one empty listing per value.
   */
  async prepare(): Promise<void> {
    const project = await this.options.auth.projectId();
    for (const value of LEGACY_DISTROS) {
      for (let round = 0; round < MAX_UPGRADE_ROUNDS; round++) {
        const params: Params = [
          ['owner', project],
          ['visibility', 'all'],
          [LEGACY.osDistro, value],
          ['limit', '200'],
        ];
        const { body } = await this.glance.json<{ images: GlanceImage[] }>('GET', `/v2/images?${toQueryString(params)}`);
        if (body.images.length === 0) break;
        for (const image of body.images) {
          const ops = legacyUpgrade(image);
          if (ops.length) await this.patchIfExists(image.id, ops);
        }
      }
    }
  }

  async countImages(): Promise<null> {
    return null;
  }

  async getImages(ids: readonly string[]): Promise<(ImageRecord | null)[]> {
    const [found, project] = await Promise.all([this.fetchImages(ids), this.options.auth.projectId()]);
    return ids.map((id) => {
      const image = found.get(id);
      return image ? toRecord(image, project) : null;
    });
  }

  /**
   * With an idempotency key, the image id is derived from project, owner, key and a generation: two
   * replicas creating the same key at once collide on Glance's unique id (409) instead of creating two
   * images. A 409 also comes from a deleted image's id, which Glance never reuses: the next generation
   * is tried, after looking for a live image with the key again. A key whose every generation is
   * taken by deleted images cannot be used again: a conflict.
   */
  async createImage(image: NewImage): Promise<CreateOutcome> {
    const idempotency = image.idempotency;
    const project = await this.options.auth.projectId();
    if (!idempotency) {
      const created = await this.glance.json<GlanceImage>('POST', '/v2/images', toGlanceCreate(image, randomUUID()));
      return { result: 'created', image: toRecord(created.body, project)! };
    }
    for (let generation = 0; generation < MAX_KEY_GENERATIONS; generation++) {
      const existing = await this.findByIdempotencyKey(image.organizationId, idempotency.key);
      if (existing) return { result: 'existing', ...existing };
      const id = idempotentImageId(project, image.organizationId, idempotency.key, generation);
      try {
        const created = await this.glance.json<GlanceImage>('POST', '/v2/images', toGlanceCreate(image, id));
        return { result: 'created', image: toRecord(created.body, project)! };
      } catch (error) {
        if (!(error instanceof GlanceHttpError && error.status === 409)) throw error;
      }
    }
    return { result: 'key-unusable' };
  }

  /** The live image carrying this key for this owner, found by its properties. */
  async findByIdempotencyKey(organizationId: string | null, key: string) {
    const project = await this.options.auth.projectId();
    const params: Params = [
      ['owner', project],
      [P.idempotencyKey, key],
      ...(organizationId ? ([[P.organization, organizationId]] as Params) : ([['visibility', 'public']] as Params)),
    ];
    const { body } = await this.glance.json<{ images: GlanceImage[] }>('GET', `/v2/images?${toQueryString(params)}`);
    const found = body.images
      .map((candidate) => ({ candidate, record: toRecord(candidate, project) }))
      .find(({ record }) => record !== null && record.organizationId === organizationId);
    return found ? { image: found.record!, fingerprint: String(found.candidate[P.idempotencyFingerprint] ?? '') } : null;
  }

  async updateImage(id: string, patch: ImagePatch): Promise<ImageRecord | null> {
    // Glance owns the status; imagegraph records only what Glance cannot know.
    const ops: unknown[] = [];
    if (patch.status === 'FAILED')
      ops.push({ op: 'add', path: `/${P.failedReason}`, value: patch.statusReason ?? 'The import failed' });
    // Written before the upload begins, so Glance keeps it when it saves the image at the upload's end.
    if (patch.status === 'CREATING') ops.push({ op: 'add', path: `/${P.importStartedAt}`, value: new Date().toISOString() });
    if (patch.status === 'PENDING') ops.push({ op: 'add', path: `/${P.importStartedAt}`, value: '' });
    // '' reads as unset (Glance's remove fails on a property that is not there).
    if (patch.deprecation !== undefined) {
      ops.push({ op: 'add', path: `/${P.deprecatedAt}`, value: patch.deprecation?.at.toISOString() ?? '' });
      ops.push({ op: 'add', path: `/${P.deprecationReplacement}`, value: patch.deprecation?.replacementId ?? '' });
    }
    if (patch.signature !== undefined) ops.push({ op: 'add', path: `/${P.signature}`, value: patch.signature ?? '' });
    if (patch.checksum?.algorithm === 'sha256') ops.push({ op: 'add', path: `/${P.sha256}`, value: patch.checksum.value });
    // Nova refuses a flavor whose root disk is smaller than min_disk: a raw image needs its whole size.
    if (patch.status === 'READY' && patch.sizeBytes)
      ops.push({ op: 'replace', path: '/min_disk', value: Math.ceil(patch.sizeBytes / 2 ** 30) });
    try {
      // One tag each: Glance adds and removes a tag atomically, so concurrent shares never overwrite each other.
      if (patch.shareWith)
        await this.glance.json('PUT', `/v2/images/${id}/tags/${encodeURIComponent(P.sharedWithTag + patch.shareWith)}`);
      if (patch.unshareWith) {
        await this.glance
          .json('DELETE', `/v2/images/${id}/tags/${encodeURIComponent(P.sharedWithTag + patch.unshareWith)}`)
          .catch((error: unknown) => {
            // Not shared with it (already unshared): nothing to do; a missing image is found below.
            if (!(error instanceof GlanceHttpError && error.status === 404)) throw error;
          });
      }
      let image = ops.length
        ? (await this.glance.json<GlanceImage>('PATCH', `/v2/images/${id}`, ops, PATCH_TYPE)).body
        : (await this.fetchImages([id])).get(id);
      if (image && patch.status === 'FAILED' && image.status === 'active') {
        // Bytes Glance took in (web-download) that imagegraph then refused: Nova must not boot them.
        await this.glance.json('POST', `/v2/images/${id}/actions/deactivate`);
        image = { ...image, status: 'deactivated' };
      }
      return image ? toRecord(image, await this.options.auth.projectId()) : null;
    } catch (error) {
      if (error instanceof GlanceHttpError && error.status === 404) return null;
      throw error;
    }
  }

  /**
   * Glance puts an image whose upload broke back to `queued` by saving the image as it read it when
   * the upload began, which drops properties written meanwhile: the failed_reason the caller writes
   * next would be lost. So a broken upload ends here only once Glance is done with it, and (to know
   * when that is) is broken only once Glance has taken it up. Glance sees it from its first byte on.
   */
  async writeImageData(id: string, data: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    // Glance answers an upload to an image deleted meanwhile (410) only once every byte is sent:
    // watch the image instead, and stop at once when it is gone or closed to uploads.
    const watchdog = this.watchUpload(id);
    const upload = { started: false };
    const takenUp = () => this.waitForStatus(id, (status) => status === 'saving');
    async function* watched(): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of data) {
          upload.started = true;
          yield chunk;
        }
      } catch (error) {
        if (upload.started) await takenUp();
        throw error;
      }
    }
    const done = this.glance.upload(
      `/v2/images/${id}/file`,
      watched(),
      signal ? AbortSignal.any([signal, watchdog.signal]) : watchdog.signal,
    );
    this.uploads.set(
      id,
      done.catch(() => undefined),
    );
    try {
      await done;
    } catch (error) {
      const stopped = watchdog.reason() ?? uploadRefusal(error);
      if (stopped) throw stopped;
      if (upload.started) await this.waitForStatus(id, (status) => status !== 'saving');
      throw error;
    } finally {
      watchdog.stop();
      this.uploads.delete(id);
    }
  }

  /** Polls an image while bytes go to it; aborts when it is deleted, deactivated or killed at Glance. */
  private watchUpload(id: string) {
    const controller = new AbortController();
    let reason: Error | null = null;
    const timer = setInterval(() => {
      void this.fetchImages([id]).then(
        (found) => {
          const image = found.get(id);
          if (!image) reason = new ImageGone(`image ${id} was deleted at Glance during the upload`);
          else if (image.status === 'deactivated' || image.status === 'killed') {
            reason = new UploadRefused(`the image was ${image.status} at Glance during the upload`);
          }
          if (reason) controller.abort(reason);
        },
        () => undefined, // Glance did not answer: the upload itself will tell.
      );
    }, this.options.uploadWatchMs ?? UPLOAD_WATCH_MS);
    return { signal: controller.signal, reason: () => reason, stop: () => clearInterval(timer) };
  }

  async readImageData(id: string, start: number, end: number): Promise<Uint8Array> {
    return this.glance.bytes(`/v2/images/${id}/file`, start, end);
  }

  async listUnfinishedImports(): Promise<ImageRecord[]> {
    const project = await this.options.auth.projectId();
    // Glance matches one value per property: one listing per kind that runs in the background.
    const listings = await Promise.all(
      (['IMPORT', 'COPY'] as const).map(async (kind) => {
        const params: Params = [
          ['owner', project],
          ['status', 'queued'],
          [P.sourceKind, kind],
          ['limit', '1000'],
        ];
        return (await this.glance.json<{ images: GlanceImage[] }>('GET', `/v2/images?${toQueryString(params)}`)).body.images;
      }),
    );
    // Queued with import_started_at is CREATING: a replica was running it (and may have died).
    return listings
      .flat()
      .map((image) => toRecord(image, project))
      .filter((image): image is ImageRecord => image !== null && (image.status === 'PENDING' || image.status === 'CREATING'))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  async deleteImage(id: string): Promise<DeleteOutcome> {
    const image = (await this.fetchImages([id])).get(id);
    if (!image || !toRecord(image, await this.options.auth.projectId())) return { result: 'not-found' };
    const usedBy = usesOf(image);
    if (usedBy.length) return { result: 'in-use', usedBy };
    if (image.protected) return { result: 'protected' };
    try {
      await this.glance.json('DELETE', `/v2/images/${id}`);
      return { result: 'deleted' };
    } catch (error) {
      if (!(error instanceof GlanceHttpError)) throw error;
      if (error.status === 404) return { result: 'not-found' };
      if (error.status === 409) return { result: 'in-use', usedBy: [] };
      if (error.status === 403) {
        // A use registered since the look-up protects the image: report the uses.
        const now = (await this.fetchImages([id])).get(id);
        const uses = now ? usesOf(now) : [];
        return uses.length ? { result: 'in-use', usedBy: uses } : { result: 'protected' };
      }
      throw error;
    }
  }

  /**
   * Glance ends an upload by saving the image as it read it when the upload began, which would drop a
   * use written meanwhile: the registration waits for the upload to end (this process's own uploads
   * until Glance has answered; another replica's while Glance shows `saving`). An upload can also
   * begin between the look-up and the patch, so the use is looked for again once any upload is over,
   * and written again if it was dropped.
   */
  async registerImageUse(id: string, use: Omit<ImageUse, 'createdAt'>): Promise<boolean> {
    const property = useProperty(use.organizationId, use.kind, use.consumerId);
    for (let writes = 0; ; writes++) {
      await this.uploads.get(id);
      let image = (await this.fetchImages([id])).get(id);
      if (image?.status === 'saving') {
        await this.waitForStatus(id, (status) => status !== 'saving', UPLOAD_WAIT_MS);
        image = (await this.fetchImages([id])).get(id);
      }
      if (!image || !toRecord(image, await this.options.auth.projectId())) return false;
      if (image[property]) return true;
      if (writes === MAX_USE_WRITES) {
        throw new ProviderUnavailable(`the use of image ${id} was dropped by ${MAX_USE_WRITES} uploads in a row; not registered`);
      }
      const value = JSON.stringify({
        organization: use.organizationId,
        kind: use.kind,
        consumerId: use.consumerId,
        createdAt: new Date(),
      });
      // One atomic patch: the use and `protected`, so Glance itself refuses a delete racing this.
      const ops: unknown[] = [{ op: 'add', path: `/${property}`, value }];
      if (!image.protected)
        ops.push({ op: 'replace', path: '/protected', value: true }, { op: 'add', path: `/${P.protectedByUses}`, value: 'true' });
      if (!(await this.patchIfExists(id, ops))) return false;
    }
  }

  async releaseImageUse(
    id: string,
    release: { kind: string; consumerId: string; organizationIds: readonly string[] | 'all' },
  ): Promise<boolean> {
    const image = (await this.fetchImages([id])).get(id);
    if (!image || !toRecord(image, await this.options.auth.projectId())) return false;
    const uses = usesOf(image);
    const released = uses.filter(
      (use) =>
        use.kind === release.kind &&
        use.consumerId === release.consumerId &&
        (release.organizationIds === 'all' || release.organizationIds.includes(use.organizationId)),
    );
    if (released.length === 0) return true;
    const ops: unknown[] = released.map((use) => ({
      op: 'remove',
      path: `/${useProperty(use.organizationId, use.kind, use.consumerId)}`,
    }));
    if (released.length === uses.length && image[P.protectedByUses]) {
      ops.push({ op: 'replace', path: '/protected', value: false }, { op: 'remove', path: `/${P.protectedByUses}` });
    }
    return this.patchIfExists(id, ops);
  }

  async listImageUses(ids: readonly string[]): Promise<ImageUse[][]> {
    const found = await this.fetchImages(ids);
    return ids.map((id) => {
      const image = found.get(id);
      return image ? usesOf(image) : [];
    });
  }

  async checkHealth(): Promise<void> {
    await this.glance.json('GET', '/v2/images?limit=1');
  }

  async close(): Promise<void> {
    await this.glance.close();
  }

  /** Images by id in one listing (`id=in:`), as Glance shows them to imagegraph's project. */
  private async fetchImages(ids: readonly string[]): Promise<Map<string, GlanceImage>> {
    const valid = ids.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    if (valid.length === 0) return new Map();
    const params: Params = [
      ['id', `in:${valid.join(',')}`],
      ['limit', String(valid.length)],
    ];
    const { body } = await this.glance.json<{ images: GlanceImage[] }>('GET', `/v2/images?${toQueryString(params)}`);
    return new Map(body.images.map((image) => [image.id, image]));
  }

  /** Polls the image's Glance status until `done`, the image is gone or Glance does not answer (a few seconds at most). */
  private async waitForStatus(id: string, done: (status: string) => boolean, timeoutMs = SETTLE_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const image = await this.fetchImages([id]).then(
        (found) => found.get(id),
        () => undefined,
      );
      if (!image || done(image.status)) return;
      await new Promise((resolve) => setTimeout(resolve, timeoutMs > 10_000 ? 10 * SETTLE_POLL_MS : SETTLE_POLL_MS));
    }
  }

  private async patchIfExists(id: string, ops: unknown[]): Promise<boolean> {
    try {
      await this.glance.json('PATCH', `/v2/images/${id}`, ops, PATCH_TYPE);
      return true;
    } catch (error) {
      if (error instanceof GlanceHttpError && error.status === 404) return false;
      throw error;
    }
  }

  /**
   * One stream's images after the cursor, until `first + 1` of them are known complete or the stream
   * ends. Name order is exact in Glance, so a marker resumes it. Creation order is not: Glance shows
   * seconds but orders by microseconds, so the stream resumes at the cursor's second and its horizon
   * is the start of the last second it has seen (images of that second may still follow).
   */
  private async readStream(
    params: Params,
    project: string,
    query: ImageQuery,
    keep: (image: ImageRecord) => boolean,
    before: (a: SortKey, b: SortKey) => boolean,
  ): Promise<{ records: ImageRecord[]; horizon: SortKey | null }> {
    const wanted = query.first + 1;
    const coarse = query.order.field === 'CREATED_AT';
    const records: ImageRecord[] = [];
    let marker = coarse ? undefined : query.after?.id;
    for (let round = 0; ; round++) {
      const page: Params = [
        ...params,
        ['limit', String(Math.max(wanted, 20))],
        ...(marker ? ([['marker', marker]] as Params) : []),
      ];
      const images = await this.listPage(page);
      for (const image of images) {
        const record = toRecord(image, project);
        if (record && keep(record)) records.push(record);
      }
      if (images.length < Math.max(wanted, 20)) return { records, horizon: null };
      const last = images.at(-1)!;
      const lastKey = keyOf(last, query.order);
      // Start of the last second seen: '' sorts before every id, '~' after every id (hex and '-').
      const horizon = coarse ? { value: lastKey.value, id: query.order.direction === 'ASC' ? '' : '~' } : lastKey;
      const known = coarse ? records.filter((r) => before(keyOf(r, query.order), horizon)).length : records.length;
      if (known >= wanted || round >= MAX_REFILLS) return { records, horizon: coarse ? horizon : lastKey };
      marker = last.id;
    }
  }

  private async listPage(params: Params): Promise<GlanceImage[]> {
    try {
      return (await this.glance.json<{ images: GlanceImage[] }>('GET', `/v2/images?${toQueryString(params)}`)).body.images;
    } catch (error) {
      if (error instanceof GlanceHttpError && error.status === 400 && /marker|No image found/i.test(error.message)) {
        throw new PageKeyNotFound('Glance has no image for the page marker');
      }
      throw error;
    }
  }
}

/** What Glance's refusal of an upload means at this boundary: gone (404, 410) or closed to uploads (403, 409). */
function uploadRefusal(error: unknown): Error | null {
  if (!(error instanceof GlanceHttpError)) return null;
  if (error.status === 404 || error.status === 410) return new ImageGone(error.message);
  if (error.status === 403 || error.status === 409) return new UploadRefused(error.message);
  return null;
}

interface SortKey {
  value: string;
  id: string;
}

/** The sort key of a record, or of a raw Glance image, as sortValue gives it. */
function keyOf(image: ImageRecord | GlanceImage, order: ImageQuery['order']): SortKey {
  const created =
    'createdAt' in image && image.createdAt instanceof Date
      ? image.createdAt
      : new Date(String((image as GlanceImage).created_at));
  return { value: order.field === 'NAME' ? (image.name ?? '') : created.toISOString(), id: image.id };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
