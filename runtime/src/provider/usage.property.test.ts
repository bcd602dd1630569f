/**
 * The usage read from a text (`usageOfAnswer`, and the stream tap's `message_start` and
 * `message_delta` lines) against JSON.parse of the whole text: for generated answers and
 * events — members in any order, repeated, spaced any way JSON allows; usage objects with
 * extra members, nested objects, nulls, strings, fractions, negatives and numbers past 2^53,
 * or null themselves; a `usage` key nested elsewhere or a member after `usage` — the usage
 * read is what JSON.parse's object gives. `lastMemberObject` only finds a candidate from the text's end and
 * leaves the checking to JSON.parse: on any text, cut short ones too, what parses of it is what
 * parsed of the object the brace-by-brace walk it replaced found (kept here as the reference).
 * A cut text is read as loosely as before: a complete `usage` object followed by the right
 * closing braces is read even when the text's beginning no longer parses (the exchange reads
 * a plain answer whole, and a stream's lines end).
 *
 * Fixed seed and a bounded number of runs; BREAKWATER_PROPERTY_RUNS=N runs more. A failure
 * prints its seed and the shrunk case (fast-check).
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SseUsageTap } from './sseUsage.ts';
import { lastMemberObject, mergeUsage, usageOf, usageOfAnswer, type Usage } from './usage.ts';

const SEED = 63_0530;
const RUNS = Number(process.env.BREAKWATER_PROPERTY_RUNS ?? '300');

/** JSON's own whitespace, as a member may be spaced. */
const space = fc.constantFrom('', '', '', ' ', '\n', '\r\n', '\t', '  ');
/** An event's data is one line: no line breaks. */
const lineSpace = fc.constantFrom('', '', '', ' ', '\t', '  ');

/** The text of a JSON object with these members, in this order, spaced by `gaps`. */
function objectText(members: readonly (readonly [string, string])[], gaps: readonly string[]) {
  const gap = (n: number) => gaps[n % gaps.length] ?? '';
  const body = members.map(
    ([key, value], n) => `${gap(n)}${JSON.stringify(key)}${gap(n + 1)}:${gap(n + 2)}${value}`,
  );
  return `{${body.join(`${gap(3)},`)}${gap(4)}}`;
}

/** A member's value where a count is read: a count, or anything a provider might send instead. */
const countText = fc.oneof(
  { weight: 6, arbitrary: fc.nat({ max: 2_000_000 }).map(String) },
  fc.constantFrom('0', 'null', '"12"', '1.5', '1e3', '2.0', '-4', '-0', 'true', '{}', '[]'),
  fc.constantFrom('9007199254740993', '123456789012345678901234567890', '900719925474099'),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
);

const members = (
  named: fc.Arbitrary<readonly [string, string]>,
  max: number,
): fc.Arbitrary<(readonly [string, string])[]> =>
  fc.array(named, { maxLength: max }).map((m) => m.map((x) => x));

/** An inner object (`cache_creation`, `server_tool_use`) or something else where one goes. */
const innerText = (countKey: string) =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .tuple(
          members(
            fc.tuple(fc.constantFrom(countKey, 'other', 'ephemeral_5m_input_tokens'), countText),
            4,
          ),
          fc.array(space, { minLength: 1, maxLength: 5 }),
        )
        .map(([m, g]) => objectText(m, g)),
    },
    countText,
  );

const usageKey = fc.constantFrom(
  'input_tokens',
  'output_tokens',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
  'service_tier',
  'usage',
);

/** A usage object's text: the counts usage.ts reads, in any order, repeated, among others. */
const usageText = fc
  .tuple(
    members(
      fc.oneof(
        { weight: 5, arbitrary: fc.tuple(usageKey, countText) },
        fc.tuple(fc.constant('cache_creation'), innerText('ephemeral_1h_input_tokens')),
        fc.tuple(fc.constant('server_tool_use'), innerText('web_search_requests')),
        fc.tuple(
          fc.string({ maxLength: 6 }),
          fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
        ),
      ),
      9,
    ),
    fc.array(space, { minLength: 1, maxLength: 5 }),
  )
  .map(([m, g]) => objectText(m, g));

/** Some other member of an answer or event, one that may hold a `usage` key of its own. */
const otherMember = fc.oneof(
  fc.tuple(
    fc.constantFrom('id', 'model', 'stop_reason'),
    fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s)),
  ),
  fc.tuple(
    fc.constantFrom('content', 'delta'),
    usageText.map((u) => `[{"type":"tool_use","input":{"usage":${u}}}]`),
  ),
  fc.tuple(
    fc.constant('delta'),
    usageText.map((u) => `{"stop_reason":"end_turn","usage":${u}}`),
  ),
  fc.tuple(
    fc.string({ maxLength: 6 }),
    fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
  ),
);

/**
 * An object's text with a `usage` member (mostly last, as the API sends it; sometimes
 * elsewhere, repeated or absent) among `others`; with `cuts`, often cut short.
 */
