import { z } from 'zod';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

/** `first`: a page of 0 to MAX_PAGE_SIZE images; more is an error, not a silent clamp. */
export const PageSizeSchema = z.number().int().min(0).max(MAX_PAGE_SIZE, `first may be at most ${MAX_PAGE_SIZE}`);

/** `after`: an opaque cursor, bounded before it is decoded. */
export const CursorSchema = z.string().max(1024);
