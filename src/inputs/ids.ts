import { z } from 'zod';

/** An image's global ID as clients pass it back: bounded, so a refusal never has to quote a megabyte. */
export const ImageIdSchema = z.string().max(256, 'is not an image ID this API issued');

/** A region ID as given: region slugs are at most 63 characters. */
export const RegionIdArgSchema = z.string().max(63, 'is not a region ID (at most 63 characters)');

/** An organization ID as given. */
export const OrganizationIdSchema = z.string().min(1).max(255);
