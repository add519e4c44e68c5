import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SubscriptionLimitError } from '../src/errors.js';
import { ImageEvents } from '../src/image-events.js';
import { ImageWatcher } from '../src/image-watcher.js';
import { LocalImageProvider } from '../src/providers/local/local-provider.js';
import type { ImageProvider } from '../src/providers/types.js';
import { createOne, newImage } from './fixtures/images.js';

let dir: string;
let provider: LocalImageProvider;
let reads: number;
let watcher: ImageWatcher;
let events: ImageEvents;

/** The real local provider, counting how often the watcher reads images. */
function counted(inner: LocalImageProvider): ImageProvider {
  return Object.assign(Object.create(inner) as ImageProvider, {
    getImages: (ids: readonly string[]) => {
      reads++;
      return inner.getImages(ids);
    },
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-watcher-'));
  provider = new LocalImageProvider(dir);
  reads = 0;
  events = new ImageEvents();
  watcher = new ImageWatcher({
    providers: { get: () => counted(provider) },
    events,
    progress: () => null,
    pollMs: 100,
    maxPerSubject: 3,
  });
});
afterEach(async () => {
  watcher.close();
  await provider.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ImageWatcher', () => {
  it('reads a watched image once per poll, however many streams follow it', async () => {
    const image = await createOne(provider, newImage({ status: 'PENDING' }));
    const streams = Array.from({ length: 30 }, (_, i) => watcher.watch(`subject-${i}`, 'local', image.id));
    await Promise.all(streams.map((stream) => stream.next()));
    reads = 0;
    await new Promise((resolve) => setTimeout(resolve, 1_050));

    // About ten polls in a second: one read each, not thirty.
    expect(reads).toBeGreaterThanOrEqual(5);
    expect(reads).toBeLessThanOrEqual(12);
    await Promise.all(streams.map((stream) => stream.return?.()));
    expect(watcher.openStreams).toBe(0);
  });

  it('tells every stream of a change, and ends each with null when the image is deleted', async () => {
    const image = await createOne(provider, newImage({ status: 'PENDING' }));
    const a = watcher.watch('a', 'local', image.id);
    const b = watcher.watch('b', 'local', image.id);
    expect((await a.next()).value?.record.status).toBe('PENDING');
    expect((await b.next()).value?.record.status).toBe('PENDING');

    await provider.updateImage(image.id, { status: 'CREATING' });
    events.publish({ region: 'local', id: image.id, kind: 'changed' });
    expect((await a.next()).value?.record.status).toBe('CREATING');
    expect((await b.next()).value?.record.status).toBe('CREATING');

    await provider.deleteImage(image.id);
    events.publish({ region: 'local', id: image.id, kind: 'deleted' });
    expect(await a.next()).toEqual({ done: false, value: null });
    expect((await a.next()).done).toBe(true);
    expect(await b.next()).toEqual({ done: false, value: null });
    expect(watcher.openStreams).toBe(1);
    await b.next();
    expect(watcher.openStreams).toBe(0);
  });

  it('caps the streams one subject holds, and frees a place when one closes', async () => {
    const image = await createOne(provider, newImage({ status: 'PENDING' }));
    const held = [1, 2, 3].map(() => watcher.watch('greedy', 'local', image.id));
    expect(() => watcher.watch('greedy', 'local', image.id)).toThrow(SubscriptionLimitError);
    expect(() => watcher.watch('modest', 'local', image.id)).not.toThrow();

    await held[0]!.return?.();
    expect(() => watcher.watch('greedy', 'local', image.id)).not.toThrow();
  });
});
