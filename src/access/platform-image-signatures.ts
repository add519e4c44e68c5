import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Principal } from '../auth/principal.js';
import type { RegionConfig } from '../config.js';
import type { ImageRecord } from '../providers/types.js';

export type SignatureStatus = 'VERIFIED' | 'INVALID' | 'UNSIGNED';

const CACHED_VERDICTS = 10_000;

/**
 * The seed's rule for platform images: in a region with `platformImages.publicKey`, a PUBLIC image is
 * shown only when its signature (base64 of a DER ECDSA P-256 signature over the SHA-256 of its provider
 * id) verifies, so that a tampered provider cannot slip an image into every tenant's list. Platform
 * admins see every image, with the status. Verdicts are cached per image and signature.
 */
export class PlatformImageSignatures {
  private readonly keys = new Map<string, KeyObject>();
  private readonly verdicts = new LRUCache<string, boolean>({ max: CACHED_VERDICTS });

  constructor(regions: readonly RegionConfig[]) {
    for (const region of regions) {
      if (region.platformImages) this.keys.set(region.id, createPublicKey(region.platformImages.publicKey));
    }
  }

  /** Whether the region requires signed platform images at all. */
  requiredIn(region: string): boolean {
    return this.keys.has(region);
  }

  /** The image's signature status; null where the rule does not apply (no key, or not a PUBLIC image). */
  status(region: string, image: ImageRecord): SignatureStatus | null {
    const key = this.keys.get(region);
    if (!key || image.visibility !== 'PUBLIC') return null;
    if (!image.signature) return 'UNSIGNED';
    const cacheKey = `${region}\u0000${image.id}\u0000${image.signature}`;
    let verified = this.verdicts.get(cacheKey);
    if (verified === undefined) {
      verified = verifies(key, image.id, image.signature);
      this.verdicts.set(cacheKey, verified);
    }
    return verified ? 'VERIFIED' : 'INVALID';
  }

  /** True when the rule hides the image from this caller. */
  hides(principal: Principal, region: string, image: ImageRecord): boolean {
    if (principal.platformAdmin) return false;
    const status = this.status(region, image);
    return status !== null && status !== 'VERIFIED';
  }
}

function verifies(key: KeyObject, providerId: string, signature: string): boolean {
  try {
    // The data is the id itself: verify hashes it with SHA-256, as `openssl dgst -sha256 -sign` did.
    return verify('sha256', Buffer.from(providerId, 'utf8'), key, Buffer.from(signature, 'base64'));
  } catch {
    return false; // not DER, not base64: as good as no signature
  }
}
