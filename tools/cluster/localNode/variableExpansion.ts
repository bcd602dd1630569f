/**
 * Kubernetes' `$(VAR)` expansion, as kubelet applies it to env values, command and args:
 * `$(NAME)` becomes the variable's value when it is defined and stays as written when it
 * is not; `$$` is an escaped `$`; any other `$` is literal.
 */
export type VariableLookup = (name: string) => string | undefined;

export function expandVariables(input: string, lookup: VariableLookup): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const dollar = input.indexOf('$', i);
    if (dollar < 0 || dollar === input.length - 1) {
      out += input.slice(i);
      break;
    }
    out += input.slice(i, dollar);
    const next = input[dollar + 1];
    if (next === '$') {
      out += '$';
      i = dollar + 2;
    } else if (next === '(') {
      const close = input.indexOf(')', dollar + 2);
      if (close < 0) {
        // Unterminated: `$(` is literal and scanning goes on after it.
        out += '$(';
        i = dollar + 2;
        continue;
      }
      const name = input.slice(dollar + 2, close);
      out += lookup(name) ?? `$(${name})`;
      i = close + 1;
    } else {
      out += '$';
      i = dollar + 1;
    }
  }
  return out;
}

/** A lookup over a map of variables. */
export function lookupIn(vars: ReadonlyMap<string, string>): VariableLookup {
  return (name) => vars.get(name);
}
