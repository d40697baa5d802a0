// The History-API router's matching.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildPath, matchPattern, resolveRoute, stripBase, withBase } from "../src/ui/route.js";

test("patterns match whole paths and capture params", () => {
  assert.deepEqual(matchPattern("/", "/"), {});
  assert.deepEqual(matchPattern("/play/:game", "/play/dice"), { game: "dice" });
  assert.deepEqual(matchPattern("/play/:game", "/play/dice/"), { game: "dice" });
  assert.deepEqual(matchPattern("/players/:id", "/players/a%20b"), { id: "a b" });
  assert.equal(matchPattern("/play/:game", "/play"), null);
  assert.equal(matchPattern("/play/:game", "/play/dice/extra"), null);
  assert.equal(matchPattern("/wallet", "/wallets"), null);
  assert.equal(matchPattern("/", "/wallet"), null);
  assert.equal(matchPattern("/players/:id", "/players/%E0%A4%A"), null);
});

test("a star matches any rest", () => {
  assert.deepEqual(matchPattern("*", "/anything/at/all"), {});
  assert.deepEqual(matchPattern("/docs/*", "/docs/a/b"), {});
});

test("routes resolve in order, first match wins", () => {
  const routes = [
    { pattern: "/", value: "home" },
    { pattern: "/players", value: "list" },
    { pattern: "/players/:id", value: "detail" },
    { pattern: "*", value: "missing" },
  ];
  assert.equal(resolveRoute(routes, "/")?.value, "home");
  assert.deepEqual(resolveRoute(routes, "/players/42"), { value: "detail", params: { id: "42" } });
  assert.equal(resolveRoute(routes, "/nope")?.value, "missing");
  assert.equal(resolveRoute(routes.slice(0, 3), "/nope"), null);
});

test("base paths", () => {
  assert.equal(stripBase("", "/wallet"), "/wallet");
  assert.equal(stripBase("/console", "/console"), "/");
  assert.equal(stripBase("/console", "/console/"), "/");
  assert.equal(stripBase("/console", "/console/players/1"), "/players/1");
  assert.equal(stripBase("/console", "/consoles"), null);
  assert.equal(stripBase("/console", "/"), null);
  assert.equal(withBase("/console", "/"), "/console/");
  assert.equal(withBase("/console", "/players"), "/console/players");
  assert.equal(withBase("", "/"), "/");
  assert.equal(withBase("", "wallet"), "/wallet");
});

test("paths are built with encoded params", () => {
  assert.equal(buildPath("/players/:id", { id: "a/b c" }), "/players/a%2Fb%20c");
  assert.throws(() => buildPath("/players/:id", {}), /missing route param id/);
});
