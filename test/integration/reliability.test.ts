/**
 * Reliability of the native host under abuse and faults: a seeded framing fuzzer, every method with every
 * kind of wrong argument, the key pulled at random moments, many origins signing at once, and PINs that
 * must never reach a log.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFrame } from "../../native-host/transport/framing.js";
import { methodParams, type Method } from "../../protocol/messages.js";
import { HostProcess, rejectionOf } from "../../scripts/host-process.js";
import { smCryptoVerifiesSm2Raw } from "../support/independent-verify.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { insertToken, removeToken, setLatency } from "../virtual-token/state.js";

const PIN = "12345678";
/** The demo key's signing certificate; beforeAll sets its id on this run's backend (the format stays valid). */
let CERT = "YZT0000000000001:0101";
const SERIAL = "YZT0000000000001";
const ORIGIN = "https://etax.beijing.chinatax.gov.cn";

let vtoken: VirtualToken;
let host: HostProcess;

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  CERT = vtoken.certificateId(SERIAL, "0101");
  host = HostProcess.start({ library: vtoken.library, env: vtoken.env });
  await host.request("hello", {});
});
afterAll(async () => {
  await host?.close();
  vtoken?.dispose();
});

describe("framing fuzzer", () => {
  it("survives 10,000 random and mutated frames (seed 20261124), answering each one, then still serves", async () => {
    const random = prng(20261124);
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    // Seeds are requests that cannot change the token: no login or change-PIN, so no PIN retries are spent.
    const seeds = [
      { id: 1, method: "hello", params: {} },
      { id: 2, method: "listTokens", params: {} },
      { id: 3, method: "listCertificates", params: { purpose: "sign" } },
      { id: 4, method: "sessionStatus", params: { origin: ORIGIN, tokenSerial: SERIAL } },
      { id: 5, method: "sign", params: { certificateId: CERT, origin: ORIGIN, format: "raw", data: "aGVsbG8=" } },
      { id: 6, method: "logout", params: { origin: ORIGIN } },
    ].map((seed) => Buffer.from(JSON.stringify(seed)));
    const randomValue = (depth: number): unknown => {
      const kind = Math.floor(random() * (depth > 2 ? 4 : 6));
      if (kind === 0) return Math.floor(random() * 1e6) - 5e5;
      if (kind === 1) return Array.from({ length: Math.floor(random() * 12) }, () => String.fromCharCode(Math.floor(random() * 0x3000))).join("");
      if (kind === 2) return random() < 0.5;
      if (kind === 3) return null;
      if (kind === 4) return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [pick(["id", "method", "params", "x", "certificateId", "format"]), randomValue(depth + 1)]));
    };
    const bodies: Buffer[] = [];
    for (let i = 0; i < 10_000; i++) {
      const kind = random();
      if (kind < 0.3) {
        bodies.push(Buffer.from(Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256))));
      } else if (kind < 0.6) {
        bodies.push(Buffer.from(JSON.stringify(randomValue(0)) ?? "null"));
      } else {
        const mutated = Buffer.from(pick(seeds));
        for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
        bodies.push(random() < 0.2 ? mutated.subarray(0, Math.floor(random() * mutated.length)) : mutated);
      }
    }
    const stream = Buffer.concat(bodies.map((body) => {
      const header = Buffer.alloc(4);
      header.writeUInt32LE(body.length, 0);
      return Buffer.concat([header, body]);
    }));
    const before = host.responseCount;
    // Deliver in random slices so frames straddle writes, as pipes do.
    for (let offset = 0; offset < stream.length; ) {
      const size = 1 + Math.floor(random() * 4096);
      host.sendRaw(stream.subarray(offset, offset + size));
      offset += size;
    }
    // An oversize frame (8 MiB + 1) delivered in full is refused and skipped, keeping the stream in sync.
    const oversize = Buffer.alloc(4);
    oversize.writeUInt32LE(8 * 1024 * 1024 + 1, 0);
    host.sendRaw(Buffer.concat([oversize, Buffer.alloc(8 * 1024 * 1024 + 1, 0x7b)]));
    // Exactly one reply per frame: 10,000 fuzzed frames plus the oversize one.
    for (let waited = 0; host.responseCount - before < bodies.length + 1 && waited < 30_000; waited += 50) await sleep(50);
    expect(host.responseCount - before).toBe(bodies.length + 1);
    const hello = await host.request("hello", {});
    expect(hello.protocol).toBe(1);
    expect(host.child.exitCode).toBeNull();
    // Errors for frames without a readable id are addressed to id 0; they must include the oversize one.
    expect(host.unaddressed.length).toBeGreaterThan(1000);
    // Mutated seeds that stayed valid get ordinary answers (LOGIN_REQUIRED…); nothing may fail internally.
    expect(host.unaddressed.filter((error) => error.code === "INTERNAL" || error.code === "HOST_ERROR")).toEqual([]);
    expect(host.unaddressed.filter((error) => error.code === "BAD_REQUEST").length).toBeGreaterThan(5000);
    expect(host.unaddressed.some((error) => /exceeds the 8388608-byte limit/.test(error.message))).toBe(true);
    // The token was never touched in a harmful way: the PIN counter is intact.
    expect((await host.request("listTokens", {})).find((t) => t.serial === SERIAL)!.pin.retriesLeft).toBe(10);
  }, 60_000);
});

