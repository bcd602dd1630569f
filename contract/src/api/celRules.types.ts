/**
 * The shape of the generated CEL_RULES (celRules.ts): a kind's schema cut down to what its
 * CEL rules need, so that a reader that never goes through the API server evaluates them as
 * the API server does (runtime/src/policy/celAdmission.ts).
 */

export interface CelRuleText {
  readonly rule: string;
  /** What the API server says when the rule fails; without one it says `failed rule: <rule>`. */
  readonly message?: string;
  /** The field the failure is reported at, relative to the rule's node (`.models`). */
  readonly fieldPath?: string;
}

export interface RuleNode {
  /** `type: integer`: a JSON number here is CEL's int. Otherwise it is a double. */
  readonly int?: 1;
  /** The schema's default, which the API server sets before it runs any rule. */
  readonly default?: unknown;
  readonly fields?: Readonly<Record<string, RuleNode>>;
  readonly items?: RuleNode;
  readonly values?: RuleNode;
  readonly rules?: readonly CelRuleText[];
}
