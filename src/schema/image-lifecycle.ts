import type { SignatureStatus } from '../access/platform-image-signatures.js';
import type { RegionImage } from '../region-image.js';
import { builder } from './builder.js';
import { SignatureStatusEnum } from './enums.js';

/** Filled in by image.ts, which defines Image (the two refer to each other). */
export const ImageDeprecationType = builder.objectRef<{ at: Date; replacement: RegionImage | null }>('ImageDeprecation');

export const ImageSignatureType = builder.objectRef<{ status: SignatureStatus }>('ImageSignature').implement({
  description: "A PUBLIC image's signature in a region that requires signed platform images.",
  fields: (t) => ({
    status: t.field({ type: SignatureStatusEnum, description: 'Whether it verifies.', resolve: (s) => s.status }),
  }),
});