describe("argument validation over the wire", () => {
  const valid: { [M in Method]: Record<string, unknown> } = {
    hello: { extension: "0.1.0" },
    listTokens: {},
    listCertificates: { purpose: "sign", tokenSerial: SERIAL },
    login: { certificateId: CERT, origin: ORIGIN, pin: "00000000", pinSource: "page", challenge: "c".repeat(20) },
    sign: { certificateId: CERT, origin: ORIGIN, format: "raw", data: "aGk=", hashAlgorithm: "SHA-256" },
    logout: { origin: ORIGIN, tokenSerial: SERIAL },
    changePin: { tokenSerial: SERIAL, oldPin: "00000000", newPin: "11112222", pinSource: "page" },
    sessionStatus: { origin: ORIGIN, tokenSerial: SERIAL },
    diagnose: {},
    repair: {},
    configure: { idleTimeoutSeconds: 1800 },
    certificateInfo: { certificate: Buffer.alloc(32, 0x30).toString("base64") },
    verifyRaw: { certificate: Buffer.alloc(32, 0x30).toString("base64"), data: "aGk=", signature: Buffer.alloc(16, 1).toString("base64") },
    verifyMessage: { signature: Buffer.alloc(32, 0x30).toString("base64"), data: "aGk=" },
    validateCertificate: { certificate: Buffer.alloc(32, 0x30).toString("base64") },
    encrypt: { certificate: Buffer.alloc(32, 0x30).toString("base64"), data: "aGk=", format: "envelope", cipher: "SM4-CBC" },
    decrypt: { certificateId: CERT, origin: ORIGIN, data: "aGk=", format: "raw", pin: "00000000" },
    signXml: { certificateId: CERT, origin: ORIGIN, xml: "PGEvPg==", pin: "00000000" },
    verifyXml: { xml: "PGEvPg==" },
    unlockPin: { origin: ORIGIN, tokenSerial: SERIAL, adminPin: "87654321", newPin: "11112222" },
    listContainers: { tokenSerial: SERIAL },
    generateKeyPair: { origin: ORIGIN, tokenSerial: SERIAL, container: "NEW", keyAlgorithm: "SM2", pin: "00000000" },
    createCertificateRequest: { origin: ORIGIN, tokenSerial: SERIAL, container: "NEW", subject: "C=CN,O=x,CN=x", pin: "00000000" },
    importCertificate: { origin: ORIGIN, tokenSerial: SERIAL, container: "NEW", certificate: Buffer.alloc(32, 0x30).toString("base64"), encryptedKeyPair: Buffer.alloc(128, 1).toString("base64"), pin: "00000000" },
    deleteContainer: { origin: ORIGIN, tokenSerial: SERIAL, container: "OLD", pin: "00000000" },
  };

  it("has a valid example for every method of the protocol", () => {
    expect(Object.keys(valid).sort()).toEqual(Object.keys(methodParams).sort());
  });

  // Each value is wrong for every field: no string field takes 10,001 characters of non-base64, no integer field takes 1.5.
  const wrongValues: Array<[string, unknown]> = [["an object", { nested: true }], ["an array", [1]], ["a fraction", 1.5], ["null", null], ["a long string", "x".repeat(10_001)]];

  it("answers every wrong field of every method with BAD_REQUEST naming the field", async () => {
    const failures: string[] = [];
    for (const [method, params] of Object.entries(valid)) {
      const cases: Array<[string, Record<string, unknown>]> = [[`${method}: unknown field`, { ...params, surprise: 1 }]];
      for (const field of Object.keys(params)) {
        for (const [label, value] of wrongValues) cases.push([`${method}.${field} as ${label}`, { ...params, [field]: value }]);
      }
      for (const [label, bad] of cases) {
        const error = await rejectionOf(host.request(method as Method, bad)).catch(() => ({ code: "ACCEPTED", message: "" }));
        const field = label.includes("unknown field") ? "surprise" : label.split(".")[1]!.split(" ")[0]!;
        if (error.code !== "BAD_REQUEST" || !error.message.includes(`params.${field}`)) failures.push(`${label}: ${error.code} ${error.message}`);
      }
    }
    expect(failures).toEqual([]);
    expect((await host.request("listTokens", {})).find((t) => t.serial === SERIAL)!.pin.retriesLeft).toBe(10);
  }, 60_000);

  it("names a missing required field", async () => {
    const error = await rejectionOf(host.request("sign", { origin: ORIGIN, format: "raw", data: "aGk=" }));
    expect(error).toMatchObject({ code: "BAD_REQUEST" });
    expect(error.message).toContain("params.certificateId");
  });
});

