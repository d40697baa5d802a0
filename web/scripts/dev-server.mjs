#!/usr/bin/env node
// Serves web/dist like the server does (shells with the same CSP, client
// routes falling back to their shell) and proxies the API, HTTP and
// WebSocket, to a running `croupier serve` — so the current UI can be tried
// against a live server without rebuilding it.
//
//   node scripts/dev-server.mjs --api http://127.0.0.1:23456 [--port 5173] [--session-shim]
//
// --session-shim emulates the browser session (POST /v1/auth/session, the
// croupier_session/croupier_csrf cookies, the X-CSRF-Token check) on top of
// bearer tokens, for a server built before it had them. Use
// http://localhost:PORT in the browser: Secure cookies are kept there.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { connect } from "node:net";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const args = parseArgs(process.argv.slice(2));
const api = new URL(args.api ?? process.env.CROUPIER_API ?? "http://127.0.0.1:8080");
const port = Number(args.port ?? 5173);
const shim = Boolean(args["session-shim"]);
const dist = fileURLToPath(new URL("../dist/", import.meta.url));

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".map": "application/json" };
const API_PATHS = /^\/(v1(\/|$)|openapi\.json$|livez$|readyz$)/;
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

const server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  if (API_PATHS.test(path)) return proxy(req, res, path).catch((e) => fail(res, e));
  serveFile(path, res);
});
server.on("upgrade", (req, socket, head) => proxyUpgrade(req, socket, head));
server.listen(port, "127.0.0.1", () => {
  console.log(`web dev server: http://localhost:${port}/ → API ${api.origin}${shim ? " (session shim)" : ""}`);
});

// ------------------------------------------------------------------ static files

function serveFile(path, res) {
  const file = resolveFile(path);
  if (!file) {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found");
    return;
  }
  const headers = { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" };
  if (file.endsWith(".html")) Object.assign(headers, { "content-security-policy": CSP, "x-frame-options": "DENY" });
  res.writeHead(200, headers);
  createReadStream(join(dist, file)).pipe(res);
}

/** The same rules as crates/croupier-web: a name with a dot is a file; else a client route. */
function resolveFile(path) {
  if (path === "/console") return "console/index.html";
  const rel = normalize(decodeURIComponent(path)).replace(/^\/+/, "");
  if (rel.startsWith("..")) return null;
  const last = rel.split("/").pop() ?? "";
  if (last.includes(".")) return existsSync(join(dist, rel)) && statSync(join(dist, rel)).isFile() ? rel : null;
  if (rel.startsWith("assets/")) return null;
  return rel === "console" || rel.startsWith("console/") ? "console/index.html" : "index.html";
}

// ------------------------------------------------------------------ HTTP proxy

async function proxy(req, res, path) {
  const body = await readBody(req);
  // The Host stays the browser's: the server checks a cookie socket's Origin against it.
  const headers = { ...req.headers };
  if (shim) {
    if (path === "/v1/auth/session" && req.method === "POST") return openShimSession(body, res);
    const token = cookie(req, "croupier_session");
    if (token && !headers.authorization) {
      if (UNSAFE.has(req.method) && req.headers["x-csrf-token"] !== csrfOf(token)) {
        return problem(res, 403, "csrf_token_invalid", "A cookie-authenticated change needs the session's X-CSRF-Token header");
      }
      headers.authorization = `Bearer ${token}`;
    }
    delete headers.cookie;
  }
  const upstream = await send(req.method, req.url, headers, body);
  const out = { ...upstream.headers };
  if (shim && upstream.status === 204 && /^\/v1\/auth\/logout(-all)?$/.test(path)) out["set-cookie"] = clearCookies();
  res.writeHead(upstream.status, out).end(upstream.body);
}

function send(method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const r = httpRequest(new URL(url, api), { method, headers }, (up) => {
      const chunks = [];
      up.on("data", (c) => chunks.push(c));
      up.on("end", () => resolve({ status: up.statusCode ?? 502, headers: up.headers, body: Buffer.concat(chunks) }));
    });
    r.on("error", reject);
    r.end(body);
  });
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
  });
}

function fail(res, e) {
  if (!res.headersSent) problem(res, 502, "unavailable", `dev server: the API at ${api.origin} is unreachable (${e.code ?? e.message})`);
}

function problem(res, status, code, title) {
  res
    .writeHead(status, { "content-type": "application/problem+json" })
    .end(JSON.stringify({ type: `urn:croupier:problem:${code}`, title, status, code }));
}

// ------------------------------------------------------------------ WebSocket proxy

function proxyUpgrade(req, socket, head) {
  const headers = { ...req.headers };
  if (shim) {
    const token = cookie(req, "croupier_session");
    if (token && !headers.authorization) headers.authorization = `Bearer ${token}`;
    delete headers.cookie;
  }
  const upstream = connect(Number(api.port || 80), api.hostname, () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "", ""];
    upstream.write(lines.join("\r\n"));
    if (head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  const close = () => {
    upstream.destroy();
    socket.destroy();
  };
  upstream.on("error", close);
  socket.on("error", close);
  upstream.on("close", close);
  socket.on("close", close);
}

// ------------------------------------------------------------------ session shim

async function openShimSession(body, res) {
  const json = { "content-type": "application/json", host: api.host };
  const login = await send("POST", "/v1/auth/login", json, body);
  if (login.status !== 200) {
    res.writeHead(login.status, login.headers).end(login.body);
    return;
  }
  const { token, expires_at } = JSON.parse(login.body.toString());
  const me = JSON.parse((await send("GET", "/v1/me", { authorization: `Bearer ${token}`, host: api.host })).body.toString());
  const csrf = csrfOf(token);
  const attrs = "Path=/; Secure; SameSite=Strict; Max-Age=2592000";
  res
    .writeHead(200, {
      "content-type": "application/json",
      "set-cookie": [`croupier_session=${token}; HttpOnly; ${attrs}`, `croupier_csrf=${csrf}; ${attrs}`],
    })
    .end(JSON.stringify({ ...me, expires_at, csrf_token: csrf }));
}

function clearCookies() {
  const attrs = "Path=/; Secure; SameSite=Strict; Max-Age=0";
  return [`croupier_session=; HttpOnly; ${attrs}`, `croupier_csrf=; ${attrs}`];
}

/** The same derivation as the server's (crates/croupier-api/src/cookie.rs). */
function csrfOf(token) {
  return createHash("sha256").update(`croupier-csrf:${token}`).digest("hex").slice(0, 32);
}

function cookie(req, name) {
  for (const pair of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = pair.trim().split("=");
    if (k === name) return v.join("=");
  }
  return null;
}

function parseArgs(list) {
  const out = {};
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    if (!a.startsWith("--")) continue;
    const [k, v] = a.slice(2).split("=");
    if (v !== undefined) out[k] = v;
    else if (list[i + 1] && !list[i + 1].startsWith("--")) out[k] = list[++i];
    else out[k] = true;
  }
  return out;
}
