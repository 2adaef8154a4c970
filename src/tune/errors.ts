/**
 * The error the tuning loop throws for its own failures (configuration values are checked by the config schema,
 * which throws `HakmemError` `BAD_CONFIG`).
 *
 * @module
 */

/**
 * - `BAD_ARGUMENT`: an option that makes no sense (unknown workload, empty list, runs < 1, a value listed twice).
 * - `MISSING_BUILD`: build/runstat, the preload library or a workload's program is not there (run `make`).
 * - `BAD_JOURNAL`: the runs.jsonl being resumed holds a line that is not a run record.
 * - `ABORTED`: the sweep was stopped through its AbortSignal; what finished is in the journal.
 * - `MIXED_HARDWARE`: shards to merge ran on different hardware, and ranking them together was not asked for.
 */
export type TuneErrorCode = "BAD_ARGUMENT" | "MISSING_BUILD" | "BAD_JOURNAL" | "ABORTED" | "MIXED_HARDWARE";

/** An error of the tuning loop with a stable code. */
export class TuneError extends Error {
  readonly code: TuneErrorCode;

  constructor(code: TuneErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TuneError";
    this.code = code;
  }
}
