import {
  type DocumentNode,
  type FragmentDefinitionNode,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * Aliased fields in the operation a request runs, fragments expanded where they are spread. Each
 * fragment is counted once and its count reused, so a document that spreads fragments into each other
 * (a "fragment bomb") costs a walk of the document, not of its expansion.
 */
export function countAliases(document: DocumentNode, operationName?: string | null): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  let operation: OperationDefinitionNode | undefined;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    else if (definition.kind === Kind.OPERATION_DEFINITION && (!operationName || definition.name?.value === operationName)) {
      operation ??= definition;
    }
  }
  if (!operation) return 0;
  const perFragment = new Map<string, number>();
  const count = (selectionSet: SelectionSetNode | undefined, visiting: Set<string>): number => {
    let total = 0;
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FIELD) total += (selection.alias ? 1 : 0) + count(selection.selectionSet, visiting);
      else if (selection.kind === Kind.INLINE_FRAGMENT) total += count(selection.selectionSet, visiting);
      else total += fragmentCount(selection.name.value, visiting);
    }
    return total;
  };
  const fragmentCount = (name: string, visiting: Set<string>): number => {
    const known = perFragment.get(name);
    if (known !== undefined) return known;
    const fragment = fragments.get(name);
    // Unknown or cyclic spreads are validation errors, reported by GraphQL's own rules.
    if (!fragment || visiting.has(name)) return 0;
    visiting.add(name);
    const total = count(fragment.selectionSet, visiting);
    visiting.delete(name);
    perFragment.set(name, total);
    return total;
  };
  return count(operation.selectionSet, new Set());
}
