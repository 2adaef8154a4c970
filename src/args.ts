/**
 * Command lines, read the same way by every program of the package (hakmem, hakmem tune, bench/run.ts,
 * bench/native.ts, the bench/*.bench.ts suites): `parseArgs` from `node:util` (it runs in Bun, Deno and Node), with
 * its errors turned into a {@link UsageError} that says what was wrong in a few words. The programs catch it, print
 * the message with their usage text and exit with status 2.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A command line that cannot be read: an unknown option, a missing value, a value out of range. */
export class UsageError extends Error {}

/** Option declarations as `node:util` `parseArgs` takes them. */
export type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

/** The value of one declared option: a string (the last one given) or true, a list of them with `multiple`. */
type ValueOf<S extends OptionSpecs[string]> = S["type"] extends "string"
  ? S["multiple"] extends true
    ? string[]
    : string
  : S["multiple"] extends true
    ? boolean[]
    : boolean;

/** What {@link readCommandLine} returns. */
export interface CommandLine<O extends OptionSpecs> {
  /** Option values by long name; absent when not given. */
  values: { [K in keyof O]?: ValueOf<NonNullable<O[K]>> };
  /** Arguments that are not options; with `command`, the command line that follows the options. */
  positionals: string[];
  /** Each option as given, in order (to tell repeats). */
  given: { name: string; value: string | undefined }[];
}

/**
 * Parses `args`. Options take the form `--name value`, `--name=value` or `-h`; a value may start with `-` (so that
 * `--lru-max-mb -1` reaches the range check that explains it, instead of reading `-1` as an option).
 *
 * @param positionals - `"none"`: a non-option argument is an error; `"any"`: they may come anywhere among the
 *   options; `"command"`: the options end at the first
 *   non-option argument or at `--`, and the rest (a command line with its own options) is returned as is
 * @throws {@link UsageError} `unknown option --x`, `--x needs a value`, `--x takes no value`,
 *   `unexpected argument "y"`
 */
export function readCommandLine<const O extends OptionSpecs>(
  args: readonly string[],
  options: O,
  positionals: "none" | "any" | "command" = "none",
): CommandLine<O> {
  let own = [...args];
  let rest: string[] = [];
  if (positionals === "command") {
    const { tokens } = parseArgs({ args: own, options, strict: false, allowPositionals: true, tokens: true });
    const end = tokens.find((t) => t.kind === "positional" || t.kind === "option-terminator");
    if (end !== undefined) {
      rest = own.slice(end.index + (end.kind === "option-terminator" ? 1 : 0));
      own = own.slice(0, end.index);
    }
  }
  const valued = (arg: string) => {
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    return name !== undefined && options[name]?.type === "string";
  };
  const joined: string[] = [];
  for (let i = 0; i < own.length; i++) {
    const arg = own[i] as string;
    const next = own[i + 1];
    if (valued(arg) && next !== undefined && /^-[^-]/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joined, options, strict: true, allowPositionals: true, tokens: true });
  } catch (e) {
    const message = (e as Error).message;
    const name = /'(-[-\w]*)/.exec(message)?.[1] ?? "";
    const code = (e as { code?: string }).code;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown option ${name}`);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw new UsageError(message.includes("does not take") ? `${name} takes no value` : `${name} needs a value`);
    throw e;
  }
  const stray = parsed.positionals[0];
  if (positionals === "none" && stray !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(stray)}`);
  const given = parsed.tokens.flatMap((t) => (t.kind === "option" ? [{ name: t.name, value: t.value }] : []));
  return { values: parsed.values as CommandLine<O>["values"], positionals: positionals === "command" ? rest : parsed.positionals, given };
}
