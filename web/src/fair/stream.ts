// The provably-fair byte stream (shared/fairness/PROTOCOL.md, "Byte stream and floats"),
// recomputed in the player's browser with WebCrypto: nothing here asks the server.
//
//   block(r) = HMAC-SHA256(key = server seed text, message = "{client_seed}:{nonce}:{r}")
//   stream   = block(0) ‖ block(1) ‖ …
//   float_i  = Σ_{k=0..3} stream[4i+k] / 256^(k+1)   (the big-endian u32 / 2^32, exact)
//
// Runs in browsers and in Node ≥ 20: it only uses `globalThis.crypto.subtle`.

const encoder = new TextEncoder();

/** A nonce as the server stores it: a u64, given as a safe integer or a bigint. */
export type Nonce = number | bigint;

const U64_MAX = (1n << 64n) - 1n;

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) {
    throw new Error(
      "WebCrypto (crypto.subtle) is unavailable: use a secure context (https or localhost) or Node ≥ 20",
    );
  }
  return s;
}

/** The text's UTF-8 bytes (the "ASCII" of the protocol; Rust's `str::as_bytes`). */
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** `hex(SHA-256(text))`. */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(new Uint8Array(await subtle().digest("SHA-256", utf8(text))));
}

/** `hex(SHA-256(server_seed))`: the commitment shown before the seed is used. */
export function serverSeedHash(serverSeed: string): Promise<string> {
  return sha256Hex(serverSeed);
}

/**
 * An HMAC-SHA256 key over `text`. WebCrypto refuses empty HMAC keys; HMAC pads every
 * key shorter than the 64-byte block with zeros, so an empty key is 64 zero bytes.
 */
export function hmacKey(text: string): Promise<CryptoKey> {
  const raw = text.length === 0 ? new Uint8Array(64) : utf8(text);
  return subtle().importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** `HMAC-SHA256(key, message)` as 32 bytes. */
export async function hmac(key: CryptoKey, message: string): Promise<Uint8Array> {
  return new Uint8Array(await subtle().sign("HMAC", key, utf8(message)));
}

/** The nonce's decimal text; rejects anything that is not a u64. */
export function nonceText(nonce: Nonce): string {
  if (typeof nonce === "bigint") {
    if (nonce < 0n || nonce > U64_MAX) throw new RangeError(`nonce ${nonce} is not a u64`);
    return nonce.toString();
  }
  if (!Number.isSafeInteger(nonce) || nonce < 0) {
    throw new RangeError(`nonce ${nonce} is not a non-negative safe integer (pass a bigint)`);
  }
  return String(nonce);
}

/** `float = u32_be(b0..b3) / 2^32`, equal to `Σ b_k / 256^(k+1)` and exact in a double. */
export function floatFromBytes(b0: number, b1: number, b2: number, b3: number): number {
  return (((b0 << 24) >>> 0) + (b1 << 16) + (b2 << 8) + b3) / 4294967296;
}

/**
 * The endless stream for one (server seed, client seed, nonce): blocks are computed
 * on demand, so a game pays for just the HMACs it reads.
 */
export class FairStream {
  private key: Promise<CryptoKey> | undefined;
  private readonly prefix: string;
  private block: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private round = 0;
  private consumed: number[] = [];

  constructor(
    private readonly serverSeed: string,
    clientSeed: string,
    nonce: Nonce,
  ) {
    this.prefix = `${clientSeed}:${nonceText(nonce)}:`;
  }

  /** The next `count` bytes. */
  async bytes(count: number): Promise<Uint8Array> {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      if (this.pos === this.block.length) {
        this.key ??= hmacKey(this.serverSeed);
        this.block = await hmac(await this.key, this.prefix + String(this.round));
        this.round += 1;
        this.pos = 0;
      }
      out[i] = this.block[this.pos] ?? 0;
      this.pos += 1;
    }
    return out;
  }

  /** The next `count` floats in [0, 1). */
  async floats(count: number): Promise<number[]> {
    const b = await this.bytes(4 * count);
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      out.push(floatFromBytes(b[4 * i] ?? 0, b[4 * i + 1] ?? 0, b[4 * i + 2] ?? 0, b[4 * i + 3] ?? 0));
    }
    this.consumed.push(...out);
    return out;
  }

  /** The next float. */
  async next(): Promise<number> {
    const [f] = await this.floats(1);
    return f ?? 0;
  }

  /** Every float taken so far, in order (what a bet reports as `fairness.floats`). */
  used(): number[] {
    return [...this.consumed];
  }
}

function checkCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer (got ${count})`);
  }
}

/** The first `count` bytes of the stream. */
export function bytes(
  serverSeed: string,
  clientSeed: string,
  nonce: Nonce,
  count: number,
): Promise<Uint8Array> {
  checkCount(count);
  return new FairStream(serverSeed, clientSeed, nonce).bytes(count);
}

/** The first `count` floats of the stream. */
export function floats(
  serverSeed: string,
  clientSeed: string,
  nonce: Nonce,
  count: number,
): Promise<number[]> {
  checkCount(count);
  return new FairStream(serverSeed, clientSeed, nonce).floats(count);
}
