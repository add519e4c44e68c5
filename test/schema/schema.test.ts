import { existsSync, readFileSync } from 'node:fs';
import {
  buildSchema,
  DangerousChangeType,
  findBreakingChanges,
  findDangerousChanges,
  isAbstractType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  printSchema,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';

const root = new URL('../../', import.meta.url);
const baseContract = readFileSync(new URL('spec/contract.graphql', root), 'utf8');
const additions = readFileSync(new URL('spec/contract-v2.graphql', root), 'utf8');
const shared = (file: string) => new URL(`../shared/spec/${file}`, root);

/**
 * The parts of contract-v2.graphql that have landed, by their section titles. Once a part is here,
 * clients rely on every name in it: the checks below hold the schema to it like to contract.graphql.
 */
const LANDED = ['Hardening', 'OpenStack fidelity', 'Conversion on import', 'Sharing, deprecation, copies, signatures'];

/** contract.graphql with the landed sections of contract-v2.graphql (each starts at a `# ====` title line). */
function landedContract(): string {
  const sections = additions.split(/^# =+ /m).slice(1);
  const landed = sections.filter((section) => LANDED.some((title) => section.startsWith(title)));
  expect(landed).toHaveLength(LANDED.length);
  return [baseContract, ...landed.map((section) => section.slice(section.indexOf('\n') + 1))].join('\n');
}

describe('the GraphQL schema', () => {
  it('matches the checked-in schema.graphql (run `npm run schema` after changing it)', () => {
    expect(readFileSync(new URL('schema.graphql', root), 'utf8')).toBe(`${printSchema(schema)}\n`);
  });

  it.skipIf(!existsSync(shared('contract.graphql')))('keeps spec/ equal to the shared contract and its additions', () => {
    expect(baseContract).toBe(readFileSync(shared('contract.graphql'), 'utf8'));
    expect(additions).toBe(readFileSync(shared('contract-v2.graphql'), 'utf8'));
  });

  it('has no breaking change against the contract and its landed additions', () => {
    expect(findBreakingChanges(buildSchema(landedContract()), schema)).toEqual([]);
  });

  it('makes no dangerous change to them beyond the optional input fields it adds', () => {
    const dangerous = findDangerousChanges(buildSchema(landedContract()), schema).filter(
      (change) => change.type !== DangerousChangeType.OPTIONAL_INPUT_FIELD_ADDED,
    );
    expect(dangerous).toEqual([]);
  });

  it('matches the checked-in possible-types.json for Apollo clients (run `npm run possible-types` after changing it)', () => {
    const published = JSON.parse(readFileSync(new URL('possible-types.json', root), 'utf8')) as {
      possibleTypes: Record<string, string[]>;
    };
    const actual = Object.fromEntries(
      Object.values(schema.getTypeMap())
        .filter(isAbstractType)
        .map((type) => [
          type.name,
          schema
            .getPossibleTypes(type)
            .map((member) => member.name)
            .sort(),
        ]),
    );
    const sorted = (record: Record<string, string[]>) =>
      Object.fromEntries(Object.entries(record).map(([name, types]) => [name, [...types].sort()]));
    expect(sorted(published.possibleTypes)).toEqual(actual);
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
