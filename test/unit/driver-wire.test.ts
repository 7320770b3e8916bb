/**
 * The host ↔ driver wire (native-host/driver/wire.ts) and the host's handling of a driver that misbehaves,
 * with small scripted driver processes standing in for a vendor library: a driver that answers garbage is a
 * crashed driver, one that keeps dying is restarted with back-off and then quarantined, and the quarantine
 * holds for the file that failed only.
 */
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { YztError } from "../../protocol/errors.js";
import { QuarantineStore } from "../../native-host/driver/quarantine.js";
import { DriverLibrary, MAX_FAILURES, type DriverLimits } from "../../native-host/driver/remote-library.js";
import { decodeBytes, encodeBytes, parseDriverFrame, parseDriverRequest } from "../../native-host/driver/wire.js";
import { silentLogger } from "../../native-host/support/log.js";
import type { ParsedCertificate } from "../../crypto/certificate-view.js";

const LIMITS: DriverLimits = { scanMs: 2_000, callMs: 2_000, heartbeatMs: 60_000, stopGraceMs: 1_000 };

let dir: string;
let library: DriverLibrary | null = null;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "yzt-driver-wire-"));
});

afterEach(async () => {
  await library?.close();
  library = null;
  rmSync(dir, { recursive: true, force: true });
});

