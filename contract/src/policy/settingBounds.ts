/**
 * What the document's check holds one setting to, in the document's units: the generated
 * DOCUMENT_BOUNDS (./generated/documentBounds.ts) says it for every setting, from the schema.
 */
export type SettingBounds =
  | {
      readonly type: 'integer';
      readonly minimum?: number;
      readonly maximum?: number;
      readonly optional?: true;
    }
  | {
      readonly type: 'number';
      readonly minimum?: number;
      readonly maximum?: number;
      /** The minimum itself is refused. */
      readonly exclusiveMinimum?: true;
      readonly optional?: true;
    }
  | { readonly type: 'boolean'; readonly optional?: true }
  | {
      readonly type: 'string';
      readonly minLength?: number;
      readonly maxLength?: number;
      /** The schema's pattern, which the whole value must match. */
      readonly pattern?: string;
      readonly optional?: true;
    }
  | { readonly type: 'enum'; readonly values: readonly string[]; readonly optional?: true }
  | {
      readonly type: 'enumList';
      readonly values: readonly string[];
      readonly minItems?: number;
      readonly maxItems?: number;
      readonly optional?: true;
    };
