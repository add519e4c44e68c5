/**
 * How deeply `{` nest in a GraphQL document's text, strings and comments aside: a bound on selection
 * depth that costs one pass over the text and no recursion, checked before the (recursive) parser sees
 * a document nested thousands deep.
 */
export function braceNesting(source: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < source.length; i++) {
    const char = source[i];
    if (char === '#') {
      while (i < source.length && source[i] !== '\n' && source[i] !== '\r') i++;
    } else if (char === '"') {
      if (source.startsWith('"""', i)) {
        const end = source.indexOf('"""', i + 3);
        i = end < 0 ? source.length : end + 2;
      } else {
        for (i++; i < source.length && source[i] !== '"' && source[i] !== '\n'; i++) if (source[i] === '\\') i++;
      }
    } else if (char === '{') {
      deepest = Math.max(deepest, ++depth);
    } else if (char === '}') {
      depth--;
    }
  }
  return deepest;
}
