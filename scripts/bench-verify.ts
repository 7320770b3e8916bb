/**
 * Server-side signature checks per CPU-second, in this process: SM2 (the project's scheme on @noble/curves)
 * for a key seen before — a CA key in every chain, a returning user — and for a key never seen, beside
 * RSA-2048 and ECDSA P-256 through Node's OpenSSL. The same 64-byte login message for every algorithm.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, verify } from "node:crypto";
import { cpuUsage } from "node:process";
import { sm2Digest, sm2PublicFromPrivate, sm2Sign, sm2Verify } from "../crypto/sm2.js";

export interface VerifyRates {
  sm2KnownKey: number;
  sm2NewKey: number;
  rsa2048: number;
  p256: number;
}

const MESSAGE = createHash("sha512").update("yzt-bridge login message").digest();

/** Checks per CPU-second of this process (user + system), run for about `budgetMs` of CPU after a warm-up. */
function perCpuSecond(check: () => boolean, budgetMs: number): number {
  for (let i = 0; i < 5; i++) if (!check()) throw new Error("a benchmark signature did not verify");
  const started = cpuUsage();
  let count = 0;
  let usedMs = 0;
  while (usedMs < budgetMs) {
    if (!check()) throw new Error("a benchmark signature did not verify");
    count++;
    const used = cpuUsage(started);
    usedMs = (used.user + used.system) / 1000;
  }
  return Math.round(count / (usedMs / 1000));
}

function sm2Pair(): { publicPoint: Uint8Array; e: Uint8Array; signature: Uint8Array } {
  const d = randomBytes(32);
  d[0] = 0x5a;
  const publicPoint = sm2PublicFromPrivate(d);
  const e = sm2Digest(publicPoint, MESSAGE);
  return { publicPoint, e, signature: sm2Sign(d, e) };
}

export function measureVerifyRates(budgetMs = 1500): VerifyRates {
  const known = sm2Pair();
  // Fresh keys each check: what the first login of a user costs (made beforehand, not timed).
  const fresh = Array.from({ length: 400 }, sm2Pair);
  let next = 0;
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const rsaSignature = sign("sha256", MESSAGE, rsa.privateKey);
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecSignature = sign("sha256", MESSAGE, ec.privateKey);
  return {
    sm2KnownKey: perCpuSecond(() => sm2Verify(known.publicPoint, sm2Digest(known.publicPoint, MESSAGE), known.signature), budgetMs),
    sm2NewKey: perCpuSecond(() => {
      const pair = fresh[next++ % fresh.length]!;
      return sm2Verify(pair.publicPoint, sm2Digest(pair.publicPoint, MESSAGE), pair.signature);
    }, budgetMs),
    rsa2048: perCpuSecond(() => verify("sha256", MESSAGE, rsa.publicKey, rsaSignature), budgetMs),
    p256: perCpuSecond(() => verify("sha256", MESSAGE, ec.publicKey, ecSignature), budgetMs),
  };
}

export function verifyRatesRow(rates: VerifyRates): string {
  return `signature checks per CPU-second (server side): SM2 ${rates.sm2KnownKey}/s for a key seen before (CA keys, returning users), ${rates.sm2NewKey}/s for a new key; RSA-2048 ${rates.rsa2048}/s, P-256 ${rates.p256}/s (OpenSSL)`;
}
