// flowsim's collector: loads modules of a user's Inngest app with the `inngest` package the
// app has, and writes what that SDK would register for each function it finds.
//
//   node collect.mjs RESULT.json MODULE [MODULE ...]
//
// Everything is resolved from the first module's folder, as that module's own imports are:
// the `inngest` package (its version and folder are reported), and for TypeScript `tsx`
// (preferred: it reads tsconfig.json) or `typescript` (transpiled by ts-hooks.mjs beside
// this file). For each module it reports the functions found in its exports (a function, a
// client's functions, or the functions in an exported array or object) and those passed to
// `serve()` while it loads (a framework's route file exports only the handler), with the
// SDK's own registration output, `fn.getConfig(...)` called as `serve()` calls it, and the
// names of the options each function was created with. The result goes to RESULT.json,
// never to stdout, which the app's own code may print to. Problems are reported as
// {"error": {"kind": ..., ...}} for flowsim to word; the process always exits, even when the
// app left a server or a timer running.
import * as nodeModule from "node:module";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, resolve, extname } from "node:path";
import { pathToFileURL } from "node:url";

const TYPESCRIPT = new Set([".ts", ".tsx", ".mts", ".cts"]);
const FUNCTION_TAG = "Inngest.Function";
const CLIENT_TAG = "Inngest.App";

const [resultPath, ...modules] = process.argv.slice(2);

function finish(result) {
  writeFileSync(resultPath, JSON.stringify(result));
  process.exit(0);
}

function fail(kind, details = {}) {
  finish({ error: { kind, ...details } });
}

function describe(err) {
  if (err instanceof Error) {
    const code = typeof err.code === "string" ? ` [${err.code}]` : "";      // as node prints it
    return { message: `${err.name}${code}: ${err.message}`, stack: String(err.stack || "") };
  }
  return { message: String(err), stack: "" };
}

