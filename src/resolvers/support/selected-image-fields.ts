import { type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';
import type { ImageField } from '../../providers/types.js';

/**
 * The record fields each `Image` field reads: through `RegionImage` (src/region-image.ts), or in its
 * resolver in src/schema/image.ts and what that calls.
 * A field not listed here (`progress`, any field added later) makes the selection read every field,
 * so forgetting one costs speed, never data.
 */
const IMAGE_FIELD_READS: Readonly<Record<string, readonly ImageField[]>> = {
  __typename: [],
  id: ['id'],
  providerId: ['id'],
  region: [],
  name: ['name'],
  description: ['description'],
  organization: ['organizationId'],
  visibility: ['visibility'],
  status: ['status'],
  statusReason: ['statusReason'],
  diskFormat: ['diskFormat'],
  sizeBytes: ['sizeBytes'],
  sizeGiB: ['sizeBytes'],
  checksum: ['checksum'],
  architecture: ['architecture'],
  virtualization: ['virtualization'],
  os: ['os'],
  gpu: ['gpu'],
  softwareVersions: ['softwareVersions'],
  tags: ['tags'],
  source: ['source'],
  sourceFormat: ['source'],
  usedBy: ['id', 'visibility', 'organizationId'],
  createdAt: ['createdAt'],
  updatedAt: ['updatedAt'],
  properties: ['properties'],
  minDiskGiB: ['minDiskGiB'],
  minRamMiB: ['minRamMiB'],
  sharedWith: ['organizationId', 'sharedWith'],
  deprecation: ['deprecation'],
  signature: ['id', 'visibility', 'signature'],
};

/** What the `images` resolver reads itself: cursors (either order), visibility and signature checks. */
const LISTING_READS: readonly ImageField[] = ['id', 'name', 'createdAt', 'visibility', 'organizationId', 'signature'];

/**
 * What a selection was found to read, by its first field node: a cached document hands every request
 * the same nodes, so each `images` selection is walked once. The walk ignores @skip and @include, so
 * the answer does not depend on variables.
 */
const readsBySelection = new WeakMap<FieldNode, { nodes: readonly FieldNode[]; fields: readonly ImageField[] | undefined }>();

/**
 * The record fields an `images` selection (an ImageConnection) reads, sorted, for the provider to read
 * no more; undefined when it cannot tell (then every field is read).
 */
export function selectedImageFields(info: GraphQLResolveInfo): readonly ImageField[] | undefined {
  const nodes = info.fieldNodes;
  const known = readsBySelection.get(nodes[0]!);
  // The same node can be merged with others elsewhere (a fragment spread in two places).
  if (known && known.nodes.length === nodes.length && known.nodes.every((node, i) => node === nodes[i])) return known.fields;
  const fields = walkSelection(info);
  readsBySelection.set(nodes[0]!, { nodes, fields });
  return fields;
}

function walkSelection(info: GraphQLResolveInfo): ImageField[] | undefined {
  const fields = new Set<ImageField>(LISTING_READS);
  const fragments = info.fragments;
  const connection = (set: SelectionSetNode | undefined): boolean =>
    set === undefined ||
    set.selections.every((selection) => {
      if (selection.kind === Kind.INLINE_FRAGMENT) return connection(selection.selectionSet);
      if (selection.kind === Kind.FRAGMENT_SPREAD) return spread(fragments[selection.name.value], connection);
      switch (selection.name.value) {
        case 'nodes':
          return image(selection.selectionSet);
        case 'edges':
          return edge(selection.selectionSet);
        case 'pageInfo':
        case 'totalCount':
        case '__typename':
          return true;
        default:
          return false;
      }
    });
  const edge = (set: SelectionSetNode | undefined): boolean =>
    set === undefined ||
    set.selections.every((selection) => {
      if (selection.kind === Kind.INLINE_FRAGMENT) return edge(selection.selectionSet);
      if (selection.kind === Kind.FRAGMENT_SPREAD) return spread(fragments[selection.name.value], edge);
      const name = selection.name.value;
      if (name === 'node') return image(selection.selectionSet);
      return name === 'cursor' || name === '__typename';
    });
  const image = (set: SelectionSetNode | undefined): boolean =>
    set === undefined ||
    set.selections.every((selection) => {
      if (selection.kind === Kind.INLINE_FRAGMENT) return image(selection.selectionSet);
      if (selection.kind === Kind.FRAGMENT_SPREAD) return spread(fragments[selection.name.value], image);
      const reads = IMAGE_FIELD_READS[selection.name.value];
      if (!reads) return false;
      for (const field of reads) fields.add(field);
      return true;
    });
  const spread = (fragment: FragmentDefinitionNode | undefined, walk: (set: SelectionSetNode) => boolean) =>
    fragment !== undefined && walk(fragment.selectionSet);

  if (!info.fieldNodes.every((node) => connection(node.selectionSet))) return undefined;
  return [...fields].sort();
}