/** A driver process running `body` (CommonJS) with `frame(obj)` to write a frame to the host. */
function scriptedDriver(body: string, path = join(dir, "libvendor.so")): DriverLibrary {
  writeFileSync(path, "not really a library");
  // Frames go to descriptor 3, as a driver writes them (wire.ts: DRIVER_FRAMES_FD).
  const prelude = `const frame = (o) => { const b = Buffer.from(JSON.stringify(o)); const h = Buffer.alloc(4); h.writeUInt32LE(b.length); require("node:fs").writeSync(3, Buffer.concat([h, b])); };`;
  library = new DriverLibrary({ kind: "skf", source: "explicit", path }, {
    limits: LIMITS,
    quarantine: new QuarantineStore({ YZT_CONFIG_DIR: dir }),
    logger: silentLogger,
    command: { command: process.execPath, args: ["-e", `${prelude}\n${body}`], arch: process.arch },
  });
  return library;
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe("the driver wire's frames", () => {
  it("carries bytes as base64 both ways, Buffers and Uint8Arrays alike", () => {
    const text = JSON.stringify({ a: Buffer.from([1, 2, 3]), b: { c: new Uint8Array([255]) } }, encodeBytes);
    expect(JSON.parse(text)).toEqual({ a: { $bytes: "AQID" }, b: { c: { $bytes: "/w==" } } });
    const decoded = decodeBytes(JSON.parse(text)) as { a: Uint8Array; b: { c: Uint8Array } };
    expect([...decoded.a]).toEqual([1, 2, 3]);
    expect([...decoded.b.c]).toEqual([255]);
  });

  it("accepts the replies and events a driver sends, and refuses anything else", () => {
    expect(parseDriverFrame({ id: 3, result: "pong" })).toEqual({ kind: "reply", reply: { id: 3, result: "pong" } });
    expect(parseDriverFrame({ event: "keys", keys: [], scanError: null }).kind).toBe("event");
    for (const garbage of [null, 7, [], { id: 0 }, { id: 1, extra: true }, { event: "other" }, { event: "keys", keys: [{ serial: 1 }], scanError: null }, { id: 1, error: { code: "NOPE", message: "x" } }]) {
      expect(() => parseDriverFrame(garbage), JSON.stringify(garbage)).toThrow(YztError);
    }
  });

  it("refuses a request for a call the driver does not know, or a key without a generation", () => {
    expect(parseDriverRequest({ id: 1, call: "sign", key: { serial: "S", generation: 2 }, args: {} }).call).toBe("sign");
    expect(() => parseDriverRequest({ id: 1, call: "format" })).toThrow(/call/);
    expect(() => parseDriverRequest({ id: 1, call: "sign", key: { serial: "S" } })).toThrow(/generation/);
  });
});

describe("a signature's certificate", () => {
  /** A driver with one key that logs whether each sign request carried the certificate, and dies on input 0xEE. */
  const SIGNING_DRIVER = `
    const fs = require("node:fs");
    const key = { serial: "S1", label: "L", manufacturer: "M", model: "X", generation: 1, opensEnvelopes: false, pin: { retriesLeft: 10, countLow: false, finalTry: false, locked: false, mustChange: false } };
    frame({ event: "loaded", error: null }); frame({ event: "keys", keys: [key], scanError: null });
    let pending = Buffer.alloc(0);
    process.stdin.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32LE(0)) {
        const request = JSON.parse(pending.subarray(4, 4 + pending.readUInt32LE(0)).toString());
        pending = pending.subarray(4 + pending.readUInt32LE(0));
        if (request.call !== "sign") { frame({ id: request.id, result: null }); continue; }
        if (Buffer.from(request.args.input.$bytes, "base64")[0] === 0xee) process.exit(1);
        fs.appendFileSync(process.env.YZT_TEST_LOG, (request.args.certificate ? request.args.certificate.$bytes : "-") + "\\n");
        frame({ id: request.id, result: { $bytes: "AQID" } });
      }
    });
    setInterval(() => {}, 1000);`;

  it("travels on a key's first signature through a driver, again only when it changed or the driver was restarted", async () => {
    const log = join(dir, "sign.log");
    process.env.YZT_TEST_LOG = log;
    const driver = scriptedDriver(SIGNING_DRIVER);
    await driver.settled();
    const device = driver.openKey({ serial: "S1", label: "L", manufacturer: "M", model: "X" });
    const certificate = (der: number[]) => ({ der: new Uint8Array(der), keyAlgorithm: "RSA" }) as unknown as ParsedCertificate;
    const sign = (der: number[], input = [1]) => device.signingKey("0101", certificate(der)).primitive!(new Uint8Array(input));
    await sign([1, 2]);
    await sign([1, 2]);
    await sign([3, 4]);
    await sign([3, 4]);
    await expect(sign([3, 4], [0xee])).rejects.toMatchObject({ code: "HOST_ERROR" });
    await until(() => driver.health.state === "ready" && driver.generationOf("S1") === 1);
    await sign([3, 4]);
    expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(["AQI=", "-", "AwQ=", "-", "AwQ="]);
    delete process.env.YZT_TEST_LOG;
  });
});

describe("a driver that misbehaves", () => {
  it("answering garbage is a crashed driver: its call fails HOST_ERROR naming the library and the vendor call", async () => {
    const driver = scriptedDriver(`frame({ event: "loaded", error: null }); frame({ event: "keys", keys: [], scanError: null }); process.stdin.on("data", () => frame({ id: "one", result: 1 })); setInterval(() => {}, 1000);`);
    await driver.settled();
    const failure = await driver.call("ping").then(() => null, (error: unknown) => error as YztError);
    expect(failure).toMatchObject({ code: "HOST_ERROR" });
    expect(failure!.message).toContain(driver.candidate.path);
    expect(failure!.message).toContain("SKF_EnumDev");
    await until(() => driver.health.lastFailure !== undefined);
    expect(driver.health.lastFailure).toMatchObject({ kind: "garbage" });
  });

  it("not answering within the limit is killed: TIMEOUT for the call that hung", async () => {
    const driver = scriptedDriver(`frame({ event: "loaded", error: null }); frame({ event: "keys", keys: [], scanError: null }); setInterval(() => {}, 1000);`);
    await driver.settled();
    const failure = await driver.call("ping").then(() => null, (error: unknown) => error as YztError);
    expect(failure).toMatchObject({ code: "TIMEOUT" });
    expect(driver.health.lastFailure).toMatchObject({ kind: "hung" });
  });

  it(`dying again and again is restarted with back-off, then quarantined after ${MAX_FAILURES} failures, for that file only`, async () => {
    const path = join(dir, "libcrashing.so");
    const driver = scriptedDriver(`process.kill(process.pid, "SIGSEGV");`, path);
    await until(() => driver.health.state === "quarantined");
    expect(driver.health).toMatchObject({ recentFailures: MAX_FAILURES, lastFailure: { kind: "crashed", detail: "signal SIGSEGV" } });
    const store = new QuarantineStore({ YZT_CONFIG_DIR: dir });
    expect(store.find(path)).toMatchObject({ reason: "crashed: signal SIGSEGV" });
    // A vendor update (another file at the same path) lifts it; so does clearing the store.
    utimesSync(path, new Date(), new Date(Date.now() + 60_000));
    expect(store.find(path)).toBeUndefined();
    expect(store.clear()).toEqual([path]);
  });
});
