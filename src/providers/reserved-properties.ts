import { type ImageRecord, SOURCE_FORMATS, type SourceFormat } from './types.js';

/**
 * Provenance and ownership are typed fields, and providers also record them as properties under
 * these reserved names so that other tools (the Glance CLI, a SQLite shell) see them too. A user
 * tag may never use the prefix, so it can neither forge nor overwrite them.
 */
export const RESERVED_PREFIX = 'imagegraph.';

export const RESERVED_PROPERTIES = {
  organization: `${RESERVED_PREFIX}organization`,
  visibility: `${RESERVED_PREFIX}visibility`,
  sourceKind: `${RESERVED_PREFIX}source_kind`,
  sourceUri: `${RESERVED_PREFIX}source_uri`,
  createdBy: `${RESERVED_PREFIX}created_by`,
  sourceFormat: `${RESERVED_PREFIX}source_format`,
  idempotencyKey: `${RESERVED_PREFIX}idempotency_key`,
} as const;

export function isReservedName(name: string): boolean {
  return name.toLowerCase().startsWith(RESERVED_PREFIX);
}

/** The reserved properties of an image, as strings (the form every provider can store). */
export function reservedProperties(
  image: Pick<ImageRecord, 'organizationId' | 'visibility' | 'source'>,
  idempotencyKey: string | null,
): Record<string, string> {
  const entries: [string, string | null][] = [
    [RESERVED_PROPERTIES.organization, image.organizationId],
    [RESERVED_PROPERTIES.visibility, image.visibility],
    [RESERVED_PROPERTIES.sourceKind, image.source.kind],
    [RESERVED_PROPERTIES.sourceUri, image.source.uri],
    [RESERVED_PROPERTIES.createdBy, image.source.createdBy],
    [RESERVED_PROPERTIES.sourceFormat, image.source.format],
    [RESERVED_PROPERTIES.idempotencyKey, idempotencyKey],
  ];
  return Object.fromEntries(entries.filter((entry): entry is [string, string] => entry[1] !== null));
}

/** A stored source format, or null for none or a value this version does not know (an operator's edit). */
export function readSourceFormat(value: string | null): SourceFormat | null {
  return SOURCE_FORMATS.find((format) => format === value) ?? null;
}
