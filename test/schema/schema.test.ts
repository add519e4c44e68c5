import { existsSync, readFileSync } from 'node:fs';
import {
  buildSchema,
  DangerousChangeType,
  findBreakingChanges,
  findDangerousChanges,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  printSchema,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';

const root = new URL('../../', import.meta.url);
const contractText = readFileSync(new URL('spec/contract.graphql', root), 'utf8');
const sharedContract = new URL('../shared/spec/contract.graphql', root);


describe('the GraphQL schema', () => {
  it('matches the checked-in schema.graphql (run `npm run schema` after changing it)', () => {
    expect(readFileSync(new URL('schema.graphql', root), 'utf8')).toBe(`${printSchema(schema)}\n`);
  });

  it.skipIf(!existsSync(sharedContract))('keeps spec/contract.graphql equal to the shared contract', () => {
    expect(contractText).toBe(readFileSync(sharedContract, 'utf8'));
  });

  it('has no breaking change against the contract', () => {
    expect(findBreakingChanges(buildSchema(contractText), schema)).toEqual([]);
  });

  it('makes no dangerous change to the contract beyond the optional input fields it adds', () => {
    const dangerous = findDangerousChanges(buildSchema(contractText), schema).filter(
      (change) => change.type !== DangerousChangeType.OPTIONAL_INPUT_FIELD_ADDED,
    );
    expect(dangerous).toEqual([]);
  });

  it('describes every type, field, argument and enum value', () => {
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) {
            if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (isEnumType(type)) {
        for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