const withUsage = (
  leading: readonly (readonly [string, string])[],
  spacing: fc.Arbitrary<string> = space,
  cuts = false,
) =>
  fc
    .tuple(
      members(otherMember, 4),
      fc.oneof({ weight: 9, arbitrary: usageText }, fc.constant('null')),
      fc.constantFrom('last', 'last', 'last', 'first', 'twice', 'none'),
      fc.array(spacing, { minLength: 1, maxLength: 5 }),
      cuts ? fc.option(fc.nat(), { freq: 3 }) : fc.constant(null),
    )
    .map(([others, usage, where, gaps, cut]) => {
      const u = ['usage', usage] as const;
      const body =
        where === 'last'
          ? [...others, u]
          : where === 'first'
            ? [u, ...others]
            : where === 'twice'
              ? [u, ...others, ['usage', '{"input_tokens":1,"output_tokens":2}'] as const]
              : others;
      const text = objectText([...leading, ...body], gaps);
      return cut === null ? text : text.slice(0, cut % (text.length + 1));
    });

/** What JSON.parse of the whole text gives: the answer's usage, or zeros. */
function parsedAnswerUsage(text: string): Usage {
  try {
    return usageOf(JSON.parse(text) as unknown);
  } catch {
    return usageOf(undefined);
  }
}

describe('the usage read from the text agrees with JSON.parse of it', () => {
  it('finds the same object as the brace-by-brace walk, cut texts too', () => {
    fc.assert(
      fc.property(
        withUsage([['type', '"message"']], space, true),
        fc.constantFrom(1, 2),
        (text, depth) => {
          const message = `{"type":"message_start","message":${text}}`;
          expect(parsed(lastMemberObject(text, '"usage"', depth))).toEqual(
            parsed(walkedMemberObject(text, '"usage"', depth)),
          );
          expect(parsed(lastMemberObject(message, '"usage"', depth))).toEqual(
            parsed(walkedMemberObject(message, '"usage"', depth)),
          );
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('for a plain answer', () => {
    fc.assert(
      fc.property(withUsage([['type', '"message"']]), (text) => {
        expect(usageOfAnswer(text)).toEqual(parsedAnswerUsage(text));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  /** A `message_start` event's data: the usage in its message, the API's order or another. */
  const startData = fc
    .tuple(withUsage([['id', '"msg_1"']], lineSpace), fc.boolean(), lineSpace)
    .map(([message, typeFirst, gap]) =>
      typeFirst
        ? `{"type":"message_start",${gap}"message":${message}}`
        : `{"message":${message},${gap}"type":"message_start"}`,
    );
  const deltaData = withUsage([['type', '"message_delta"']], lineSpace);

  it('for a stream’s message_start and message_delta', () => {
    fc.assert(
      fc.property(startData.map(oneLine), deltaData.map(oneLine), (start, delta) => {
        const tap = new SseUsageTap();
        const encoder = new TextEncoder();
        tap.push(encoder.encode(`event: message_start\ndata: ${start}\n\n`));
        tap.push(encoder.encode(`event: message_delta\ndata: ${delta}\n\n`));
        const expected: Usage = { input_tokens: 0, output_tokens: 0 };
        const startEvent = parsed(start) as StartEvent | undefined;
        if (startEvent?.type === 'message_start') mergeUsage(expected, startEvent.message?.usage);
        const deltaEvent = parsed(delta) as DeltaEvent | undefined;
        if (deltaEvent?.type === 'message_delta') mergeUsage(expected, deltaEvent.usage);
        expect(tap.usage).toEqual(expected);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

interface StartEvent {
  type?: unknown;
  message?: { usage?: Partial<Usage> };
}

interface DeltaEvent {
  type?: unknown;
  usage?: Partial<Usage>;
}

/** Line breaks between a JSON text's tokens as spaces (a string's own are escaped). */
function oneLine(text: string): string {
  return text.replace(/\r?\n/g, ' ');
}

function parsed(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * What `lastMemberObject` found before (d176bdbe..c63dbe65): the `"key"`'s object walked brace
 * by brace, strings and escapes skipped, kept only when `depth` closing braces end the text.
 */
function walkedMemberObject(text: string, quotedKey: string, depth: number): string | undefined {
  const at = text.lastIndexOf(quotedKey);
  if (at < 0) return undefined;
  let i = at + quotedKey.length;
  while (isSpace(text.charCodeAt(i))) i++;
  if (text[i] !== ':') return undefined;
  i++;
  while (isSpace(text.charCodeAt(i))) i++;
  if (text[i] !== '{') return undefined;
  const open = i;
  let nesting = 0;
  let inString = false;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) nesting++;
    else if (c === 0x7d && --nesting === 0) break;
  }
  if (nesting !== 0) return undefined;
  let j = i + 1;
  for (let closers = 0; closers < depth; closers++) {
    while (isSpace(text.charCodeAt(j))) j++;
    if (text[j] !== '}') return undefined;
    j++;
  }
  while (isSpace(text.charCodeAt(j))) j++;
  return j === text.length ? text.slice(open, i + 1) : undefined;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
