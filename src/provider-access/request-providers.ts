import DataLoader from 'dataloader';
import type {
  CreateOutcome,
  DeleteOutcome,
  ImageFilter,
  ImagePatch,
  ImagePage,
  ImageProvider,
  ImageQuery,
  ImageRecord,
  ImageScope,
  ImageUse,
  NewImage,
} from '../providers/types.js';
import type { ProviderRegistry } from './provider-registry.js';

/**
 * One request's way to a region's provider (`ctx.provider(region)`): reads are shared within the
 * request (each distinct query reaches the provider once; images and their uses are looked up in one
 * batch per region), writes go straight through. Below it is the registry's provider, which counts,
 * times and guards every call.
 */
export class RequestProvider {
  /** Calls made so far, by operation; their keys are made only once a second call of one operation comes. */
  private readonly calls = new Map<string, { args: unknown; key?: string; result: Promise<unknown> }[]>();
  // Made when first used: most requests (an images page) need neither.
  private imagesLoader?: DataLoader<string, ImageRecord | null>;
  private usesLoader?: DataLoader<string, ImageUse[]>;

  constructor(private readonly provider: ImageProvider) {}

  private get images(): DataLoader<string, ImageRecord | null> {
    return (this.imagesLoader ??= new DataLoader((ids) => this.provider.getImages(ids)));
  }

  private get uses(): DataLoader<string, ImageUse[]> {
    return (this.usesLoader ??= new DataLoader((ids) => this.provider.listImageUses(ids)));
  }

  queryImages(query: ImageQuery): Promise<ImagePage> {
    return this.once('queryImages', query, () => this.provider.queryImages(query));
  }

  countImages(scope: ImageScope, filter: ImageFilter): Promise<number | null> {
    return this.once('countImages', { scope, filter }, () => this.provider.countImages(scope, filter));
  }

  /** An image as this request has seen it (batched with the other look-ups of the same tick). */
  getImage(id: string): Promise<ImageRecord | null> {
    return this.images.load(id);
  }

  /** An image read now, for a mutation that must not act on what the request saw earlier. */
  async readImage(id: string): Promise<ImageRecord | null> {
    const [image] = await this.provider.getImages([id]);
    this.images.clear(id).prime(id, image ?? null);
    return image ?? null;
  }

  /** The uses of an image; all images asked for in one tick share one provider call. */
  imageUses(id: string): Promise<ImageUse[]> {
    return this.uses.load(id);
  }

  /** Sets what this request knows of an image's uses (a subscription's fresh read). */
  primeUses(id: string, uses: ImageUse[]): void {
    this.uses.clear(id).prime(id, uses);
  }

  findByIdempotencyKey(organizationId: string | null, key: string): ReturnType<ImageProvider['findByIdempotencyKey']> {
    return this.provider.findByIdempotencyKey(organizationId, key);
  }

  createImage(image: NewImage): Promise<CreateOutcome> {
    return this.provider.createImage(image);
  }

  deleteImage(id: string): Promise<DeleteOutcome> {
    return this.provider.deleteImage(id);
  }

  /** Changes an image (a lifecycle mutation); what this request knows of it is the changed image afterwards. */
  async updateImage(id: string, patch: ImagePatch): Promise<ImageRecord | null> {
    const image = await this.provider.updateImage(id, patch);
    this.images.clear(id).prime(id, image);
    return image;
  }

  /** Registers a use; what this request had loaded of the image's uses is read again afterwards. */
  async registerImageUse(id: string, use: Omit<ImageUse, 'createdAt'>): Promise<boolean> {
    const found = await this.provider.registerImageUse(id, use);
    this.uses.clear(id);
    return found;
  }

  async releaseImageUse(id: string, release: Parameters<ImageProvider['releaseImageUse']>[1]): Promise<boolean> {
    const found = await this.provider.releaseImageUse(id, release);
    this.uses.clear(id);
    return found;
  }

  private once<T>(operation: string, args: unknown, run: () => Promise<T>): Promise<T> {
    const calls = this.calls.get(operation);
    if (!calls) {
      const result = run();
      this.calls.set(operation, [{ args, result }]);
      return result;
    }
    // The arguments are built by the resolvers in a fixed key order: plain JSON tells equal ones apart.
    const key = JSON.stringify(args);
    for (const call of calls) {
      call.key ??= JSON.stringify(call.args);
      if (call.key === key) return call.result as Promise<T>;
    }
    const result = run();
    calls.push({ args, key, result });
    return result;
  }
}

/** The request's RequestProvider of each region, made when first asked for. */
export function requestProviders(registry: ProviderRegistry): (region: string) => RequestProvider {
  const byRegion = new Map<string, RequestProvider>();
  return (region) => {
    let provider = byRegion.get(region);
    if (!provider) {
      provider = new RequestProvider(registry.get(region));
      byRegion.set(region, provider);
    }
    return provider;
  };
}
