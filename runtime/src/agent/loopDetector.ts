/**
 * Notices an agent run going round in circles: the same tool called with the same input
 * `maxRepeats` times, or a cycle of two to four calls (A→B→A→B…) repeated `maxCycleRepeats`
 * times in a row, within one invocation (or one `/mcp` session). Inputs are compared by their
 * canonical JSON (keys sorted), so `{a:1,b:2}` and `{b:2,a:1}` are the same call.
 */
export interface LoopLimits {
  readonly maxRepeats: number;
  readonly maxCycleRepeats: number;
}

export interface LoopFinding {
  /** The tool, or the cycle as `a → b`. */
  readonly tool: string;
  /** Calls in the loop when it was seen. */
  readonly count: number;
}

const LONGEST_CYCLE = 4;

export class LoopDetector {
  readonly #limits: LoopLimits;
  readonly #counts = new Map<string, number>();
  /** The calls so far, as keys; only the tail that a cycle could span is kept. */
  readonly #recent: { readonly key: string; readonly tool: string }[] = [];

  constructor(limits: LoopLimits) {
    this.#limits = limits;
  }

  /** Records a call; says so when it completes a loop. */
  record(tool: string, input: unknown): LoopFinding | undefined {
    const key = `${tool}\u0000${canonical(input)}`;
    const count = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.set(key, count);
    this.#recent.push({ key, tool });
    const keep = LONGEST_CYCLE * this.#limits.maxCycleRepeats;
    if (this.#recent.length > keep) this.#recent.splice(0, this.#recent.length - keep);
    if (count >= this.#limits.maxRepeats) return { tool, count };
    return this.#cycle();
  }

  /** A cycle of 2..4 distinct calls repeated maxCycleRepeats times at the end of the history. */
  #cycle(): LoopFinding | undefined {
    const recent = this.#recent;
    const repeats = this.#limits.maxCycleRepeats;
    for (let length = 2; length <= LONGEST_CYCLE; length++) {
      const span = length * repeats;
      if (recent.length < span) break;
      const tail = recent.slice(recent.length - span);
      const cycle = tail.slice(0, length);
      // A cycle of one call repeated is a repeat, found above; A→A→B… is no cycle of two.
      if (new Set(cycle.map((c) => c.key)).size !== length) continue;
      if (tail.every((c, i) => c.key === cycle[i % length]?.key))
        return { tool: cycle.map((c) => c.tool).join(' → '), count: span };
    }
    return undefined;
  }
}

/** JSON with object keys sorted, so equal inputs compare equal whatever their key order. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return value === undefined ? 'null' : JSON.stringify(value);
}
