/**
 * A first-line prompt-injection screen over the user's text: a small set of phrasings that
 * try to override the system prompt or exfiltrate it. It is a tripwire for the audit log and
 * the incident metric, not a proof of safety; `Block` refuses the request, `Flag` lets it
 * through and records it.
 */
import type { InjectionMode } from '../../../contract/src/api/vocabulary.ts';

export type { InjectionMode };

export interface InjectionFinding {
  readonly kind: string;
}

const PATTERNS: readonly { readonly kind: string; readonly pattern: RegExp }[] = [
  {
    kind: 'override-instructions',
    pattern:
      /\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|all|system)\b.{0,20}\b(instructions?|prompts?|rules|directives)\b/i,
  },
  {
    kind: 'reveal-system-prompt',
    pattern:
      /\b(reveal|print|show|repeat|output|leak)\b.{0,30}\b(system prompt|hidden prompt|initial instructions|your instructions)\b/i,
  },
  {
    kind: 'role-hijack',
    pattern:
      /\b(you are now|act as|pretend to be)\b.{0,30}\b(dan|jailbroken|unrestricted|developer mode)\b/i,
  },
  { kind: 'fake-system-turn', pattern: /(^|\n)\s*(system|###\s*system)\s*:/i },
];

/** Text the caller wrote: user turns (strings and text blocks) and tool results. */
export function callerText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  const parts: string[] = [];
  for (const m of messages as unknown[]) {
    const message = m as { role?: unknown; content?: unknown };
    if (message.role !== 'user') continue;
    if (typeof message.content === 'string') parts.push(message.content);
    else if (Array.isArray(message.content)) {
      for (const block of message.content as unknown[]) {
        const b = block as { type?: unknown; text?: unknown };
        if (b.type === 'text' && typeof b.text === 'string') parts.push(b.text);
      }
    }
  }
  return parts.join('\n');
}

export function scanForInjection(text: string): InjectionFinding | undefined {
  if (text === '') return undefined;
  // Bounded work per request whatever the prompt's size.
  const sample = text.length > 64_000 ? text.slice(0, 32_000) + text.slice(-32_000) : text;
  for (const { kind, pattern } of PATTERNS) if (pattern.test(sample)) return { kind };
  return undefined;
}
