/**
 * Opaque global IDs for `Node`: `Image:<region>:<provider id>` in base64url, so one ID says where to
 * look without a lookup table. Clients must treat them as opaque.
 */
export function encodeImageId(region: string, providerId: string): string {
  return Buffer.from(`Image:${region}:${providerId}`).toString('base64url');
}

/** The region and provider id of an image's global ID, or null when it is not one. */
export function decodeImageId(id: string): { region: string; providerId: string } | null {
  const match = /^Image:([a-z0-9-]+):(.+)$/.exec(Buffer.from(id, 'base64url').toString('utf8'));
  return match ? { region: match[1]!, providerId: match[2]! } : null;
}
