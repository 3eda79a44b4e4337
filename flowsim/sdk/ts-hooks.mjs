// Module hooks that let node load an app's TypeScript with the app's own `typescript`
// package (used by collect.mjs when the app has no `tsx`).
//
// * resolve: a relative import that node cannot find is tried as TypeScript writes it:
//   `./client` as ./client.ts, .tsx, .mts, .js, ./client/index.ts ...; `./client.js` as
//   ./client.ts (the NodeNext convention).
// * load: a .ts, .tsx or .mts file is transpiled, one file at a time, with
//   `ts.transpileModule` (types are erased, not checked) to an ES module with an inline
//   source map, so that an error thrown while loading points at the TypeScript line; a .cts
//   file to CommonJS.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

let ts;

export async function initialize(data) {
  ts = createRequire(import.meta.url)(data.typescript);
}

const TS_URL = /\.(ts|tsx|mts|cts)$/;
const SWAPS = [[/\.js$/, [".ts", ".tsx"]], [/\.jsx$/, [".tsx"]], [/\.mjs$/, [".mts"]], [/\.cjs$/, [".cts"]]];
const SUFFIXES = [".ts", ".tsx", ".mts", ".js", ".mjs", "/index.ts", "/index.tsx", "/index.js"];

function candidates(specifier) {
  const out = [];
  for (const [pattern, exts] of SWAPS) {
    if (pattern.test(specifier)) for (const ext of exts) out.push(specifier.replace(pattern, ext));
  }
  for (const suffix of SUFFIXES) out.push(specifier + suffix);
  return out;
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const relative = specifier.startsWith("./") || specifier.startsWith("../") || specifier.startsWith("/");
    const missing = err?.code === "ERR_MODULE_NOT_FOUND" || err?.code === "ERR_UNSUPPORTED_DIR_IMPORT";
    if (!relative || !missing || !context.parentURL?.startsWith("file:")) throw err;
    for (const candidate of candidates(specifier)) {
      try {
        return await nextResolve(candidate, context);
      } catch {
        // not this one
      }
    }
    throw err;
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !TS_URL.test(url)) return nextLoad(url, context);
  const fileName = fileURLToPath(url);
  const source = await readFile(fileName, "utf8");
  const commonjs = url.endsWith(".cts");
  const { outputText } = ts.transpileModule(source, {
    fileName,
    compilerOptions: {
      module: commonjs ? ts.ModuleKind.CommonJS : ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      jsx: ts.JsxEmit.ReactJSX,
      esModuleInterop: true,
      experimentalDecorators: true,
      inlineSourceMap: true,
      inlineSources: true,
    },
  });
  return { format: commonjs ? "commonjs" : "module", source: outputText, shortCircuit: true };
}
