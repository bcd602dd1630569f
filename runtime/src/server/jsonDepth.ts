/**
 * How deep a JSON text nests, checked before it is parsed. JSON.parse takes any depth, but
 * whatever walks the result recursively does not: JSON.stringify, the canonical form a durable
 * run matches requests by, the loop breaker's. A body nested thousands deep overflowed the
 * stack there and answered 500 (or 503 from the runs endpoint). It is refused at the door with
 * a 400 instead; the Messages API's own bodies nest a dozen deep at most.
 */

/** The deepest a request body may nest (objects and arrays). */
export const MAX_JSON_DEPTH = 256;

const OPEN_OBJECT = 123; // {
const OPEN_ARRAY = 91; // [
const CLOSE_OBJECT = 125; // }
const CLOSE_ARRAY = 93; // ]
const QUOTE = 34; // "
const BACKSLASH = 92; // \

/**
 * Whether `text` nests deeper than `max`. Cheap for the common body: when it holds no more
 * than `max` opening brackets at all (counted by native search), it cannot; only a body with
 * more is walked character by character, strings skipped.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let opens = 0;
  for (const bracket of ['{', '[']) {
    for (
      let at = text.indexOf(bracket);
      at !== -1 && opens <= max;
      at = text.indexOf(bracket, at + 1)
    )
      opens++;
  }
  if (opens <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > max) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
  }
  return false;
}
