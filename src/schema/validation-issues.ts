import { InvalidInputError } from '../errors.js';

/** The part of a standard-schema issue (zod's, via the validation plugin) that the error needs. */
interface SchemaIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** Turns validation issues into the domain error, with each path as strings. */
export function invalidInputFromIssues(issues: readonly SchemaIssue[]): InvalidInputError {
  return new InvalidInputError(
    issues.map((issue) => ({
      path: (issue.path ?? []).map((segment) => String(typeof segment === 'object' ? segment.key : segment)),
      message: issue.message,
    })),
  );
}
