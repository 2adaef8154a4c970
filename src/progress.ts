/**
 * The one progress channel of the long commands (`bun run bench`, `bun run tune`): a single line on stderr, redrawn
 * in place on a terminal; elsewhere (a log, a test) a plain line now and then, so that a log stays short. Results
 * never go here: they go to stdout and to the result files.
 *
 * @module
 */

import { formatDuration } from "./format.ts";

/** "about 2m05s left", or "estimating the time left" while there is nothing to estimate from. */
export function formatTimeLeft(seconds: number | null): string {
  return seconds === null ? "estimating the time left" : `about ${formatDuration(seconds)} left`;
}

/** Seconds left at the rate so far: `elapsed` for `done` units, `total` units in all; null before the first. */
export function timeLeftAtRate(elapsedSeconds: number, done: number, total: number): number | null {
  return done <= 0 ? null : (elapsedSeconds / done) * Math.max(0, total - done);
}

/** A progress line on a stream (stderr by default). */
export class ProgressLine {
  private readonly tty: boolean;
  private active = false;
  private lastPlain = 0;

  /** `plainEveryMs`: off a terminal, the least time between two lines of {@link show} (default 5 s). */
  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly plainEveryMs = 5000,
  ) {
    this.tty = stream.isTTY === true;
  }

  /** True when the line is redrawn in place. */
  get interactive(): boolean {
    return this.tty;
  }

  /** Shows the current state: redraws the line on a terminal, otherwise prints it when `plainEveryMs` has passed (or `force`). */
  show(text: string, force = false): void {
    if (this.tty) {
      const width = Math.max(20, (this.stream.columns || 100) - 1);
      this.stream.write(`\r\x1b[K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      this.active = true;
      return;
    }
    const now = Date.now();
    if (!force && now - this.lastPlain < this.plainEveryMs) return;
    this.lastPlain = now;
    this.stream.write(`${text}\n`);
  }

  /** A line that stays (a warning, a finished step), printed above the progress line. */
  note(text: string): void {
    this.clear();
    this.stream.write(`${text}\n`);
  }

  /** Removes the progress line. */
  clear(): void {
    if (this.tty && this.active) this.stream.write("\r\x1b[K");
    this.active = false;
  }
}
