import DataLoader from 'dataloader';
import type { ImageFilter, ImagePage, ImageProvider, ImageQuery, ImageRecord, ImageScope, ImageUse } from './providers/types.js';

/**
 * A request's view of the providers: each distinct (region, operation, arguments) reaches its provider
 * at most once per request, and image lookups by id are batched into one `getImages` per region.
 * The providers here are the resilient ones (see resilient-provider.ts), which count every real call.
 */
export class ProviderCalls {
  private readonly memo = new Map<string, Promise<unknown>>();
  private readonly imageLoaders = new Map<string, DataLoader<string, ImageRecord | null>>();
  private readonly useLoaders = new Map<string, DataLoader<string, ImageUse[]>>();

  constructor(private readonly providers: ReadonlyMap<string, ImageProvider>) {}

  queryImages(region: string, query: ImageQuery): Promise<ImagePage> {
    return this.once(region, 'queryImages', query, (provider) => provider.queryImages(query));
  }

  countImages(region: string, scope: ImageScope, filter: ImageFilter): Promise<number | null> {
    return this.once(region, 'countImages', { scope, filter }, (provider) => provider.countImages(scope, filter));
  }

  getImage(region: string, id: string): Promise<ImageRecord | null> {
    let loader = this.imageLoaders.get(region);
    if (!loader) {
      loader = new DataLoader((ids) => this.call(region, 'getImages', (provider) => provider.getImages(ids)));
      this.imageLoaders.set(region, loader);
    }
    return loader.load(id);
  }

  /** The uses of an image; all images of a region asked for in one tick share one provider call. */
  imageUses(region: string, id: string): Promise<ImageUse[]> {
    return this.usesLoader(region).load(id);
  }

  /** Sets what this request knows of an image's uses (a subscription's fresh read). */
  primeUses(region: string, id: string, uses: ImageUse[]): void {
    this.usesLoader(region).clear(id).prime(id, uses);
  }

  /** Drops what this request has loaded of an image's uses, after it changed them. */
  forgetUses(region: string, id: string): void {
    this.useLoaders.get(region)?.clear(id);
  }

  private usesLoader(region: string): DataLoader<string, ImageUse[]> {
    let loader = this.useLoaders.get(region);
    if (!loader) {
      loader = new DataLoader((ids) => this.call(region, 'listImageUses', (provider) => provider.listImageUses(ids)));
      this.useLoaders.set(region, loader);
    }
    return loader;
  }

  private once<T>(region: string, operation: string, args: unknown, run: (provider: ImageProvider) => Promise<T>) {
    const key = `${region}\u0000${operation}\u0000${stableStringify(args)}`;
    let result = this.memo.get(key) as Promise<T> | undefined;
    if (!result) {
      result = this.call(region, operation, run);
      this.memo.set(key, result);
    }
    return result;
  }

  /** A call that is never shared (writes, and reads that must see them): counted, not memoized. */
  direct<T>(region: string, operation: string, run: (provider: ImageProvider) => Promise<T>): Promise<T> {
    return this.call(region, operation, run);
  }

  private call<T>(region: string, _operation: string, run: (provider: ImageProvider) => Promise<T>): Promise<T> {
    const provider = this.providers.get(region);
    if (!provider) throw new Error(`No provider configured for region ${region}`);
    return run(provider);
  }
}

/** JSON with object keys sorted, so equal arguments given in a different order share one call. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
