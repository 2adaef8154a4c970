// A Deno app that imports hakmem from node_modules (and through an npm: specifier), as tests/package.test.ts runs it.
import { alloc, buffer, FLAGS, free, libraryPath, usableSize } from "hakmem";
import { parseSize } from "npm:hakmem";

const flags = Object.keys(FLAGS).length; // needs no library
const p = alloc(100);
const usable = usableSize(p);
free(p);
console.log(JSON.stringify({ flags, size: parseSize("1M"), usable, buffer: buffer(64).length, library: libraryPath() }));
