/**
 * The native host process over real stdio framing, against the virtual token (SoftHSM2 behind the shim).
 * Signatures are checked by OpenSSL; removal, PIN locking and malformed input are exercised for real.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginMessage } from "../../protocol/login-token.js";
import type { YztCertificate } from "../../protocol/types.js";
import { HostProcess, rejectionOf } from "../../scripts/host-process.js";
import { testBackend } from "../virtual-token/backend.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { insertToken, removeToken, setLatency, untilBusy } from "../virtual-token/state.js";

const ORIGIN = "https://etax.beijing.chinatax.gov.cn";
const OTHER_ORIGIN = "https://other.example.cn";
const PIN = "12345678";
const DEMO_SERIAL = "YZT0000000000001";
/** Most of this file checks RSA signatures with OpenSSL, so it uses the RSA key instead of the SM2 demo key. */
const KEY = "rsa";
const KEY_SERIAL = "YZT0000000000005";

let vtoken: VirtualToken;
let host: HostProcess;
let work: string;
let signCert: YztCertificate;
let encCert: YztCertificate;

function file(name: string, content: Buffer | string): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

function openssl(args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function opensslFails(args: string[]): boolean {
  try {
    openssl(args);
    return false;
  } catch {
    return true;
  }
}

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  removeToken(vtoken.home, "demo");
  insertToken(vtoken.home, KEY);
  work = mkdtempSync(join(tmpdir(), "yzt-host-test-"));
  host = HostProcess.start({ library: vtoken.library, env: vtoken.env });
  const certificates = await host.request("listCertificates", {});
  signCert = certificates.find((c) => c.tokenSerial === KEY_SERIAL && c.purpose === "sign")!;
  encCert = certificates.find((c) => c.tokenSerial === KEY_SERIAL && c.purpose === "encrypt")!;
}, 60_000);

