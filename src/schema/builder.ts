import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import ErrorsPlugin from '@pothos/plugin-errors';
import ValidationPlugin from '@pothos/plugin-validation';
import type { Context } from '../context.js';
import { invalidInputFromIssues } from './validation-issues.js';

interface SchemaTypesInput {
  Context: Context;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    SafeInt: { Input: number; Output: number };
    ID: { Input: string; Output: string };
  };
  DefaultFieldNullability: false;
}

/** The builder's resolved type parameters, for helpers that take Pothos builders as arguments. */
export type Types = PothosSchemaTypes.ExtendDefaultTypes<SchemaTypesInput>;

export const builder = new SchemaBuilder<SchemaTypesInput>({
  plugins: [ErrorsPlugin, ValidationPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  // Argument validation runs in arg mappers, outside resolvers: this lets a mutation answer its
  // InvalidInputError as a union member. Only error classes a union lists are caught.
  errors: { defaultTypes: [], unsafelyHandleInputErrors: true },
  validation: { validationError: (result) => invalidInputFromIssues(result.issues) },
  // Costs only; the limits are checked once per operation before execution (plugins/use-query-limits.ts).
  // A list's selection counts ten times unless the field says how long it can be (a page: `first`).
  complexity: { defaultComplexity: 1, defaultListMultiplier: 10 },
});

builder.queryType({ description: 'Read access to regions and their images.' });
builder.mutationType({ description: 'Changes: import and delete images, register and release their uses.' });
