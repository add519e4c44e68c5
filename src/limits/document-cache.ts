import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/**
 * The caches yoga keeps of parsed documents and of parse errors, keyed by the document's text and
 * bounded by bytes rather than entries: a parsed document takes some multiple of its text, so a few
 * hundred distinct large documents can no longer fill the heap. Validation results hang off the
 * cached documents (a WeakMap in yoga), so they go when their document goes.
 */
export function documentCaches(maxBytes: number) {
  // A parsed AST takes roughly ten times its source text; the source itself is the key.
  const sizeOf = (_value: unknown, key: string) => Math.max(1, key.length * 11);
  const options = { maxSize: Math.max(1, maxBytes), sizeCalculation: sizeOf, maxEntrySize: Math.max(1, maxBytes / 8) };
  return {
    documentCache: new LRUCache<string, DocumentNode>(options),
    errorCache: new LRUCache<string, Error>(options),
  };
}