/** The folder of the package that holds `entry` (the nearest package.json named `name`). */
function packageRoot(entry, name) {
  let dir = dirname(entry);
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        const pkg = JSON.parse(readFileSync(manifest, "utf8"));
        if (pkg.name === name) return { dir, version: String(pkg.version || "") };
      } catch {
        // a damaged package.json on the way up: keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

function resolveFrom(require, specifier) {
  try {
    return require.resolve(specifier);
  } catch {
    return null;
  }
}

const first = resolve(modules[0]);
const require = nodeModule.createRequire(first);

const sdkEntry = resolveFrom(require, "inngest");
const sdk = sdkEntry && packageRoot(sdkEntry, "inngest");
if (!sdk) fail("no-sdk", { from: dirname(first) });
const major = parseInt(sdk.version.split(".")[0], 10);
if (!(major >= 3)) fail("old-sdk", { version: sdk.version, dir: sdk.dir });

let transpiler = null;
if (modules.some((m) => TYPESCRIPT.has(extname(m)))) {
  const tsx = resolveFrom(require, "tsx");     // its loader, what `node --import tsx` runs
  const ts = resolveFrom(require, "typescript");
  try {
    if (tsx) {
      await import(pathToFileURL(tsx).href);
      transpiler = { name: "tsx", version: packageRoot(tsx, "tsx")?.version ?? "" };
    } else if (ts) {
      if (typeof nodeModule.register !== "function") fail("old-node", { node: process.versions.node });
      nodeModule.register(new URL("./ts-hooks.mjs", import.meta.url), { data: { typescript: ts } });
      transpiler = { name: "typescript", version: packageRoot(ts, "typescript")?.version ?? "" };
    } else {
      fail("no-transpiler", { from: dirname(first) });
    }
  } catch (err) {
    fail("transpiler", { name: tsx ? "tsx" : "typescript", ...describe(err) });
  }
}

// Functions handed to serve() while a module loads: every SDK from v3.0 to v4 builds each
// served function's registration (getConfig) in the InngestCommHandler constructor, so the
// SDK's InngestFunction class (its ES module and CommonJS copies, either of which the app may
// load) records the functions whose getConfig is called while the app's modules load. A
// layout without these files only means that served functions are not found this way.
const served = [];
let loading = false;
for (const file of ["components/InngestFunction.js", "components/InngestFunction.cjs"]) {
  const path = join(sdk.dir, file);
  if (!existsSync(path)) continue;
  try {
    const mod = file.endsWith(".cjs") ? require(path) : await import(pathToFileURL(path).href);
    const proto = mod.InngestFunction?.prototype;
    const original = proto?.getConfig;
    if (typeof original !== "function" || original.flowsimWrapped) continue;
    const wrapped = function (...args) {
      if (loading && !served.includes(this)) served.push(this);
      return original.apply(this, args);
    };
    Object.defineProperty(wrapped, "length", { value: original.length });
    wrapped.flowsimWrapped = true;
    proto.getConfig = wrapped;
  } catch {
    // not loadable on its own: served functions are then found only through the exports
  }
}

/** "function", "client" or null: by the SDK's own tag (v3.2x and later) or, before it, by shape. */
function kind(value) {
  if (value == null || (typeof value !== "object" && typeof value !== "function")) return null;
  try {
    const tag = value[Symbol.toStringTag];
    if (tag === FUNCTION_TAG) return "function";
    if (tag === CLIENT_TAG) return "client";
    if (typeof value.getConfig === "function" && value.opts && typeof value.opts.id === "string") return "function";
    if (typeof value.createFunction === "function" && typeof value.send === "function") return "client";
  } catch {
    // a getter that throws: not an Inngest object
  }
  return null;
}

/** What getConfig returns, called as serve() does (v3.31+ takes an object; older, two arguments). */
function registration(fn) {
  const appPrefix = fn.client?.id;
  const baseUrl = new URL("http://localhost:3000/api/inngest");
  const getConfig = fn.getConfig;
  return getConfig.length >= 2 ? getConfig.call(fn, baseUrl, appPrefix) : getConfig.call(fn, { baseUrl, appPrefix });
}

/** The functions a module's exports (and its serve() calls) lead to, in the order their
clients created them. */
function functionsOf(namespace, servedHere) {
  const found = new Map();      // function -> export name
  const clients = [];
  const visit = (value, name, depth) => {
    const k = kind(value);
    if (k === "function") {
      if (!found.has(value)) found.set(value, name);
    } else if (k === "client") {
      if (!clients.includes(value)) clients.push(value);
    } else if (depth < 2 && Array.isArray(value)) {
      value.forEach((v, i) => visit(v, `${name}[${i}]`, depth + 1));
    } else if (depth < 2 && value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
      for (const [k, v] of Object.entries(value)) visit(v, `${name}.${k}`, depth + 1);
    }
  };
  const entries = Object.entries(namespace);
  // Direct exports first, so that a function keeps its own export name when an exported
  // array or object holds it too.
  for (const [name, value] of entries) if (kind(value)) visit(value, name, 0);
  for (const [name, value] of entries) if (!kind(value)) visit(value, name, 0);
  for (const fn of servedHere) if (!found.has(fn)) found.set(fn, "serve()");
  for (const client of clients) {
    for (const fn of client.funcs ?? []) {
      if (!found.has(fn)) found.set(fn, `${clientName(namespace, client)}.funcs`);
    }
  }
  const order = [];
  for (const fn of found.keys()) {
    const owner = fn.client;
    if (owner && !order.includes(owner)) order.push(owner);
  }
  const rank = (fn) => {
    const owner = fn.client;
    const list = owner?.funcs ?? [];
    const i = list.indexOf(fn);
    return [order.indexOf(owner), i < 0 ? Infinity : i];
  };
  return [...found.entries()].sort((a, b) => {
    const [ca, ia] = rank(a[0]);
    const [cb, ib] = rank(b[0]);
    return ca - cb || ia - ib;
  });
}

function clientName(namespace, client) {
  for (const [name, value] of Object.entries(namespace)) if (value === client) return name;
  return "client";
}

const results = [];
for (const file of modules) {
  let namespace;
  served.length = 0;
  loading = true;
  try {
    namespace = await import(pathToFileURL(resolve(file)).href);
  } catch (err) {
    results.push({ file, error: { kind: "load", ...describe(err) } });
    continue;
  } finally {
    loading = false;
  }
  const functions = [];
  try {
    for (const [fn, exportName] of functionsOf(namespace, [...served])) {
      functions.push({
        export: exportName,
        app: fn.client?.id ?? null,
        options: Object.keys(fn.opts ?? {}),
        config: JSON.parse(JSON.stringify(registration(fn))),
      });
    }
  } catch (err) {
    results.push({ file, error: { kind: "config", ...describe(err) } });
    continue;
  }
  results.push({ file, exports: Object.keys(namespace), functions });
}
finish({ sdk: { version: sdk.version, dir: sdk.dir }, transpiler, node: process.versions.node, modules: results });