describe("faults", () => {
  it("never hangs and never leaves a stale session when the key is pulled at random moments", async () => {
    const random = prng(7);
    // The key must have been listed: a key pulled out before its library first answered was never there.
    expect((await host.request("listTokens", {})).find((t) => t.serial === SERIAL)?.present).toBe(true);
    /**
     * This round's event for the key (never an earlier round's), then the host's own view of the key agreeing
     * with it: what the test means, whenever the machine gets to it.
     */
    const keySeen = async (from: number, event: "tokenremoved" | "tokeninserted") => {
      await host.waitForEvent((e) => host.events.indexOf(e) >= from && e.event === event && e.data.tokenSerial === SERIAL, 5000);
      while ((await host.request("listTokens", {})).find((t) => t.serial === SERIAL)?.present !== (event === "tokeninserted")) await sleep(50);
    };
    for (let round = 0; round < 20; round++) {
      setLatency(vtoken.home, "demo", Math.floor(random() * 120));
      const started = Date.now();
      const work = (async () => {
        await host.request("login", { certificateId: CERT, origin: ORIGIN, pin: PIN });
        return host.request("sign", { certificateId: CERT, origin: ORIGIN, format: "pkcs7-detached", data: "ZGF0YQ==" });
      })().then(() => "signed", (error: { code?: string }) => error.code ?? "unknown");
      await sleep(Math.floor(random() * 150));
      const pulled = host.events.length;
      removeToken(vtoken.home, "demo");
      const outcome = await work;
      // "Never hangs": a hang is for good; a bound far above any loaded machine's login + sign says so.
      expect(Date.now() - started, `round ${round}`).toBeLessThan(20_000);
      expect(["signed", "TOKEN_REMOVED", "NO_TOKEN"]).toContain(outcome);
      await keySeen(pulled, "tokenremoved");
      const back = host.events.length;
      insertToken(vtoken.home, "demo");
      await keySeen(back, "tokeninserted");
      expect(await host.request("sessionStatus", { origin: ORIGIN, tokenSerial: SERIAL })).toEqual({ active: false });
      expect((await host.request("listTokens", {})).find((t) => t.serial === SERIAL)!.loggedIn).toBe(false);
    }
    setLatency(vtoken.home, "demo", 0);
    await host.request("login", { certificateId: CERT, origin: ORIGIN, pin: PIN });
    await expect(host.request("sign", { certificateId: CERT, origin: ORIGIN, format: "raw", data: "b2s=" })).resolves.toHaveProperty("signature");
  }, 60_000);

  it("lets 4 origins × 50 concurrent signatures all succeed and verify", async () => {
    const origins = ["https://a.example.cn", "https://b.example.cn", "https://c.example.cn", "https://d.example.cn"];
    for (const origin of origins) await host.request("login", { certificateId: CERT, origin, pin: PIN });
    const jobs = origins.flatMap((origin) => Array.from({ length: 50 }, (_, i) => ({ origin, data: Buffer.from(`${origin} document ${i}`) })));
    const results = await Promise.all(jobs.map((job) => host.request("sign", { certificateId: CERT, origin: job.origin, format: "raw", data: job.data.toString("base64") })));
    // The demo key is SM2: each r‖s is checked by sm-crypto, not by the project's own SM2 code.
    const certificate = Buffer.from(results[0]!.certificate, "base64");
    const verified = results.filter((result, i) => smCryptoVerifiesSm2Raw(certificate, jobs[i]!.data, Buffer.from(result.signature, "base64")));
    expect(verified).toHaveLength(200);
  }, 60_000);
});

describe("secrets", () => {
  it("never writes a PIN to the host log, even at debug level and on errors", async () => {
    const dir = mkdtempSync(join(tmpdir(), "yzt-log-"));
    const local = await cloneVirtualToken();
    const logFile = join(dir, "host.log");
    const logged = HostProcess.start({ library: local.library, env: { ...local.env, YZT_LOG_FILE: logFile, YZT_LOG_LEVEL: "debug" } });
    try {
      const wrong = "98765432";
      const fresh = "55667788";
      await rejectionOf(logged.request("login", { certificateId: CERT, origin: ORIGIN, pin: wrong }));
      await logged.request("login", { certificateId: CERT, origin: ORIGIN, pin: PIN, challenge: "log-test-challenge-0001" });
      await logged.request("changePin", { tokenSerial: SERIAL, oldPin: PIN, newPin: fresh });
      await rejectionOf(logged.request("changePin", { tokenSerial: SERIAL, oldPin: wrong, newPin: PIN }));
      await logged.request("changePin", { tokenSerial: SERIAL, oldPin: fresh, newPin: PIN });
      const log = readFileSync(logFile, "utf8");
      expect(log).toContain("request failed");
      for (const secret of [PIN, wrong, fresh]) expect(log).not.toContain(secret);
      expect(logged.stderr.join("")).not.toContain(wrong);
    } finally {
      await logged.close();
      local.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
