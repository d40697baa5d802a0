// A tiny History-API router: one per app, under its base path ("" for the
// lobby, "/console" for the console). The server answers every client route
// with the app's shell, so deep links and reloads work.
import type { ComponentChildren, JSX } from "preact";
import { resolveRoute, stripBase, withBase, type Match, type Route } from "./route";
import { createStore, useStore, type Store } from "./store";

export interface Router {
  /** The app path ("/players/abc") and query ("?q=x") now. */
  readonly location: Store<AppLocation>;
  navigate(path: string, options?: { replace?: boolean }): void;
  href(path: string): string;
}

let moved = false;
/** True once the user has navigated inside the app: then a new page takes focus. */
export function hasNavigated(): boolean {
  return moved;
}

export interface AppLocation {
  path: string;
  search: string;
}

export function createRouter(base: string): Router {
  const read = (): AppLocation => ({ path: stripBase(base, window.location.pathname) ?? "/", search: window.location.search });
  const location = createStore<AppLocation>(read());
  window.addEventListener("popstate", () => {
    moved = true;
    location.set(read());
  });
  return {
    location,
    navigate(path, options = {}) {
      const url = withBase(base, path);
      if (options.replace) history.replaceState(null, "", url);
      else history.pushState(null, "", url);
      moved = true;
      location.set(read());
      window.scrollTo(0, 0);
    },
    href: (path) => withBase(base, path),
  };
}

/** The route matching the current location (re-renders on navigation). */
export function useRoute<T>(router: Router, routes: readonly Route<T>[]): Match<T> | null {
  const loc = useStore(router.location);
  return resolveRoute(routes, loc.path);
}

export interface LinkProps extends Omit<JSX.HTMLAttributes<HTMLAnchorElement>, "href"> {
  router: Router;
  to: string;
  children?: ComponentChildren;
  /** Mark as the current page when the location is `to` (or under it, with `prefix`). */
  nav?: "exact" | "prefix";
}

/** A real link (open in a new tab works) that navigates in place on a plain click. */
export function Link({ router, to, nav, children, ...rest }: LinkProps) {
  const loc = useStore(router.location);
  const path = to.split("?")[0]!;
  const current = nav === "exact" ? loc.path === path : nav === "prefix" ? loc.path === path || loc.path.startsWith(path + "/") : false;
  const onClick = (e: MouseEvent): void => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    router.navigate(to);
  };
  return (
    <a {...rest} href={router.href(to)} onClick={onClick} aria-current={current ? "page" : undefined}>
      {children}
    </a>
  );
}
