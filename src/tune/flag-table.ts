/**
 * The flag schema a sweep validates against: the configuration module's {@link ConfigSchema} over the C library's own
 * flag table (`hak_config_describe()`: ranges, allowed values, defaults, descriptions). The table is read from the
 * library the first time a function needs it, never on import, and straight through the library layer
 * (src/bun-library.ts), not through an entry point: `hakmem/tune` does not depend on the bindings.
 *
 * @module
 */
import { FFIType } from "bun:ffi";
import { openLibrary } from "../bun-library.ts";
import { ConfigSchema, matchDescribe, parseDescribe } from "../config.ts";

let schema: ConfigSchema | undefined;

/** The schema of the C library's flag table (authoritative ranges and defaults); opens the library on first call. */
export function librarySchema(): ConfigSchema {
  if (schema === undefined) {
    const { library } = openLibrary({ hak_config_describe: { args: [], returns: FFIType.cstring } });
    schema = new ConfigSchema(matchDescribe(parseDescribe(String(library.symbols.hak_config_describe()))).specs);
  }
  return schema;
}
