import { describe, expect, it } from '@jest/globals';
import { syntheticToolInput } from './syntheticToolInput.ts';

describe('syntheticToolInput', () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      'nothing for a schema without required fields',
      { type: 'object', properties: { a: { type: 'string' } } },
      {},
    ],
    [
      'a value of each required field’s type',
      {
        type: 'object',
        properties: {
          city: { type: 'string' },
          days: { type: 'integer' },
          ratio: { type: 'number', minimum: 0.5 },
          exact: { type: 'boolean' },
          nothing: { type: 'null' },
          optional: { type: 'string' },
        },
        required: ['city', 'days', 'ratio', 'exact', 'nothing'],
      },
      { city: 'example city', days: 1, ratio: 0.5, exact: true, nothing: null },
    ],
    [
      'const, then the first enum value, then the default',
      {
        type: 'object',
        properties: {
          kind: { const: 'fixed' },
          unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
          lang: { type: 'string', default: 'en' },
        },
        required: ['kind', 'unit', 'lang'],
      },
      { kind: 'fixed', unit: 'celsius', lang: 'en' },
    ],
    [
      'nested objects and arrays of their minimum length',
      {
        type: 'object',
        properties: {
          where: {
            type: 'object',
            properties: { lat: { type: 'number' }, lon: { type: 'number' } },
            required: ['lat', 'lon'],
          },
          tags: { type: 'array', items: { type: 'string' }, minItems: 2 },
          more: { type: 'array', items: { type: 'string' } },
        },
        required: ['where', 'tags', 'more'],
      },
      { where: { lat: 1, lon: 1 }, tags: ['example tags', 'example tags'], more: [] },
    ],
    [
      'the first alternative of anyOf and the first non-null of a type list',
      {
        type: 'object',
        properties: {
          id: { anyOf: [{ type: 'integer' }, { type: 'string' }] },
          note: { type: ['null', 'string'] },
        },
        required: ['id', 'note'],
      },
      { id: 1, note: 'example note' },
    ],
    [
      'a string for what it does not follow, such as $ref',
      {
        type: 'object',
        properties: { item: { $ref: '#/$defs/item' } },
        required: ['item', 'undeclared'],
      },
      { item: 'example item', undeclared: 'example undeclared' },
    ],
  ])('gives %s', (_name, schema, input) => {
    expect(syntheticToolInput(schema)).toEqual(input);
  });
});
