/**
 * The schemas' CEL rules, run where no API server runs them: on the objects of `--manifests`.
 * The rules are the CRDs' own (contract/src/api/admissionSchema.ts, generated from crds/schemas/), and
 * they run as admission runs them: the schema's defaults set first, integers as CEL's int, each
 * rule with `self` bound to its field, a field that is not there never checked, and a failure
 * reported at the field, in the rule's message. So a manifest the cluster refuses is refused
 * here too, in the same words, with no hand-written copy of a rule to fall behind.
 *
 * The evaluator is @bufbuild/cel (Buf's CEL for ECMAScript, run against the CEL conformance
 * suite). The rules use standard CEL only (`has`, `all`, `filter`, `matches`, `duration`);
 * the generator's test evaluates every one of them, so a rule that needs one of Kubernetes'
 * own library functions fails `make test`, not a user's manifest.
 */
import { celEnv, isCelError, parse, plan, type CelInput } from '@bufbuild/cel';
import type {
  AdmissionNode,
  CelRuleText,
} from '../../../contract/src/api/admissionSchema.types.ts';

export interface RuleViolation {
  /** `spec.backends[0].region`, as the API server names it. */
  readonly path: string;
  readonly message: string;
}

type Evaluate = (self: CelInput) => unknown;

const env = celEnv();
const planned = new Map<string, Evaluate>();

/** The rule, parsed and planned once per process. */
function evaluator(rule: string): Evaluate {
  let run = planned.get(rule);
  if (run === undefined) {
    const program = plan(env, parse(rule));
    run = (self) => program({ self });
    planned.set(rule, run);
  }
  return run;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The value as CEL sees it: objects as maps, with the schema's defaults set where a field is
 * absent (a default is itself defaulted), and whole numbers of integer fields as int.
 */
function celValue(value: unknown, node: AdmissionNode | undefined): CelInput {
  if (Array.isArray(value)) return value.map((item) => celValue(item, node?.items));
  if (isObject(value)) {
    const map = new Map<string, CelInput>();
    for (const [key, child] of Object.entries(value))
      map.set(key, celValue(child, node?.fields?.[key] ?? node?.values));
    for (const [key, child] of Object.entries(node?.fields ?? {}))
      if (!map.has(key) && child.default !== undefined)
        map.set(key, celValue(structuredClone(child.default), child));
    return map;
  }
  if (typeof value === 'number' && node?.type === 'integer' && Number.isSafeInteger(value))
    return BigInt(value);
  return value as CelInput;
}

function check(value: CelInput, node: AdmissionNode, path: string, found: RuleViolation[]): void {
  for (const rule of node.rules ?? []) {
    if (passes(rule, value)) continue;
    found.push({
      path: `${path}${rule.fieldPath ?? ''}`,
      message: rule.message ?? `failed rule: ${rule.rule}`,
    });
  }
  if (value instanceof Map) {
    for (const [key, child] of Object.entries(node.fields ?? {})) {
      const field = (value as Map<string, CelInput>).get(key);
      if (field !== undefined) check(field, child, path === '' ? key : `${path}.${key}`, found);
    }
    if (node.values !== undefined)
      for (const [key, child] of value as Map<string, CelInput>)
        if (node.fields?.[key] === undefined) check(child, node.values, `${path}.${key}`, found);
  } else if (Array.isArray(value) && node.items !== undefined) {
    const items = node.items;
    value.forEach((item: CelInput, i) => {
      check(item, items, `${path}[${String(i)}]`, found);
    });
  }
}

/**
 * Whether the rule holds. One that cannot be evaluated is passed over: the value is of the
 * wrong type (`usd: 5`), which the API server refuses before any rule runs, and which the
 * runtime's own check names as such; the rule's message ("must be greater than 0") would
 * mislead.
 */
function passes(rule: CelRuleText, self: CelInput): boolean {
  try {
    const result = evaluator(rule.rule)(self);
    return isCelError(result) || result !== false;
  } catch {
    return true;
  }
}

/** Every CEL rule of the kind that `object` breaks, at the field that breaks it. */
export function celViolations(object: unknown, node: AdmissionNode): RuleViolation[] {
  const found: RuleViolation[] = [];
  check(celValue(object, node), node, '', found);
  return found;
}

/** One line for a manifest's broken rules, as `kubectl apply` would report them. */
export function describeViolations(
  kind: string,
  name: string | undefined,
  file: string,
  violations: readonly RuleViolation[],
): string {
  const each = violations.map((v) => `${v.path}: ${v.message}`).join('; ');
  return `${kind} "${name ?? '?'}" in ${file} is invalid: ${each} (kubectl apply refuses it too)`;
}