afterAll(async () => {
  await host?.close();
  vtoken?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("native host against the virtual token", () => {
  it("answers hello with its version and protocol 1", async () => {
    const hello = await host.request("hello", {});
    expect(hello.protocol).toBe(1);
    expect(hello.modules).toEqual([vtoken.library.path]);
  });

  it("lists the inserted demo token with full PIN retries", async () => {
    const tokens = await host.request("listTokens", {});
    const demo = tokens.find((t) => t.serial === KEY_SERIAL);
    expect(demo).toMatchObject({ label: "BJ-YZT RSA", present: true, loggedIn: false, manufacturer: "yzt-bridge virtual token" });
    expect(demo!.pin).toEqual({ retriesLeft: 10, countLow: false, finalTry: false, locked: false, mustChange: false });
    expect(tokens.filter((t) => t.present)).toHaveLength(1);
  });

  it("lists the demo company's signing and encryption certificates with every API field", async () => {
    expect(signCert).toMatchObject({
      id: vtoken.certificateId(KEY_SERIAL, "0101"), tokenLabel: "BJ-YZT RSA", holderName: "北京演示科技有限公司",
      purpose: "sign", keyAlgorithm: "RSA", status: "valid", keyUsage: ["digitalSignature", "nonRepudiation"],
    });
    expect(signCert.creditCode).toMatch(/^91110108MA01[0-9A-Z]{6}$/);
    expect(signCert.subject).toMatchObject({ O: "北京演示科技有限公司", CN: "北京演示科技有限公司", C: "CN" });
    expect(signCert.issuer.CN).toBe("YZT Demo Sub CA");
    expect(signCert.daysLeft).toBeGreaterThan(600);
    expect(encCert).toMatchObject({ purpose: "encrypt", holderName: "北京演示科技有限公司" });
    const filtered = await host.request("listCertificates", { purpose: "encrypt" });
    expect(filtered.map((c) => c.id)).toEqual([encCert.id]);
  });

  it("refuses to sign for an origin that never logged in (LOGIN_REQUIRED)", async () => {
    const error = await rejectionOf(host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "raw", data: "aGVsbG8=" }));
    expect(error.code).toBe("LOGIN_REQUIRED");
  });

  it("logs in with the PIN and returns an origin-bound login token that verifies with OpenSSL", async () => {
    const challenge = "challenge-0123456789abcdef";
    const result = await host.request("login", { certificateId: signCert.id, origin: ORIGIN, pin: PIN, challenge });
    const token = result.loginToken!;
    expect(token).toMatchObject({ format: "yzt-login:1", algorithm: "RS256", origin: ORIGIN, challenge, certificate: signCert.der });
    const certPem = file("login-cert.der", Buffer.from(token.certificate, "base64"));
    const pubkey = openssl(["x509", "-inform", "DER", "-in", certPem, "-pubkey", "-noout"]);
    const pubPath = file("login-pub.pem", pubkey);
    const message = file("login-message.bin", loginMessage(ORIGIN, challenge));
    const signature = file("login-sig.bin", Buffer.from(token.signature, "base64"));
    expect(openssl(["dgst", "-sha256", "-verify", pubPath, "-signature", signature, message])).toContain("Verified OK");
    const otherOrigin = file("login-other.bin", loginMessage(OTHER_ORIGIN, challenge));
    expect(opensslFails(["dgst", "-sha256", "-verify", pubPath, "-signature", signature, otherOrigin])).toBe(true);
    const tokens = await host.request("listTokens", {});
    expect(tokens.find((t) => t.serial === KEY_SERIAL)!.loggedIn).toBe(true);
  });

  it("signs raw data (PKCS#1 v1.5 over SHA-256) verifiable by openssl dgst", async () => {
    const data = Buffer.from("申报数据 raw signature test");
    const result = await host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "raw", data: data.toString("base64") });
    expect(result.algorithm).toBe("sha256WithRSAEncryption");
    const pub = file("raw-pub.pem", openssl(["x509", "-inform", "DER", "-in", file("raw-cert.der", Buffer.from(result.certificate, "base64")), "-pubkey", "-noout"]));
    expect(openssl(["dgst", "-sha256", "-verify", pub, "-signature", file("raw.sig", Buffer.from(result.signature, "base64")), file("raw.bin", data)])).toContain("Verified OK");
  });

  it("builds a detached CMS that openssl cms -verify accepts against the demo CA, and rejects tampered content", async () => {
    const data = Buffer.from("<申报表><金额>1000.00</金额></申报表>");
    const result = await host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "pkcs7-detached", data: data.toString("base64") });
    const sig = file("detached.p7s", Buffer.from(result.signature, "base64"));
    const content = file("detached.xml", data);
    const verify = (contentPath: string) =>
      openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", contentPath, "-CAfile", vtoken.manifest.pki.chain, "-purpose", "any", "-out", "/dev/null"]);
    expect(() => verify(content)).not.toThrow();
    const tampered = file("tampered.xml", Buffer.from("<申报表><金额>9000.00</金额></申报表>"));
    expect(() => verify(tampered)).toThrow();
    const printed = openssl(["cms", "-cmsout", "-print", "-inform", "DER", "-in", sig]);
    for (const attribute of ["contentType", "messageDigest", "signingTime"]) expect(printed).toContain(attribute);
  });

  it("builds an attached CMS that carries the content", async () => {
    const data = Buffer.from("attached content 附件");
    const result = await host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "pkcs7-attached", data: data.toString("base64") });
    const sig = file("attached.p7s", Buffer.from(result.signature, "base64"));
    const out = join(work, "attached.out");
    openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-CAfile", vtoken.manifest.pki.chain, "-purpose", "any", "-out", out]);
    expect(execFileSync("cat", [out])).toEqual(data);
  });

  it("signs a given digest for a detached CMS", async () => {
    const data = Buffer.from("digest only");
    const digest = execFileSync("openssl", ["dgst", "-sha256", "-binary"], { input: data });
    const result = await host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "pkcs7-detached", digest: digest.toString("base64") });
    const sig = file("digest.p7s", Buffer.from(result.signature, "base64"));
    openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", file("digest.bin", data), "-CAfile", vtoken.manifest.pki.chain, "-purpose", "any", "-out", "/dev/null"]);
  });

  it("keeps the session per origin: another origin must log in itself", async () => {
    expect(await host.request("sessionStatus", { origin: ORIGIN, tokenSerial: KEY_SERIAL })).toEqual({ active: true });
    expect(await host.request("sessionStatus", { origin: OTHER_ORIGIN, tokenSerial: KEY_SERIAL })).toEqual({ active: false });
    const error = await rejectionOf(host.request("sign", { certificateId: signCert.id, origin: OTHER_ORIGIN, format: "raw", data: "aGk=" }));
    expect(error.code).toBe("LOGIN_REQUIRED");
  });

  it("serialises concurrent signs on one token and all of them succeed", async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "raw", data: Buffer.from(`doc ${i}`).toString("base64") })),
    );
    expect(new Set(results.map((r) => r.signature)).size).toBe(12);
  });

  it("logout ends the origin's session and emits sessionended", async () => {
    await host.request("logout", { origin: ORIGIN });
    await host.waitForEvent((e) => e.event === "sessionended" && e.data.reason === "logout");
    expect(await host.request("sessionStatus", { origin: ORIGIN, tokenSerial: KEY_SERIAL })).toEqual({ active: false });
  });

  it("refuses an expired certificate with CERT_EXPIRED", async () => {
    insertToken(vtoken.home, "expired");
    await host.waitForEvent((e) => e.event === "tokeninserted" && e.data.tokenSerial === "YZT0000000000003");
    const expired = (await host.request("listCertificates", {})).find((c) => c.tokenSerial === "YZT0000000000003")!;
    expect(expired.status).toBe("expired");
    expect(expired.daysLeft).toBeLessThan(0);
    const error = await rejectionOf(host.request("login", { certificateId: expired.id, origin: ORIGIN, pin: PIN }));
    expect(error.code).toBe("CERT_EXPIRED");
    removeToken(vtoken.home, "expired");
    await host.waitForEvent((e) => e.event === "tokenremoved" && e.data.tokenSerial === "YZT0000000000003");
  });

  it("reports an expiring certificate (10 days)", async () => {
    insertToken(vtoken.home, "expiring");
    await host.waitForEvent((e) => e.event === "tokeninserted" && e.data.tokenSerial === "YZT0000000000004");
    const expiring = (await host.request("listCertificates", {})).find((c) => c.tokenSerial === "YZT0000000000004")!;
    expect(expiring).toMatchObject({ status: "expiring", daysLeft: 10 });
    removeToken(vtoken.home, "expiring");
    await host.waitForEvent((e) => e.event === "tokenremoved" && e.data.tokenSerial === "YZT0000000000004");
  });

  // GM/T 0016 keys hold SM2 and RSA pairs only: a P-256 key exists on the PKCS#11 face alone.
  it.runIf(testBackend() === "pkcs11")("signs ES256 with an EC P-256 certificate", async () => {
    insertToken(vtoken.home, "ec");
    await host.waitForEvent((e) => e.event === "tokeninserted" && e.data.tokenSerial === "YZT0000000000002");
    const all = await host.request("listCertificates", {});
    const ec = all.find((c) => c.tokenSerial === "YZT0000000000002" && c.purpose === "sign")!;
    expect(ec.keyAlgorithm).toBe("EC");
    const challenge = "ec-challenge-0123456789";
    const { loginToken } = await host.request("login", { certificateId: ec.id, origin: ORIGIN, pin: PIN, challenge });
    expect(loginToken!.algorithm).toBe("ES256");
    expect(Buffer.from(loginToken!.signature, "base64")).toHaveLength(64);
    const raw = await host.request("sign", { certificateId: ec.id, origin: ORIGIN, format: "raw", data: Buffer.from("ec data").toString("base64") });
    const pub = file("ec-pub.pem", openssl(["x509", "-inform", "DER", "-in", file("ec.der", Buffer.from(raw.certificate, "base64")), "-pubkey", "-noout"]));
    expect(openssl(["dgst", "-sha256", "-verify", pub, "-signature", file("ec.sig", Buffer.from(raw.signature, "base64")), file("ec.bin", Buffer.from("ec data"))])).toContain("Verified OK");
    const cms = await host.request("sign", { certificateId: ec.id, origin: ORIGIN, format: "pkcs7-detached", data: Buffer.from("ec cms").toString("base64") });
    openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", file("ec.p7s", Buffer.from(cms.signature, "base64")), "-content", file("ec-cms.bin", Buffer.from("ec cms")), "-CAfile", vtoken.manifest.pki.chain, "-purpose", "any", "-out", "/dev/null"]);
    removeToken(vtoken.home, "ec");
    await host.waitForEvent((e) => e.event === "tokenremoved" && e.data.tokenSerial === "YZT0000000000002");
  });

  it("returns TOKEN_REMOVED when the key is pulled during a slow sign, long before the sign would end, and works again after reinsertion", async () => {
    await host.request("login", { certificateId: signCert.id, origin: ORIGIN, pin: PIN });
    const latencyMs = 20_000;
    setLatency(vtoken.home, KEY, latencyMs);
    const pending = rejectionOf(host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "raw", data: "c2xvdw==" }));
    await untilBusy(vtoken.home, KEY);
    const pulledAt = Date.now();
    removeToken(vtoken.home, KEY);
    const error = await pending;
    expect(error.code).toBe("TOKEN_REMOVED");
    // How soon is the benchmark's business; here: the removal cut the signature short.
    expect(Date.now() - pulledAt).toBeLessThan(latencyMs);
    await host.waitForEvent((e) => e.event === "tokenremoved" && e.data.tokenSerial === KEY_SERIAL);
    await host.waitForEvent((e) => e.event === "sessionended" && e.data.reason === "removed");
    setLatency(vtoken.home, KEY, 0);
    insertToken(vtoken.home, KEY);
    await host.waitForEvent((e) => e.event === "tokeninserted" && e.data.tokenSerial === KEY_SERIAL && host.events.indexOf(e) > host.events.findIndex((x) => x.event === "tokenremoved" && x.data.tokenSerial === KEY_SERIAL));
    const stale = await rejectionOf(host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "raw", data: "YWZ0ZXI=" }));
    expect(stale.code).toBe("LOGIN_REQUIRED");
    await host.request("login", { certificateId: signCert.id, origin: ORIGIN, pin: PIN });
    await expect(host.request("sign", { certificateId: signCert.id, origin: ORIGIN, format: "raw", data: "YWZ0ZXI=" })).resolves.toHaveProperty("signature");
  });

  it("reports NO_TOKEN for a removed token and NO_CERTIFICATE for an unknown id", async () => {
    expect((await rejectionOf(host.request("login", { certificateId: "YZT0000000000003:0101", origin: ORIGIN, pin: PIN }))).code).toBe("NO_TOKEN");
    // A key never listed (pulled out before its library first answered, or never inserted) is not inserted either.
    expect(await rejectionOf(host.request("sign", { certificateId: "YZT9999999999999:0101", origin: ORIGIN, format: "raw", data: "aGk=" }))).toMatchObject({ code: "NO_TOKEN", data: { tokenSerial: "YZT9999999999999" } });
    expect((await rejectionOf(host.request("login", { certificateId: `${KEY_SERIAL}:0909`, origin: ORIGIN, pin: PIN }))).code).toBe("NO_CERTIFICATE");
  });

  it("changes the PIN, rejects a wrong old PIN with retries left, and refuses too-short PINs", async () => {
    const wrong = await rejectionOf(host.request("changePin", { tokenSerial: KEY_SERIAL, oldPin: "00000000", newPin: "87654321" }));
    expect(wrong.code).toBe("PIN_INCORRECT");
    expect(wrong.data?.retriesLeft).toBe(9);
    expect((await rejectionOf(host.request("changePin", { tokenSerial: KEY_SERIAL, oldPin: PIN, newPin: "12" }))).code).toBe("PIN_INVALID");
    await host.request("changePin", { tokenSerial: KEY_SERIAL, oldPin: PIN, newPin: "24681357" });
    await host.request("login", { certificateId: signCert.id, origin: OTHER_ORIGIN, pin: "24681357" });
    await host.request("changePin", { tokenSerial: KEY_SERIAL, oldPin: "24681357", newPin: PIN });
    const demo = (await host.request("listTokens", {})).find((t) => t.serial === KEY_SERIAL)!;
    expect(demo.pin.retriesLeft).toBe(10);
  });

  it("diagnoses module, token, PIN, certificate validity and chain", async () => {
    const report = await host.request("diagnose", {});
    const byId = (id: string) => report.checks.filter((c) => c.id === id);
    expect(byId("module")[0]).toMatchObject({ status: "ok" });
    expect(byId("token")[0]).toMatchObject({ status: "ok" });
    expect(byId("certificate").map((c) => c.status)).toEqual(["ok", "ok"]);
    expect(byId("chain").every((c) => c.status === "ok")).toBe(true);
  });

  it("ends an idle session after the configured timeout and logs the token out", async () => {
    expect(await host.request("configure", { idleTimeoutSeconds: 1 })).toEqual({ idleTimeoutSeconds: 1 });
    await host.request("login", { certificateId: signCert.id, origin: ORIGIN, pin: PIN });
    const started = Date.now();
    await host.waitForEvent((e) => e.event === "sessionended" && e.data.reason === "idle" && (e.data.origins ?? []).includes(ORIGIN), 5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(await host.request("sessionStatus", { origin: ORIGIN, tokenSerial: KEY_SERIAL })).toEqual({ active: false });
    expect((await host.request("listTokens", {})).find((t) => t.serial === KEY_SERIAL)!.loggedIn).toBe(false);
    await host.request("configure", { idleTimeoutSeconds: 1800 });
  });

  it("answers malformed frames with BAD_REQUEST and keeps serving", async () => {
    const bad = Buffer.alloc(4 + 7);
    bad.writeUInt32LE(7, 0);
    bad.write("{broken", 4);
    host.sendRaw(bad);
    const huge = Buffer.alloc(4);
    huge.writeUInt32LE(9 * 1024 * 1024, 0);
    host.sendRaw(Buffer.concat([huge, Buffer.alloc(9 * 1024 * 1024, 0x20)]));
    const unknown = await rejectionOf(host.request("selfDestruct" as "hello", {}));
    expect(unknown.code).toBe("BAD_REQUEST");
    expect(unknown.message).toContain("selfDestruct");
    await expect(host.request("hello", {})).resolves.toHaveProperty("protocol", 1);
    expect(host.unaddressed.map((e) => e.code)).toEqual(["BAD_REQUEST", "BAD_REQUEST"]);
  });
});

