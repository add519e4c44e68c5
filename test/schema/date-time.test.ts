import { GraphQLScalarType } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';

const DateTime = schema.getType('DateTime') as GraphQLScalarType;

describe('DateTime', () => {
  it('answers the text JSON made of the Date before, as a string', () => {
    const at = new Date('2026-11-26T15:00:00.123Z');
    const serialized = DateTime.serialize(at);
    expect(typeof serialized).toBe('string');
    expect(serialized).toBe(JSON.parse(JSON.stringify(DateTimeResolver.serialize(at))));
    expect(DateTime.serialize('2026-11-26T16:00:00+01:00')).toBe('2026-11-26T15:00:00.000Z');
  });

  it('refuses what graphql-scalars refuses, and reads input as it does', () => {
    expect(() => DateTime.serialize(new Date(Number.NaN))).toThrow(/invalid Date/);
    expect(() => DateTime.serialize('yesterday')).toThrow(/invalid date-time/);
    expect(DateTime.parseValue('2026-11-26T15:00:00Z')).toEqual(new Date('2026-11-26T15:00:00Z'));
    expect(() => DateTime.parseValue('2026-11-26')).toThrow();
  });
});
