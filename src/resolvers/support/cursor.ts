import { z } from 'zod';
import { InvalidInputError } from '../../errors.js';
import type { ImageOrder, PageKey } from '../../providers/types.js';

/**
 * Cursors are opaque to clients: base64url JSON of the order they belong to and the sort key of an
 * image. A keyset position, not an offset, so it stays valid when images are added before it.
 */
const CursorPayloadSchema = z.strictObject({
  f: z.enum(['NAME', 'CREATED_AT']),
  d: z.enum(['ASC', 'DESC']),
  v: z.string(),
  i: z.string(),
});

export function encodeCursor(order: ImageOrder, key: PageKey): string {
  const payload: z.infer<typeof CursorPayloadSchema> = { f: order.field, d: order.direction, v: key.value, i: key.id };
  return Buffer.from(JSON.stringify(payload)).toString('base64url');
}

/** The page key of a cursor made for this order; INVALID_INPUT for anything else. */
export function decodeCursor(cursor: string, order: ImageOrder): PageKey {
  let payload: z.infer<typeof CursorPayloadSchema>;
  try {
    payload = CursorPayloadSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new InvalidInputError([{ path: ['after'], message: 'not a cursor this API issued' }]);
  }
  if (payload.f !== order.field || payload.d !== order.direction) {
    throw new InvalidInputError([{ path: ['after'], message: 'the cursor belongs to a different orderBy' }]);
  }
  return { value: payload.v, id: payload.i };
}
