/**
 * How the demo talks to its reader. On a terminal, the status of the running phase is one
 * line redrawn in place; elsewhere (CI, a pipe, a log file) it becomes a plain line every
 * few seconds, so the output reads top to bottom without control characters.
 */
export class Display {
  readonly #out: NodeJS.WriteStream;
  readonly #live: boolean;
  readonly #plainEveryMs: number;
  #statusShown = false;
  #lastPlain = 0;

  constructor(out: NodeJS.WriteStream, options: { live: boolean; plainEveryMs?: number }) {
    this.#out = out;
    this.#live = options.live;
    this.#plainEveryMs = options.plainEveryMs ?? 5_000;
  }

  get live(): boolean {
    return this.#live;
  }

  /** A line that stays. */
  line(text = ''): void {
    this.#clearStatus();
    this.#out.write(`${text}\n`);
  }

  /** Lines that stay, each indented (kubectl output). */
  block(text: string, indent = '    '): void {
    for (const line of text.trimEnd().split('\n')) this.line(`${indent}${line}`);
  }

  /** The running phase's status: redrawn on a terminal, printed now and then elsewhere. */
  status(text: string, options: { force?: boolean } = {}): void {
    if (this.#live) {
      const width = Math.max(20, (this.#out.columns || 120) - 1);
      this.#out.write(`\r\x1b[2K${text.length > width ? text.slice(0, width) : text}`);
      this.#statusShown = true;
      return;
    }
    const now = Date.now();
    if (options.force !== true && now - this.#lastPlain < this.#plainEveryMs) return;
    this.#lastPlain = now;
    this.#out.write(`${text}\n`);
  }

  /** Ends the status line (on a terminal, leaves its last state on screen). */
  settle(): void {
    if (this.#live && this.#statusShown) this.#out.write('\n');
    this.#statusShown = false;
    // Off a terminal, the next status waits its turn: a line at 0.0s says nothing.
    this.#lastPlain = Date.now();
  }

  #clearStatus(): void {
    if (this.#live && this.#statusShown) {
      this.#out.write('\r\x1b[2K');
      this.#statusShown = false;
    }
  }
}
