/**
 * One step of a run's journal as Redis holds it: a clear header the claim script compares
 * (kind, state, the request's match hash) and the step's answer sealed behind it. A step is
 * written `started` (its answer empty) when it is claimed and `done` with its answer once it
 * completed; a `started` step found on replay is a call whose outcome is unknown.
 *
 *   m|t  s|d  <64 hex: HMAC of the request>  <base64: iv ‖ tag ‖ ciphertext>
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Usage } from '../provider/usage.ts';
import type { JournalCipher } from './journalCipher.ts';

export type StepKind = 'model' | 'tool';

/** A model call's whole answer: the JSON, or every byte of the event stream as it went out. */
export interface ModelAnswer {
  readonly kind: 'model';
  readonly status: number;
  readonly stream: boolean;
  /** The JSON body, or the stream's events. */
  readonly body: string;
  /** The model and backend that served it, and what it used (for what replay saves). */
  readonly model: string;
  readonly backend: string;
  readonly usage: Usage;
}

/** A tool call's result, as the caller received it. */
export interface ToolAnswer {
  readonly kind: 'tool';
  readonly result: CallToolResult;
}

export type StepAnswer = ModelAnswer | ToolAnswer;

const KIND_CODE: Readonly<Record<StepKind, string>> = { model: 'm', tool: 't' };
export const HEADER_LENGTH = 66;

/** The header of a step: what the claim script compares and rewrites. */
export function stepHeader(kind: StepKind, state: 'started' | 'done', match: string): string {
  return `${KIND_CODE[kind]}${state === 'started' ? 's' : 'd'}${match}`;
}

export interface DecodedStep {
  readonly kind: StepKind;
  readonly done: boolean;
  readonly match: string;
  /** The answer of a done step. */
  readonly answer?: StepAnswer;
}

/** Seals `answer` under `run` (the run's key), bound to the step's header. */
export function encodeDone(
  cipher: JournalCipher,
  run: string,
  match: string,
  answer: StepAnswer,
): string {
  const header = stepHeader(answer.kind, 'done', match);
  const sealed = cipher.seal(Buffer.from(JSON.stringify(answer)), `${run}|${header}`);
  return `${header}${sealed.toString('base64')}`;
}

/** Reads a journal entry back; throws when it was not sealed for this run and header. */
export function decodeStep(cipher: JournalCipher, run: string, entry: string): DecodedStep {
  const header = entry.slice(0, HEADER_LENGTH);
  const kind: StepKind = header[0] === 't' ? 'tool' : 'model';
  const done = header[1] === 'd';
  const match = header.slice(2);
  if (!done) return { kind, done, match };
  const plain = cipher.open(Buffer.from(entry.slice(HEADER_LENGTH), 'base64'), `${run}|${header}`);
  const answer = JSON.parse(plain.toString('utf8')) as StepAnswer;
  if (answer.kind !== kind) throw new Error(`journal entry of kind ${kind} holds a ${answer.kind}`);
  return { kind, done, match, answer };
}