describe("PIN lock on the virtual token", () => {
  it("locks the PIN after 10 wrong tries and reports PIN_LOCKED; SO unlock restores login", async () => {
    const local = await cloneVirtualToken();
    const lockHost = HostProcess.start({ library: local.library, env: local.env });
    try {
      const [cert] = await lockHost.request("listCertificates", { purpose: "sign" });
      const retries: unknown[] = [];
      for (let i = 0; i < 9; i++) {
        const error = await rejectionOf(lockHost.request("login", { certificateId: cert!.id, origin: ORIGIN, pin: "00000000" }));
        expect(error.code).toBe("PIN_INCORRECT");
        retries.push(error.data?.retriesLeft);
      }
      expect(retries).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
      const demo = (await lockHost.request("listTokens", {})).find((t) => t.serial === DEMO_SERIAL)!;
      expect(demo.pin).toMatchObject({ finalTry: true, retriesLeft: 1 });
      const tenth = await rejectionOf(lockHost.request("login", { certificateId: cert!.id, origin: ORIGIN, pin: "00000000" }));
      expect(tenth.code).toBe("PIN_LOCKED");
      const right = await rejectionOf(lockHost.request("login", { certificateId: cert!.id, origin: ORIGIN, pin: PIN }));
      expect(right.code).toBe("PIN_LOCKED");
      expect((await lockHost.request("listTokens", {})).find((t) => t.serial === DEMO_SERIAL)!.pin).toMatchObject({ locked: true, retriesLeft: 0 });
      local.unlock("demo");
      await expect(lockHost.request("login", { certificateId: cert!.id, origin: ORIGIN, pin: PIN })).resolves.toHaveProperty("tokenSerial", DEMO_SERIAL);
    } finally {
      await lockHost.close();
      local.dispose();
    }
  }, 60_000);
});
