// Crash (multiplayer) results from a hash chain (PROTOCOL.md, "Crash"): the operator
// publishes the terminal hash h_0, plays h_1, h_2, … in order, and
// h_{i-1} = hex(SHA-256(h_i)), so each revealed game hash proves it was fixed before play.

import { hmac, hmacKey, sha256Hex } from "./stream.js";
import { DEFAULT_EDGE_BPS, edgeFactor } from "./games.js";

/**
 * The crash point before flooring: `max(1, 2^32 / (n + 1) · 0.99)`, `n` the first 32 bits
 * (8 hex digits) of `HMAC-SHA256(key = game hash text, message = salt text)`. Evaluated in
 * the published order so it matches the Rust engine and the published JavaScript bit for bit.
 */
export async function crashPointUnrounded(
  gameHash: string,
  salt: string,
  edgeBps: number = DEFAULT_EDGE_BPS,
): Promise<number> {
  const x = await hmac(await hmacKey(gameHash), salt);
  const n = (((x[0] ?? 0) << 24) >>> 0) + ((x[1] ?? 0) << 16) + ((x[2] ?? 0) << 8) + (x[3] ?? 0);
  return Math.max((4294967296 / (n + 1)) * edgeFactor(edgeBps), 1);
}

/** The crash point in hundredths: `floor(max(1, 2^32 / (n + 1) · 0.99) · 100)`. */
export async function crashPointHundredths(
  gameHash: string,
  salt: string,
  edgeBps: number = DEFAULT_EDGE_BPS,
): Promise<number> {
  return Math.floor((await crashPointUnrounded(gameHash, salt, edgeBps)) * 100);
}

/** The crash point as shown, e.g. 2.35 (`croupier fair crash` → `{"crash_point": 2.35}`). */
export async function crashPoint(
  gameHash: string,
  salt: string,
  edgeBps: number = DEFAULT_EDGE_BPS,
): Promise<number> {
  return (await crashPointHundredths(gameHash, salt, edgeBps)) / 100;
}

/** The hash played just before `gameHash`: `hex(SHA-256(gameHash text))`. */
export function previousHash(gameHash: string): Promise<string> {
  return sha256Hex(gameHash);
}

/** True if `previous` is the chain link right before `gameHash`. */
export async function verifyChainLink(gameHash: string, previous: string): Promise<boolean> {
  return (await previousHash(gameHash)) === previous.toLowerCase();
}

/**
 * Walks back from `gameHash` at most `maxSteps` links; the number of steps to the
 * published terminal hash is the game's index in the chain, or null if not reached.
 */
export async function chainPosition(
  gameHash: string,
  terminalHash: string,
  maxSteps: number,
): Promise<number | null> {
  let h = gameHash.toLowerCase();
  const terminal = terminalHash.toLowerCase();
  for (let step = 0; step <= maxSteps; step++) {
    if (h === terminal) return step;
    h = await previousHash(h);
  }
  return null;
}
