/**
 * What a model's answer says of itself beyond its usage: its id, the model that answered and
 * why it stopped (the GenAI conventions' `gen_ai.response.*`). Read from the text as it
 * passes, with a few `indexOf`s: the Messages API writes `id` and `model` before the content
 * and `stop_reason` after it, and a member's quoted name cannot occur inside a JSON string
 * (its quotes would be escaped), so the first `"model":` is the message's own.
 */
export interface ResponseMeta {
  id?: string;
  model?: string;
  finishReason?: string;
}

/** Reads a plain answer's id, model and stop reason; members it cannot find stay unset. */
export function responseMetaOfAnswer(text: string): ResponseMeta {
  const meta: ResponseMeta = {};
  readStartMembers(text, meta);
  const stop = stringMember(text, '"stop_reason":', text.lastIndexOf('"stop_reason":'));
  if (stop !== undefined) meta.finishReason = stop;
  return meta;
}

/** The `message` of a `message_start` event (or a whole answer): its id and model. */
export function readStartMembers(text: string, into: ResponseMeta): void {
  const id = stringMember(text, '"id":', text.indexOf('"id":'));
  if (id !== undefined) into.id = id;
  const model = stringMember(text, '"model":', text.indexOf('"model":'));
  if (model !== undefined) into.model = model;
}

/** A `message_delta` event's `delta.stop_reason`. */
export function readStopReason(text: string, into: ResponseMeta): void {
  const stop = stringMember(text, '"stop_reason":', text.indexOf('"stop_reason":'));
  if (stop !== undefined) into.finishReason = stop;
}

/** Longest value kept: ids and model names are short; anything longer is not one of them. */
const MAX_VALUE = 256;

/** The string value of the member whose quoted name and colon start at `at`, if it is one. */
function stringMember(text: string, name: string, at: number): string | undefined {
  if (at < 0) return undefined;
  let i = at + name.length;
  while (text.charCodeAt(i) === 0x20) i++;
  if (text.charCodeAt(i) !== 0x22) return undefined;
  const end = text.indexOf('"', i + 1);
  if (end < 0 || end - i - 1 > MAX_VALUE) return undefined;
  const value = text.slice(i + 1, end);
  // An escape inside would need decoding; the API's ids, model names and stop reasons have none.
  return value.includes('\\') ? undefined : value;
}
