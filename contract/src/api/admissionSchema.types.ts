/**
 * The shape of the generated ADMISSION_SCHEMA (admissionSchema.ts): each kind's schema as the
 * API server validates a manifest with it (metadata and spec; status is the operator's), cut
 * down to the keywords it checks, so that a reader that never goes through the API server —
 * the runtime's `--manifests` — refuses what admission refuses, in its words
 * (runtime/src/policy/schemaChecks.ts, runtime/src/policy/celAdmission.ts).
 */

export interface CelRuleText {
  readonly rule: string;
  /** What the API server says when the rule fails; without one it says `failed rule: <rule>`. */
  readonly message?: string;
  /** The field the failure is reported at, relative to the rule's node (`.models`). */
  readonly fieldPath?: string;
}

export type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

export interface AdmissionNode {
  readonly type?: SchemaType;
  /** `x-kubernetes-int-or-string`: a whole number or a string. */
  readonly intOrString?: true;
  /** `date-time` is checked (RFC 3339); the numeric formats are not. */
  readonly format?: string;
  readonly enum?: readonly unknown[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: boolean;
  readonly exclusiveMaximum?: boolean;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minProperties?: number;
  readonly maxProperties?: number;
  readonly required?: readonly string[];
  /** `x-kubernetes-list-type`: `set` items are unique, `map` items unique by listMapKeys. */
  readonly listType?: 'atomic' | 'set' | 'map';
  readonly listMapKeys?: readonly string[];
  /** The schema's default, which the API server sets before it validates. */
  readonly default?: unknown;
  readonly fields?: Readonly<Record<string, AdmissionNode>>;
  readonly items?: AdmissionNode;
  /** A map's values (`additionalProperties`). */
  readonly values?: AdmissionNode;
  readonly rules?: readonly CelRuleText[];
}
