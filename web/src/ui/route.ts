// Route matching for the History-API router (router.tsx), kept free of the
// DOM so it can be unit-tested: patterns like "/players/:id" against paths.

export type Params = Record<string, string>;

export interface Route<T> {
  /** "/", "/play/:game", "/players/:id"; a trailing "*" matches any rest. */
  pattern: string;
  value: T;
}

export interface Match<T> {
  value: T;
  params: Params;
}

/** The params of `path` under `pattern`, or null when it does not match. */
export function matchPattern(pattern: string, path: string): Params | null {
  const want = segments(pattern);
  const got = segments(path);
  const params: Params = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w === "*") return params;
    const g = got[i];
    if (g === undefined) return null;
    if (w.startsWith(":")) {
      let value: string;
      try {
        value = decodeURIComponent(g);
      } catch {
        return null; // a malformed escape is no route of ours
      }
      params[w.slice(1)] = value;
    } else if (w !== g) {
      return null;
    }
  }
  return got.length === want.length ? params : null;
}

/** The first route matching `path`, in order. */
export function resolveRoute<T>(routes: readonly Route<T>[], path: string): Match<T> | null {
  for (const r of routes) {
    const params = matchPattern(r.pattern, path);
    if (params) return { value: r.value, params };
  }
  return null;
}

/** The app path of a location path under `base` ("/console"), or null if outside it. */
export function stripBase(base: string, pathname: string): string | null {
  if (base === "" || base === "/") return pathname || "/";
  if (pathname === base || pathname === base + "/") return "/";
  return pathname.startsWith(base + "/") ? pathname.slice(base.length) : null;
}

/** The location path of an app path: ("/console", "/players") → "/console/players". */
export function withBase(base: string, path: string): string {
  const b = base === "/" ? "" : base;
  if (path === "/" || path === "") return b + "/";
  return b + (path.startsWith("/") ? path : "/" + path);
}

/** A path with its params filled in, each encoded: ("/players/:id", {id}) → "/players/…". */
export function buildPath(pattern: string, params: Params): string {
  return pattern.replace(/:([A-Za-z_]+)/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`missing route param ${name}`);
    return encodeURIComponent(v);
  });
}

function segments(path: string): string[] {
  return path.split("/").filter((s) => s !== "");
}
