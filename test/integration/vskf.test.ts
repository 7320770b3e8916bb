/**
 * The virtual SKF key (libyzt-vskf.so, test/virtual-token/skf.c): the virtual keys through a GM/T 0016 SKF
 * library, driven from a small C program (skf-selftest.c) as a vendor library is driven, and checked with the
 * OpenSSL CLI and the manifest's certificates and escrow keys: enumeration and removal, PINs with the shim's
 * counters, SM2 and RSA signatures, session-key import with SM4 decryption, events, the two broken variants, and
 * the certificate life cycle (new containers, key pairs, certificates, the CA's enveloped encryption pair) through
 * the standard and the LP64 build.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createCipheriv, createHash, createPublicKey, publicEncrypt, randomBytes, verify, X509Certificate, constants } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sm2Encrypt } from "../../crypto/sm2-encrypt.js";
import { readTlv } from "../../protocol/der.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { buildSkf, repoRoot } from "../virtual-token/build.js";
import { createDemoCa, DAY, generateSm2Key, issueCertificate, type DemoCa } from "../virtual-token/demo-pki.js";
import type { VtokenCertificate } from "../virtual-token/manifest.js";
import { sm2PublicKeyPem, type Sm2KeyMaterial } from "../virtual-token/sm2-import.js";
import {
  getRetries, getSoRetries, insertToken, removeToken, setLatency, setPinToBeChanged, setSoRetries, untilBusy,
} from "../virtual-token/state.js";

/** SAR codes (GM/T 0016-2012) the library answers. */
const SAR = {
  OK: 0,
  INVALIDHANDLEERR: 0x0a000005,
  KEYUSAGEERR: 0x0a00000a,
  INDATALENERR: 0x0a000010,
  INDATAERR: 0x0a000011,
  NOTSUPPORTYETERR: 0x0a000003,
  NAMELENERR: 0x0a000009,
  MODULUSLENERR: 0x0a00000b,
  KEYNOTFOUNTERR: 0x0a00001b,
  CERTNOTFOUNTERR: 0x0a00001c,
  BUFFER_TOO_SMALL: 0x0a000020,
  NOT_EVENTERR: 0x0a000022,
  DEVICE_REMOVED: 0x0a000023,
  PIN_INCORRECT: 0x0a000024,
  PIN_LOCKED: 0x0a000025,
  USER_NOT_LOGGED_IN: 0x0a00002d,
  APPLICATION_NOT_EXISTS: 0x0a00002e,
  FILE_ALREADY_EXIST: 0x0a00002f,
  CONTAINER_NOT_EXIST: 0x0a000034,
} as const;
const SGD_SM4_ECB = 0x401;
const SGD_SM4_CBC = 0x402;
const USER = 1;
const ADMIN = 0;
/** Device names: the keys' serials (provision.ts). */
const SERIAL = { demo: "", ec: "", rsa: "", mixed: "", office01: "" };
const SM2_ID = "1234567812345678";

const EXPORTS = [
  "SKF_CancelWaitForDevEvent", "SKF_ChangePIN", "SKF_ClearSecureState", "SKF_CloseApplication", "SKF_CloseContainer", "SKF_CloseHandle",
  "SKF_ConnectDev", "SKF_CreateContainer", "SKF_Decrypt", "SKF_DecryptFinal", "SKF_DecryptInit", "SKF_DecryptUpdate", "SKF_DeleteContainer",
  "SKF_DisConnectDev", "SKF_ECCDecrypt", "SKF_ECCPrvKeyDecrypt", "SKF_ECCSignData", "SKF_EnumApplication", "SKF_EnumContainer", "SKF_EnumDev",
  "SKF_ExportCertificate", "SKF_ExportPublicKey", "SKF_GenECCKeyPair", "SKF_GenRSAKeyPair", "SKF_GetContainerType", "SKF_GetDevInfo",
  "SKF_GetDevState", "SKF_GetPINInfo", "SKF_ImportCertificate", "SKF_ImportECCKeyPair", "SKF_ImportSessionKey", "SKF_OpenApplication",
  "SKF_OpenContainer", "SKF_RSASignData", "SKF_UnblockPIN", "SKF_VerifyPIN", "SKF_WaitForDevEvent",
];

let vtoken: VirtualToken;
let work: string;
/** skf-selftest for libraries with GM/T 0016's 32-bit ULONG, and one built for the LP64 variant's 64-bit ULONG. */
let selftest: string;
let selftestLp64: string;
let PIN: string;
let SO_PIN: string;
const drivers: SkfDriver[] = [];

/** One answer line of skf-selftest: key=value fields; rv as a number (NaN for "missing", "pending"…). */
class Answer {
  readonly fields: Record<string, string> = {};
  constructor(readonly line: string) {
    for (const field of line.trim().split(/\s+/)) {
      const at = field.indexOf("=");
      if (at > 0) this.fields[field.slice(0, at)] = field.slice(at + 1);
    }
  }
  get rv(): number {
    return /^0x[0-9a-f]+$/i.test(this.fields.rv ?? "") ? Number(this.fields.rv) : Number.NaN;
  }
  get(name: string): string {
    const value = this.fields[name];
    if (value === undefined) throw new Error(`no ${name} in "${this.line}"`);
    return value;
  }
  num(name: string): number {
    return Number(this.get(name));
  }
  bytes(name: string): Buffer {
    const value = this.get(name);
    return value === "-" ? Buffer.alloc(0) : Buffer.from(value, "hex");
  }
  names(): string[] {
    const value = this.get("names");
    return value === "-" ? [] : value.split(",");
  }
}

/** skf-selftest with one library loaded: a command a line in, an answer a line out. */
class SkfDriver {
  private readonly child: ChildProcessWithoutNullStreams;
  private pending = "";
  private readonly lines: string[] = [];
  private readonly waiters: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  private stderr = "";
  private exited = false;

  constructor(library: string, binary = selftest) {
    // No YZT_VTOKEN_HOME: the library must find the shim, and the shim its home, from its own directory.
    const env = { ...process.env };
    delete env.YZT_VTOKEN_HOME;
    this.child = spawn(binary, [library], { env, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => {
      this.pending += chunk;
      let newline: number;
      while ((newline = this.pending.indexOf("\n")) >= 0) {
        const line = this.pending.slice(0, newline);
        this.pending = this.pending.slice(newline + 1);
        const waiter = this.waiters.shift();
        if (waiter) waiter.resolve(line);
        else this.lines.push(line);
      }
    });
    this.child.stderr.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.child.on("exit", (code, signal) => {
      this.exited = true;
      for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(`skf-selftest exited (${code ?? signal}): ${this.stderr}`));
    });
    drivers.push(this);
  }

  async call(command: string): Promise<Answer> {
    if (this.exited) throw new Error(`skf-selftest has exited: ${this.stderr}`);
    if (this.lines.length > 0) throw new Error(`skf-selftest answered more than asked: ${this.lines.join(" | ")}`);
    const line = await new Promise<string>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.child.stdin.write(`${command}\n`);
    });
    return new Answer(line);
  }

  /** Runs commands in order and checks each answered SAR_OK. */
  async ok(...commands: string[]): Promise<Answer[]> {
    const answers: Answer[] = [];
    for (const command of commands) {
      const answer = await this.call(command);
      expect(answer.rv, `${command} -> ${answer.line}`).toBe(SAR.OK);
      answers.push(answer);
    }
    return answers;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdin.end("quit\n");
    await exited;
  }
}

function start(library = vtoken.manifest.skfModule, binary = selftest): SkfDriver {
  return new SkfDriver(library, binary);
}

/** Connects to a key, opens the application and (optionally) a container, verifying the user PIN if asked. */
async function session(serial: string, options: { container?: string; pin?: boolean; library?: string; binary?: string } = {}): Promise<SkfDriver> {
  const skf = start(options.library, options.binary);
  await skf.ok(`connect ${serial}`, "openapp");
  if (options.pin) await skf.ok(`verify ${USER} ${PIN}`);
  if (options.container) await skf.ok(`opencon ${options.container}`);
  return skf;
}

function certificate(alias: string, purpose: "sign" | "encrypt", ckaId?: string): VtokenCertificate {
  const token = vtoken.manifest.tokens.find((t) => t.alias === alias);
  const cert = token?.certificates.find((c) => c.purpose === purpose && (!ckaId || c.ckaId === ckaId));
  if (!cert) throw new Error(`no ${purpose} certificate on ${alias}`);
  return cert;
}

function derOf(pem: string): Buffer {
  return new X509Certificate(pem).raw;
}

let fileCount = 0;
function file(name: string, content: string | Buffer): string {
  const path = join(work, `${fileCount++}-${name}`);
  writeFileSync(path, content);
  return path;
}

/** A copy of bytes with one bit of byte `at` flipped. */
function flipped(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeUInt8(copy.readUInt8(at) ^ 0x01, at);
  return copy;
}

function opensslSucceeds(args: string[]): boolean {
  try {
    execFileSync("openssl", args, { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

// ---------- SM2 the test computes itself ----------

const SM2_CURVE = Buffer.from(
  "fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc" + "28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93" +
    "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7" + "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0",
  "hex",
);

/** e = SM3(Z ‖ M), Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) (GM/T 0003.2): what a caller passes to SKF_ECCSignData. */
function sm2E(xy: Buffer, message: Buffer, id = SM2_ID): Buffer {
  const entl = Buffer.alloc(2);
  entl.writeUInt16BE(id.length * 8);
  const z = createHash("sm3").update(Buffer.concat([entl, Buffer.from(id), SM2_CURVE, xy])).digest();
  return createHash("sm3").update(Buffer.concat([z, message])).digest();
}

/** The 64-byte x ‖ y of an ECCPUBLICKEYBLOB { BitLen, X[64], Y[64] } (256-bit values right-aligned). */
function blobPoint(blob: Buffer): Buffer {
  expect(blob.length).toBe(132);
  expect(blob.readUInt32LE(0)).toBe(256);
  expect(blob.subarray(4, 36).equals(Buffer.alloc(32))).toBe(true);
  expect(blob.subarray(68, 100).equals(Buffer.alloc(32))).toBe(true);
  return Buffer.concat([blob.subarray(36, 68), blob.subarray(100, 132)]);
}

/** The certificate's SM2 point x ‖ y (SubjectPublicKeyInfo ends with the 65-byte 04 ‖ x ‖ y). */
function certPoint(pem: string): Buffer {
  const spki = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  return spki.subarray(spki.length - 64);
}

function derInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const body = bytes[i]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes.subarray(i)]) : bytes.subarray(i);
  return Buffer.concat([Buffer.from([0x02, body.length]), body]);
}

function rsToDer(r: Buffer, s: Buffer): Buffer {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

function sm2Verifies(certPem: string, message: Buffer, r: Buffer, s: Buffer): boolean {
  return opensslSucceeds([
    "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-certin", "-inkey", file("cert.pem", certPem), "-in", file("msg.bin", message),
    "-sigfile", file("sig.der", rsToDer(r, s)), "-pkeyopt", `distid:${SM2_ID}`,
  ]);
}

/**
 * A GM/T 0009 DER SM2 ciphertext (SEQUENCE { INTEGER x, INTEGER y, OCTET STRING hash, OCTET STRING cipher }) repacked
 * as an ECCCIPHERBLOB { X[64], Y[64], HASH[32], CipherLen (little-endian 32-bit ULONG), Cipher[] }.
 */
function cipherBlobOf(der: Buffer): Buffer {
  const sequence = readTlv(der, 0);
  const x = readTlv(der, sequence.start);
  const y = readTlv(der, x.end);
  const hash = readTlv(der, y.end);
  const cipher = readTlv(der, hash.end);
  const field = (tlv: { start: number; end: number }) => {
    let value = der.subarray(tlv.start, tlv.end);
    while (value.length > 32 && value[0] === 0) value = value.subarray(1);
    return Buffer.concat([Buffer.alloc(64 - value.length), value]);
  };
  return Buffer.concat([field(x), field(y), der.subarray(hash.start, hash.end), u32(cipher.end - cipher.start), der.subarray(cipher.start, cipher.end)]);
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
}

/** SM2-encrypts with the certificate's public key (OpenSSL: GM/T 0009 DER), and the same as an ECCCIPHERBLOB. */
function sm2EncryptToBlob(certPem: string, plaintext: Buffer): { der: Buffer; blob: Buffer } {
  const out = join(work, `${fileCount++}-sm2.der`);
  execFileSync("openssl", ["pkeyutl", "-encrypt", "-certin", "-inkey", file("enc.pem", certPem), "-in", file("plain.bin", plaintext), "-out", out], { stdio: "pipe" });
  const der = readFileSync(out);
  return { der, blob: cipherBlobOf(der) };
}

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  for (const alias of Object.keys(SERIAL) as (keyof typeof SERIAL)[]) {
    SERIAL[alias] = vtoken.manifest.tokens.find((token) => token.alias === alias)!.serial;
  }
  PIN = vtoken.manifest.userPin;
  SO_PIN = vtoken.manifest.soPin;
  work = mkdtempSync(join(tmpdir(), "yzt-vskf-"));
  selftest = join(work, "skf-selftest");
  selftestLp64 = join(work, "skf-selftest-lp64");
  const source = join(repoRoot(), "test", "virtual-token", "skf-selftest.c");
  execFileSync("cc", ["-O1", "-Wall", "-Werror", "-o", selftest, source, "-ldl", "-lpthread"], { stdio: "pipe" });
  execFileSync("cc", ["-O1", "-Wall", "-Werror", "-DSELFTEST_LP64", "-o", selftestLp64, source, "-ldl", "-lpthread"], { stdio: "pipe" });
});

afterAll(async () => {
  await Promise.all(drivers.map((driver) => driver.close()));
  vtoken?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the virtual SKF key", () => {
  it("sits next to the shim in the home, in the manifest, and exports exactly the SKF functions", () => {
    expect(vtoken.manifest.skfModule).toBe(join(vtoken.home, "libyzt-vskf.so"));
    expect(dirname(vtoken.manifest.skfModule)).toBe(dirname(vtoken.module));
    expect(existsSync(vtoken.manifest.skfModule)).toBe(true);
    const symbols = execFileSync("nm", ["-D", "--defined-only", vtoken.manifest.skfModule], { encoding: "utf8" })
      .split("\n").map((line) => line.trim().split(/\s+/)[2]).filter((name): name is string => !!name);
    expect(symbols.sort()).toEqual([...EXPORTS].sort());
  });

  it("lists only the keys plugged in, in the SKF list format; a pulled-out key disappears", async () => {
    const skf = start();
    const first = await skf.call("enum");
    expect(first.rv).toBe(SAR.OK);
    expect(first.names()).toEqual([SERIAL.demo]);
    expect(first.num("query")).toBe(SERIAL.demo.length + 2); // name, its NUL, the list's NUL
    expect(first.get("doublenul")).toBe("1");
    const small = await skf.call("enumsmall");
    expect(small.rv).toBe(SAR.BUFFER_TOO_SMALL);
    expect(small.num("size")).toBe(SERIAL.demo.length + 2);

    insertToken(vtoken.home, "rsa");
    expect((await skf.call("enum")).names().sort()).toEqual([SERIAL.demo, SERIAL.rsa].sort());
    expect((await skf.call(`devstate ${SERIAL.rsa}`)).num("state")).toBe(1);
    removeToken(vtoken.home, "demo");
    expect((await skf.call("enum")).names()).toEqual([SERIAL.rsa]);
    expect((await skf.call(`devstate ${SERIAL.demo}`)).num("state")).toBe(0);
    expect((await skf.call(`connect ${SERIAL.demo}`)).rv).toBe(SAR.DEVICE_REMOVED);
    removeToken(vtoken.home, "rsa");
    const none = await skf.call("enum");
    expect(none.names()).toEqual([]);
    expect(none.num("query")).toBe(2); // an empty list is "\0\0"
    insertToken(vtoken.home, "demo");
    expect((await skf.call("enum")).names()).toEqual([SERIAL.demo]);
    await skf.close();
  });

  it("describes the device and holds one application, BJCA-Application", async () => {
    const skf = start();
    await skf.ok(`connect ${SERIAL.demo}`);
    const info = await skf.call("devinfo");
    expect(info.rv).toBe(SAR.OK);
    expect(info.bytes("serial").toString()).toBe(SERIAL.demo);
    expect(info.bytes("label").toString()).toBe("BJ-YZT DEMO");
    expect(info.bytes("manufacturer").toString()).toBe("yzt-bridge virtual token");
    expect(info.num("asym") & 0x00020100).toBe(0x00020100); // SGD_SM2_1
    const apps = await skf.call("apps");
    expect(apps.names()).toEqual(["BJCA-Application"]);
    expect(apps.get("doublenul")).toBe("1");
    expect((await skf.call("openapp OtherApp")).rv).toBe(SAR.APPLICATION_NOT_EXISTS);
    await skf.ok("openapp", "closeapp", "disconnect");
    await skf.close();
  });

  it("groups each algorithm's signing and encryption certificates into one container", async () => {
    const demo = await session(SERIAL.demo);
    expect((await demo.call("containers")).names()).toEqual(["SM2-0101"]);
    await demo.ok("opencon SM2-0101");
    expect((await demo.call("contype")).num("type")).toBe(2);
    const sign = await demo.call("cert 1");
    expect(sign.bytes("data").equals(derOf(certificate("demo", "sign").pem))).toBe(true);
    expect(sign.num("len")).toBe(sign.num("query"));
    expect((await demo.call("cert 0")).bytes("data").equals(derOf(certificate("demo", "encrypt").pem))).toBe(true);
    expect(blobPoint((await demo.call("pubkey 1")).bytes("data")).equals(certPoint(certificate("demo", "sign").pem))).toBe(true);
    expect(blobPoint((await demo.call("pubkey 0")).bytes("data")).equals(certPoint(certificate("demo", "encrypt").pem))).toBe(true);
    expect((await demo.call("opencon RSA-0101")).rv).not.toBe(SAR.OK);
    await demo.close();

    insertToken(vtoken.home, "mixed");
    insertToken(vtoken.home, "ec");
    try {
      const mixed = await session(SERIAL.mixed);
      expect((await mixed.call("containers")).names()).toEqual(["RSA-0101", "SM2-0303"]);
      await mixed.ok("opencon RSA-0101");
      expect((await mixed.call("contype")).num("type")).toBe(1);
      const rsaBlob = (await mixed.call("pubkey 1")).bytes("data");
      expect(rsaBlob.length).toBe(268);
      expect(rsaBlob.readUInt32LE(0)).toBe(0x00010000); // SGD_RSA
      expect(rsaBlob.readUInt32LE(4)).toBe(2048);
      const jwk = new X509Certificate(certificate("mixed", "sign", "0101").pem).publicKey.export({ format: "jwk" });
      expect(rsaBlob.subarray(8, 264).equals(Buffer.from(jwk.n!, "base64url"))).toBe(true);
      expect(rsaBlob.subarray(264, 268).toString("hex")).toBe("00010001");
      await mixed.ok("opencon SM2-0303");
      expect((await mixed.call("contype")).num("type")).toBe(2);
      expect((await mixed.call("cert 1")).bytes("data").equals(derOf(certificate("mixed", "sign", "0303").pem))).toBe(true);
      expect((await mixed.call("cert 0")).rv).toBe(SAR.CERTNOTFOUNTERR); // no SM2 encryption certificate on this key
      await mixed.close();

      // P-256 has no SKF form: the EC key shows no container.
      const ec = await session(SERIAL.ec);
      expect((await ec.call("containers")).names()).toEqual([]);
      await ec.close();
    } finally {
      removeToken(vtoken.home, "mixed");
      removeToken(vtoken.home, "ec");
    }
  });

  it("reports the shim's PIN counter: 10 of 10, 9 after a wrong PIN, 10 again after the right one", async () => {
    const skf = await session(SERIAL.demo);
    const info = await skf.call(`pininfo ${USER}`);
    expect([info.rv, info.num("max"), info.num("remain"), info.num("default")]).toEqual([SAR.OK, 10, 10, 0]);
    const wrong = await skf.call(`verify ${USER} 00000000`);
    expect([wrong.rv, wrong.num("retry")]).toEqual([SAR.PIN_INCORRECT, 9]);
    expect(getRetries(vtoken.home, "demo")).toBe(9); // the same counter the PKCS#11 side sees
    expect((await skf.call(`pininfo ${USER}`)).num("remain")).toBe(9);
    const right = await skf.call(`verify ${USER} ${PIN}`);
    expect([right.rv, right.num("retry")]).toEqual([SAR.OK, 10]);
    expect((await skf.call(`pininfo ${USER}`)).num("remain")).toBe(10);
    const admin = await skf.call(`pininfo ${ADMIN}`);
    expect([admin.num("max"), admin.num("remain")]).toEqual([10, 10]);

    // A key fresh from the issuer reports its PIN as the default one.
    setPinToBeChanged(vtoken.home, "demo", true);
    expect((await skf.call(`pininfo ${USER}`)).num("default")).toBe(1);
    setPinToBeChanged(vtoken.home, "demo", false);
    expect((await skf.call(`pininfo ${USER}`)).num("default")).toBe(0);
    await skf.close();
  });

  it("signs e = SM3(Z‖M) with the container's SM2 signing key, only after the user PIN, as OpenSSL verifies", async () => {
    const skf = await session(SERIAL.demo, { container: "SM2-0101" });
    const signCert = certificate("demo", "sign").pem;
    const point = blobPoint((await skf.call("pubkey 1")).bytes("data"));
    const message = Buffer.from("增值税申报 2024-06 北京演示科技有限公司");
    const e = sm2E(point, message);

    expect((await skf.call(`eccsign ${e.toString("hex")}`)).rv).toBe(SAR.USER_NOT_LOGGED_IN);
    await skf.ok(`verify ${USER} ${PIN}`);
    const signed = await skf.call(`eccsign ${e.toString("hex")}`);
    expect(signed.rv).toBe(SAR.OK);
    expect(signed.get("padded")).toBe("1"); // r and s right-aligned in their 64-byte fields
    const [r, s] = [signed.bytes("r"), signed.bytes("s")];
    expect(sm2Verifies(signCert, message, r, s)).toBe(true);
    expect(sm2Verifies(signCert, message, r, flipped(s, 31))).toBe(false);
    expect(sm2Verifies(signCert, Buffer.from("another message"), r, s)).toBe(false);

    expect((await skf.call(`eccsign ${e.subarray(1).toString("hex")}`)).rv).toBe(SAR.INDATALENERR);
    // The shim's latency knob slows SKF signatures too.
    setLatency(vtoken.home, "demo", 300);
    try {
      const slow = await skf.call(`eccsign ${e.toString("hex")}`);
      expect(slow.rv).toBe(SAR.OK);
      expect(slow.num("ms")).toBeGreaterThanOrEqual(290);
    } finally {
      setLatency(vtoken.home, "demo", 0);
    }
    // Clearing the security state needs the PIN again.
    await skf.ok("clear");
    expect((await skf.call(`eccsign ${e.toString("hex")}`)).rv).toBe(SAR.USER_NOT_LOGGED_IN);
    await skf.close();
  });

  it("signs a DigestInfo with the RSA container's key (PKCS#1 v1.5), as OpenSSL verifies", async () => {
    insertToken(vtoken.home, "rsa");
    try {
      const skf = await session(SERIAL.rsa, { container: "RSA-0101", pin: true });
      const message = Buffer.from("个人所得税 扣缴申报");
      const digestInfo = Buffer.concat([Buffer.from("3031300d060960864801650304020105000420", "hex"), createHash("sha256").update(message).digest()]);
      const signed = await skf.call(`rsasign ${digestInfo.toString("hex")}`);
      expect([signed.rv, signed.num("query"), signed.num("len")]).toEqual([SAR.OK, 256, 256]);
      const publicKey = new X509Certificate(certificate("rsa", "sign").pem).publicKey.export({ type: "spki", format: "pem" }) as string;
      const verify = (sig: Buffer) =>
        opensslSucceeds(["dgst", "-sha256", "-verify", file("pub.pem", publicKey), "-signature", file("sig.bin", sig), file("msg.bin", message)]);
      const signature = signed.bytes("data");
      expect(verify(signature)).toBe(true);
      expect(verify(flipped(signature, 100))).toBe(false);
      expect((await skf.call(`eccsign ${"00".repeat(32)}`)).rv).toBe(SAR.KEYUSAGEERR);
      await skf.close();
    } finally {
      removeToken(vtoken.home, "rsa");
    }
  });

  it("imports an SM2-wrapped SM4 key with the encryption key and decrypts SM4-CBC data with it", async () => {
    const skf = await session(SERIAL.demo, { container: "SM2-0101", pin: true });
    const encCert = certificate("demo", "encrypt");
    const sessionKey = randomBytes(16);
    const iv = randomBytes(16);
    const plaintext = Buffer.from("电子税务局 数字信封 ".repeat(5));
    const cipher = createCipheriv("sm4-cbc", sessionKey, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const { der, blob } = sm2EncryptToBlob(encCert.pem, sessionKey);
    // The wrapping is right: the escrowed encryption key (KMC) opens it too.
    const unwrapped = execFileSync("openssl", ["pkeyutl", "-decrypt", "-inkey", encCert.escrowKey!, "-in", file("wrapped.der", der)]);
    expect(unwrapped.equals(sessionKey)).toBe(true);

    await skf.ok(`importkey ${SGD_SM4_CBC} ${blob.toString("hex")}`, `decinit ${iv.toString("hex")} 1`);
    const decrypted = await skf.call(`decrypt ${ciphertext.toString("hex")}`);
    expect(decrypted.rv).toBe(SAR.OK);
    expect(decrypted.num("query")).toBe(ciphertext.length); // the size query's upper bound
    expect(decrypted.bytes("data").equals(plaintext)).toBe(true);

    // Multi-part: the same data in two pieces.
    await skf.ok(`decinit ${iv.toString("hex")} 1`);
    const part1 = await skf.call(`decupdate ${ciphertext.subarray(0, 40).toString("hex")}`);
    const part2 = await skf.call(`decupdate ${ciphertext.subarray(40).toString("hex")}`);
    const last = await skf.call("decfinal");
    expect([part1.rv, part2.rv, last.rv]).toEqual([SAR.OK, SAR.OK, SAR.OK]);
    expect(Buffer.concat([part1.bytes("data"), part2.bytes("data"), last.bytes("data")]).equals(plaintext)).toBe(true);

    // No padding: the caller's blocks come back as they are.
    await skf.ok(`decinit ${iv.toString("hex")} 0`);
    const raw = await skf.call(`decrypt ${ciphertext.toString("hex")}`);
    expect(raw.num("len")).toBe(ciphertext.length);
    expect(raw.bytes("data").subarray(0, plaintext.length).equals(plaintext)).toBe(true);
    await skf.ok("closekey");

    // SM4-ECB, and a wrapped key whose hash was tampered with.
    const ecb = createCipheriv("sm4-ecb", sessionKey, null);
    const ecbCiphertext = Buffer.concat([ecb.update(plaintext), ecb.final()]);
    await skf.ok(`importkey ${SGD_SM4_ECB} ${blob.toString("hex")}`, "decinit - 1");
    expect((await skf.call(`decrypt ${ecbCiphertext.toString("hex")}`)).bytes("data").equals(plaintext)).toBe(true);
    const broken = flipped(blob, 130); // in HASH (C3): the SM2 decryption's integrity check fails
    expect((await skf.call(`importkey ${SGD_SM4_CBC} ${broken.toString("hex")}`)).rv).toBe(SAR.INDATAERR);

    // The vendor extensions: SM2 decryption of any ECCCIPHERBLOB with the encryption key.
    const secret = randomBytes(100);
    const sealed = sm2EncryptToBlob(encCert.pem, secret).blob;
    for (const name of ["SKF_ECCDecrypt", "SKF_ECCPrvKeyDecrypt"]) {
      const opened = await skf.call(`eccdecrypt ${name} ${sealed.toString("hex")}`);
      expect([opened.rv, opened.num("query"), opened.num("len")]).toEqual([SAR.OK, 100, 100]);
      expect(opened.bytes("data").equals(secret)).toBe(true);
    }
    await skf.ok("clear");
    expect((await skf.call(`importkey ${SGD_SM4_CBC} ${blob.toString("hex")}`)).rv).toBe(SAR.USER_NOT_LOGGED_IN);
    await skf.close();
  });

  it("imports an RSA-wrapped SM4 key (PKCS#1 v1.5) in an RSA container", async () => {
    insertToken(vtoken.home, "rsa");
    try {
      const skf = await session(SERIAL.rsa, { container: "RSA-0101", pin: true });
      const sessionKey = randomBytes(16);
      const iv = randomBytes(16);
      const plaintext = Buffer.from("an RSA 一证通 envelope");
      const cipher = createCipheriv("sm4-cbc", sessionKey, iv);
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      const wrapped = publicEncrypt({ key: certificate("rsa", "encrypt").pem, padding: constants.RSA_PKCS1_PADDING }, sessionKey);
      await skf.ok(`importkey ${SGD_SM4_CBC} ${wrapped.toString("hex")}`, `decinit ${iv.toString("hex")} 1`);
      expect((await skf.call(`decrypt ${ciphertext.toString("hex")}`)).bytes("data").equals(plaintext)).toBe(true);
      await skf.close();
    } finally {
      removeToken(vtoken.home, "rsa");
    }
  });

  it("answers SAR_DEVICE_REMOVED once the key is pulled out, and its handles stay dead after reinsertion", async () => {
    const skf = await session(SERIAL.demo, { container: "SM2-0101", pin: true });
    const e = "11".repeat(32);
    const sessionKey = randomBytes(16);
    await skf.ok(`eccsign ${e}`, `importkey ${SGD_SM4_CBC} ${sm2EncryptToBlob(certificate("demo", "encrypt").pem, sessionKey).blob.toString("hex")}`);

    removeToken(vtoken.home, "demo");
    try {
      for (const command of [`eccsign ${e}`, `pininfo ${USER}`, "cert 1", "devinfo", `decinit ${"00".repeat(16)} 1`]) {
        expect((await skf.call(command)).rv, command).toBe(SAR.DEVICE_REMOVED);
      }
    } finally {
      insertToken(vtoken.home, "demo");
    }
    for (const command of [`eccsign ${e}`, `pininfo ${USER}`, "devinfo", "containers", `decinit ${"00".repeat(16)} 1`]) {
      expect((await skf.call(command)).rv, `${command} after reinsertion`).toBe(SAR.DEVICE_REMOVED);
    }
    await skf.ok("disconnect"); // letting go of a dead handle works

    // A new connection works, and asks for the PIN again.
    await skf.ok(`connect ${SERIAL.demo}`, "openapp", "opencon SM2-0101");
    expect((await skf.call(`eccsign ${e}`)).rv).toBe(SAR.USER_NOT_LOGGED_IN);
    await skf.ok(`verify ${USER} ${PIN}`, `eccsign ${e}`);
    await skf.close();
  });

  it("waits for a removal and an insertion on one thread while the other goes on, and Cancel ends the wait", async () => {
    insertToken(vtoken.home, "rsa");
    const skf = start();
    try {
      await skf.ok("waitstart");
      // Still waiting (and so past its first look at the keys) while the main thread uses the library.
      expect((await skf.call("waitresult 150")).fields.rv).toBe("pending");
      const listed = await skf.call("enum");
      expect(listed.names().sort()).toEqual([SERIAL.demo, SERIAL.rsa].sort());
      expect((await skf.call(`pininfo ${USER}`)).rv).toBe(SAR.INVALIDHANDLEERR); // no application open: an answer, not a hang

      removeToken(vtoken.home, "rsa");
      const removed = await skf.call("waitresult 3000");
      expect([removed.rv, removed.num("event"), removed.get("name"), removed.num("len")]).toEqual([SAR.OK, 2, SERIAL.rsa, SERIAL.rsa.length + 1]);

      await skf.ok("waitstart");
      expect((await skf.call("waitresult 100")).fields.rv).toBe("pending");
      insertToken(vtoken.home, "rsa");
      const inserted = await skf.call("waitresult 3000");
      expect([inserted.rv, inserted.num("event"), inserted.get("name")]).toEqual([SAR.OK, 1, SERIAL.rsa]);

      await skf.ok("waitstart");
      expect((await skf.call("waitresult 100")).fields.rv).toBe("pending");
      await skf.ok("cancel");
      const cancelled = await skf.call("waitresult 1000");
      expect([cancelled.rv, cancelled.num("event")]).toEqual([SAR.NOT_EVENTERR, 0]);
      expect(cancelled.num("ms")).toBeLessThan(500); // it returned promptly

      // A cancel while no wait runs ends the next one (a host's waiting thread may be between two calls).
      await skf.ok("cancel", "waitstart");
      const early = await skf.call("waitresult 1000");
      expect(early.rv).toBe(SAR.NOT_EVENTERR);
      expect(early.num("waited")).toBeLessThan(500);
    } finally {
      await skf.close();
      removeToken(vtoken.home, "rsa");
    }
  });

  it("locks the user PIN after 10 wrong tries; the admin PIN unblocks it; ChangePIN changes it", async () => {
    insertToken(vtoken.home, "office01");
    try {
      const skf = await session(SERIAL.office01);
      for (let left = 9; left >= 1; left--) {
        const wrong = await skf.call(`verify ${USER} 99999999`);
        expect([wrong.rv, wrong.num("retry")]).toEqual([SAR.PIN_INCORRECT, left]);
      }
      const tenth = await skf.call(`verify ${USER} 99999999`);
      expect([tenth.rv, tenth.num("retry")]).toEqual([SAR.PIN_LOCKED, 0]);
      expect((await skf.call(`pininfo ${USER}`)).num("remain")).toBe(0);
      expect((await skf.call(`verify ${USER} ${PIN}`)).rv).toBe(SAR.PIN_LOCKED); // even the right PIN
      expect(getRetries(vtoken.home, "office01")).toBe(0);

      expect((await skf.call(`unblock 00000000 ${PIN}`)).rv).toBe(SAR.PIN_INCORRECT);
      await skf.ok(`unblock ${SO_PIN} ${PIN}`);
      expect((await skf.call(`pininfo ${USER}`)).num("remain")).toBe(10);
      await skf.ok(`verify ${USER} ${PIN}`);

      const badOld = await skf.call(`changepin ${USER} 99999999 11223344`);
      expect([badOld.rv, badOld.num("retry")]).toEqual([SAR.PIN_INCORRECT, 9]);
      await skf.ok(`changepin ${USER} ${PIN} 11223344`);
      expect((await skf.call(`verify ${USER} ${PIN}`)).rv).toBe(SAR.PIN_INCORRECT);
      await skf.ok(`verify ${USER} 11223344`, `changepin ${USER} 11223344 ${PIN}`, `verify ${USER} ${PIN}`);
      expect((await skf.call(`pininfo ${USER}`)).num("remain")).toBe(10);
      await skf.close();
    } finally {
      removeToken(vtoken.home, "office01");
    }
  });

  it("builds a variant lacking SKF_ECCSignData", async () => {
    const library = buildSkf(vtoken.home, "missing-export");
    expect(library).toBe(join(vtoken.home, "libyzt-vskf-missing-export.so"));
    const skf = await session(SERIAL.demo, { container: "SM2-0101", pin: true, library });
    expect((await skf.call("sym SKF_ECCSignData")).get("present")).toBe("0");
    expect((await skf.call(`eccsign ${"00".repeat(32)}`)).fields.rv).toBe("missing");
    expect((await skf.call("sym SKF_RSASignData")).get("present")).toBe("1");
    expect((await skf.call("cert 1")).rv).toBe(SAR.OK);
    await skf.close();
  });

  it("builds a variant answering nonsense lengths, never writing past the caller's buffer", async () => {
    const library = buildSkf(vtoken.home, "garbage-lengths");
    const skf = start(library);
    const listed = await skf.call("enum");
    expect(listed.rv).toBe(SAR.OK);
    expect(listed.num("query")).toBe(0xfffffff0);
    expect(listed.num("size")).toBe(256 + 256); // the selftest's 256-byte buffer, plus 256
    expect(listed.get("doublenul")).toBe("0");
    await skf.ok(`connect ${SERIAL.demo}`, "openapp", `verify ${USER} ${PIN}`, "opencon SM2-0101");
    const cert = await skf.call("cert 1");
    expect(cert.rv).toBe(SAR.OK);
    expect(cert.num("len")).toBe(cert.num("query") + 0x400);
    expect(cert.bytes("data").equals(derOf(certificate("demo", "sign").pem))).toBe(true);
    expect((await skf.call("pubkey 1")).num("len")).toBe(3);
    expect((await skf.call("containers")).num("query")).toBe(0xfffffff0);
    await skf.close();
  });
});

// ---------- the certificate life cycle ----------

/** The builds with the life-cycle functions, each driven by a selftest of its own ULONG width. */
const ABIS = [
  { variant: "standard", ulongBytes: 4 },
  { variant: "lp64", ulongBytes: 8 },
] as const;

/** x ‖ y of an ECCPUBLICKEYBLOB { ULONG BitLen, X[64], Y[64] } whose ULONG is ulongBytes wide. */
function eccBlobPoint(blob: Buffer, ulongBytes: number): Buffer {
  expect(blob.length).toBe(ulongBytes + 128);
  expect(blob.readUInt32LE(0)).toBe(256);
  const [x, y] = [blob.subarray(ulongBytes, ulongBytes + 64), blob.subarray(ulongBytes + 64)];
  expect(Buffer.concat([x.subarray(0, 32), y.subarray(0, 32)]).equals(Buffer.alloc(64))).toBe(true);
  return Buffer.concat([x.subarray(32), y.subarray(32)]);
}

/** The uncompressed point 04 ‖ x ‖ y of a geneccpair answer. */
function generatedPoint(answer: Answer): Buffer {
  expect([answer.rv, answer.num("bits"), answer.get("padded")]).toEqual([SAR.OK, 256, "1"]);
  return Buffer.concat([Buffer.from([0x04]), answer.bytes("x"), answer.bytes("y")]);
}

function sm2KeyVerifies(point: Buffer, message: Buffer, r: Buffer, s: Buffer): boolean {
  return opensslSucceeds([
    "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", file("pub.pem", sm2PublicKeyPem(point)), "-in", file("msg.bin", message),
    "-sigfile", file("sig.der", rsToDer(r, s)), "-pkeyopt", `distid:${SM2_ID}`,
  ]);
}

/**
 * The encryption pair a CA's key-management centre sends: an ENVELOPEDKEYBLOB with 32-bit ULONGs (the selftest
 * rebuilds it in the library's layout). d is SM4-ECB-encrypted, right-aligned in cbEncryptedPriKey; the SM4 key is
 * SM2-encrypted to the signing key. claimedPoint: the PubKey written into it (a forgery names another).
 */
function envelope(signingPoint: Buffer, pair: Sm2KeyMaterial, claimedPoint = pair.point): Buffer {
  const sm4Key = randomBytes(16);
  const ecb = createCipheriv("sm4-ecb", sm4Key, null).setAutoPadding(false);
  const field = (bytes: Buffer) => Buffer.concat([Buffer.alloc(64 - bytes.length), bytes]);
  return Buffer.concat([
    u32(1), u32(SGD_SM4_ECB), u32(256), field(Buffer.concat([ecb.update(pair.d), ecb.final()])),
    u32(256), field(claimedPoint.subarray(1, 33)), field(claimedPoint.subarray(33)),
    cipherBlobOf(Buffer.from(sm2Encrypt(signingPoint, sm4Key))),
  ]);
}

let renewalCa: DemoCa | undefined;
/** What the CA answers a request for this SM2 public key with: a certificate from a throwaway SM2 CA. */
async function sm2Certificate(point: Buffer, purpose: "sign" | "encrypt"): Promise<Buffer> {
  renewalCa ??= await createDemoCa(new Date(), "SM2");
  const issued = await issueCertificate({
    subject: [["C", "CN"], ["O", "北京续期示例有限公司"], ["CN", "北京续期示例有限公司"]],
    publicKey: { algorithm: "SM2", material: { d: Buffer.alloc(32), point } },
    issuer: { certificate: renewalCa.intermediate.certificate, privateKey: renewalCa.intermediateKey },
    notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 365 * DAY),
    keyUsage: purpose === "sign" ? ["digitalSignature", "nonRepudiation"] : ["keyEncipherment", "dataEncipherment"],
  });
  return Buffer.from(issued.der);
}

/** Every object on a key ("<kind> <CKA_ID or label>", sorted), listed by pkcs11-tool through the shim: what the key
 * holds, seen without the SKF library. */
function objectsOn(alias: string): string[] {
  const token = vtoken.manifest.tokens.find((t) => t.alias === alias)!;
  const listing = execFileSync("pkcs11-tool", ["--module", vtoken.module, "--token-label", token.label, "--login", "--pin", PIN, "--list-objects"], {
    env: { ...process.env, ...vtoken.env }, encoding: "utf8", stdio: "pipe",
  });
  return listing.split(/\n(?=\S)/).filter((block) => /object/i.test(block.split("\n")[0]!))
    .map((block) => `${block.split(/[;\n]/)[0]!.replace(/\s+\d+$/, "")} ${/ID:\s*(\S+)/.exec(block)?.[1] ?? /label:\s*(.*)/.exec(block)?.[1]?.trim() ?? ""}`).sort();
}

describe.each(ABIS)("the certificate life cycle through the $variant build", ({ variant, ulongBytes }) => {
  let library: string;
  let binary: string;
  beforeAll(() => {
    library = variant === "standard" ? vtoken.manifest.skfModule : buildSkf(vtoken.home, variant);
    binary = variant === "standard" ? selftest : selftestLp64;
  });
  const open = (serial: string, options: { container?: string; pin?: boolean } = {}) => session(serial, { ...options, library, binary });

  /** Creates a container on the open session's key and generates its SM2 signing pair; the container stays open. */
  async function sm2Container(skf: SkfDriver, name: string): Promise<Buffer> {
    await skf.ok(`createcon ${name}`);
    return generatedPoint(await skf.call("geneccpair"));
  }

  it("makes an empty container after the provisioned ones, an SM2 pair in it that signs before any certificate, and keeps its certificate", async () => {
    const name = `renewal-${variant}`;
    const initial = objectsOn("demo");
    const skf = await open(SERIAL.demo);
    expect((await skf.call(`createcon ${name}`)).rv).toBe(SAR.USER_NOT_LOGGED_IN);
    await skf.ok(`verify ${USER} ${PIN}`, `createcon ${name}`);
    for (const taken of [name, "SM2-0101"]) expect((await skf.call(`createcon ${taken}`)).rv).toBe(SAR.FILE_ALREADY_EXIST);
    expect((await skf.call(`createcon ${"n".repeat(64)}`)).rv).toBe(SAR.NAMELENERR);
    expect((await skf.call("containers")).names()).toEqual(["SM2-0101", name]);
    await skf.ok(`opencon ${name}`);
    expect((await skf.call("contype")).num("type")).toBe(0);
    expect((await skf.call("pubkey 1")).rv).toBe(SAR.KEYNOTFOUNTERR);

    expect((await skf.call("geneccpair 0x00010000")).rv).toBe(SAR.NOTSUPPORTYETERR); // SGD_RSA is no ECC algorithm
    const point = generatedPoint(await skf.call("geneccpair"));
    expect((await skf.call("contype")).num("type")).toBe(2);
    expect(eccBlobPoint((await skf.call("pubkey 1")).bytes("data"), ulongBytes).equals(point.subarray(1))).toBe(true);
    expect((await skf.call("geneccpair")).rv).toBe(SAR.FILE_ALREADY_EXIST); // the pair is kept
    const message = Buffer.from("证书更新申请 (PKCS#10)");
    const signed = await skf.call(`eccsign ${sm2E(point.subarray(1), message).toString("hex")}`);
    expect(signed.rv).toBe(SAR.OK);
    expect(sm2KeyVerifies(point, message, signed.bytes("r"), signed.bytes("s"))).toBe(true);
    expect(sm2KeyVerifies(point, Buffer.from("another request"), signed.bytes("r"), signed.bytes("s"))).toBe(false);

    const certificateDer = await sm2Certificate(point, "sign");
    expect((await skf.call(`importcert 0 ${certificateDer.toString("hex")}`)).rv).toBe(SAR.KEYNOTFOUNTERR); // no encryption pair
    expect((await skf.call(`importcert 1 ${certificateDer.subarray(0, 100).toString("hex")}`)).rv).toBe(SAR.INDATAERR);
    await skf.ok(`importcert 1 ${certificateDer.toString("hex")}`);
    expect((await skf.call("cert 1")).bytes("data").equals(certificateDer)).toBe(true);
    await skf.close();

    // Another process finds it all on the key; the provisioned container is as it was.
    const again = await open(SERIAL.demo);
    expect((await again.call("containers")).names()).toEqual(["SM2-0101", name]);
    await again.ok(`opencon ${name}`);
    expect((await again.call("contype")).num("type")).toBe(2);
    expect((await again.call("cert 1")).bytes("data").equals(certificateDer)).toBe(true);
    expect((await again.call("cert 0")).rv).toBe(SAR.CERTNOTFOUNTERR);
    await again.ok("opencon SM2-0101");
    expect((await again.call("cert 1")).bytes("data").equals(derOf(certificate("demo", "sign").pem))).toBe(true);
    expect((await again.call(`delcon ${name}`)).rv).toBe(SAR.USER_NOT_LOGGED_IN);
    await again.ok(`verify ${USER} ${PIN}`, `delcon ${name}`);
    expect((await again.call(`delcon ${name}`)).rv).toBe(SAR.CONTAINER_NOT_EXIST);
    expect((await again.call("containers")).names()).toEqual(["SM2-0101"]);
    await again.close();
    expect(objectsOn("demo")).toEqual(initial);
  });

  it("imports the CA's enveloped encryption pair with the signing key, refusing a forged one without writing, and decrypts with it", async () => {
    const name = `envelope-${variant}`;
    const initial = objectsOn("demo");
    const skf = await open(SERIAL.demo, { pin: true });
    await skf.ok(`createcon ${name}`);
    const encryption = generateSm2Key().material;
    expect((await skf.call(`importecc ${envelope(encryption.point, encryption).toString("hex")}`)).rv).toBe(SAR.KEYNOTFOUNTERR); // no signing pair yet
    const signing = generatedPoint(await skf.call("geneccpair"));

    const written = objectsOn("demo");
    const forged = envelope(signing, encryption, generateSm2Key().material.point); // PubKey is not d's
    const misaddressed = envelope(generateSm2Key().material.point, encryption); // wrapped to another key
    for (const blob of [forged, misaddressed]) expect((await skf.call(`importecc ${blob.toString("hex")}`)).rv).toBe(SAR.INDATAERR);
    const sm1 = envelope(signing, encryption);
    sm1.writeUInt32LE(0x101, 4); // SGD_SM1_ECB
    expect((await skf.call(`importecc ${sm1.toString("hex")}`)).rv).toBe(SAR.NOTSUPPORTYETERR);
    expect(objectsOn("demo")).toEqual(written);
    expect((await skf.call("pubkey 0")).rv).toBe(SAR.KEYNOTFOUNTERR);

    await skf.ok(`importecc ${envelope(signing, encryption).toString("hex")}`);
    expect(eccBlobPoint((await skf.call("pubkey 0")).bytes("data"), ulongBytes).equals(encryption.point.subarray(1))).toBe(true);
    expect((await skf.call(`importecc ${envelope(signing, generateSm2Key().material).toString("hex")}`)).rv).toBe(SAR.FILE_ALREADY_EXIST);
    const secret = randomBytes(48);
    const sealed = cipherBlobOf(Buffer.from(sm2Encrypt(encryption.point, secret)));
    const opened = await skf.call(`eccdecrypt SKF_ECCDecrypt ${sealed.toString("hex")}`);
    expect([opened.rv, opened.num("len")]).toEqual([SAR.OK, 48]);
    expect(opened.bytes("data").equals(secret)).toBe(true);
    const encryptionCertificate = await sm2Certificate(encryption.point, "encrypt");
    await skf.ok(`importcert 0 ${encryptionCertificate.toString("hex")}`);
    expect((await skf.call("cert 0")).bytes("data").equals(encryptionCertificate)).toBe(true);

    await skf.ok(`delcon ${name}`);
    expect((await skf.call("contype")).rv).toBe(SAR.CONTAINER_NOT_EXIST); // the open handle of it
    await skf.ok("closecon");
    expect((await skf.call("containers")).names()).toEqual(["SM2-0101"]);
    await skf.close();
    expect(objectsOn("demo")).toEqual(initial);
  });

  it("refuses every write without the user PIN or with the key pulled out, and a write cut short by the removal leaves no half pair", async () => {
    const name = `removal-${variant}`;
    const skf = await open(SERIAL.demo, { pin: true });
    await skf.ok(`createcon ${name}`, "clear");
    const encryption = generateSm2Key().material;
    const blob = envelope(encryption.point, encryption).toString("hex");
    const writes = ["geneccpair", "createcon other", `delcon ${name}`, `importecc ${blob}`];
    for (const command of writes) expect((await skf.call(command)).rv, command).toBe(SAR.USER_NOT_LOGGED_IN);
    await skf.ok(`verify ${USER} ${PIN}`);
    removeToken(vtoken.home, "demo");
    try {
      for (const command of writes) expect((await skf.call(command)).rv, command).toBe(SAR.DEVICE_REMOVED);
    } finally {
      insertToken(vtoken.home, "demo");
    }
    await skf.close();

    // Pulled out while the (slow) key generates the pair, or unwraps the encryption pair: nothing is written.
    const empty = objectsOn("demo");
    const cutShort = async (command: string) => {
      const writer = await open(SERIAL.demo, { pin: true, container: name });
      setLatency(vtoken.home, "demo", 500);
      try {
        const answer = writer.call(command);
        await untilBusy(vtoken.home, "demo");
        removeToken(vtoken.home, "demo");
        expect((await answer).rv, command).toBe(SAR.DEVICE_REMOVED);
      } finally {
        setLatency(vtoken.home, "demo", 0);
        insertToken(vtoken.home, "demo");
      }
      await writer.close();
    };
    await cutShort("geneccpair");
    expect(objectsOn("demo")).toEqual(empty);
    const reader = await open(SERIAL.demo, { pin: true, container: name });
    expect((await reader.call("contype")).num("type")).toBe(0);
    const signing = generatedPoint(await reader.call("geneccpair"));
    const signed = objectsOn("demo");
    await cutShort(`importecc ${envelope(signing, encryption).toString("hex")}`);
    expect(objectsOn("demo")).toEqual(signed);
    const after = await open(SERIAL.demo, { pin: true, container: name });
    expect((await after.call("pubkey 0")).rv).toBe(SAR.KEYNOTFOUNTERR);
    expect((await after.call("cert 0")).rv).toBe(SAR.CERTNOTFOUNTERR);
    await after.ok(`importecc ${envelope(signing, encryption).toString("hex")}`, `delcon ${name}`);
    await Promise.all([reader.close(), after.close()]);
  });

  it("lists a new container after a mixed key's provisioned ones and gives it a 2048-bit RSA pair that signs", async () => {
    const name = `rsa-${variant}`;
    insertToken(vtoken.home, "mixed");
    try {
      const skf = await open(SERIAL.mixed, { pin: true });
      await skf.ok(`createcon ${name}`);
      expect((await skf.call("containers")).names()).toEqual(["RSA-0101", "SM2-0303", name]);
      expect((await skf.call("genrsapair 1000")).rv).toBe(SAR.MODULUSLENERR);
      const generated = await skf.call("genrsapair 2048");
      expect([generated.rv, generated.get("alg"), generated.num("bits")]).toEqual([SAR.OK, "0x10000", 2048]);
      const [modulus, exponent] = [generated.bytes("n"), generated.bytes("e")];
      expect(exponent.toString("hex")).toBe("00010001");
      expect((await skf.call("contype")).num("type")).toBe(1);
      const blob = (await skf.call("pubkey 1")).bytes("data");
      expect(blob.length).toBe(2 * ulongBytes + 260); // RSAPUBLICKEYBLOB { AlgID, BitLen, Modulus[256], PublicExponent[4] }
      expect(blob.subarray(2 * ulongBytes, 2 * ulongBytes + 256).equals(modulus)).toBe(true);

      const message = Buffer.from("个人所得税 证书更新");
      const digestInfo = Buffer.concat([Buffer.from("3031300d060960864801650304020105000420", "hex"), createHash("sha256").update(message).digest()]);
      const signature = (await skf.call(`rsasign ${digestInfo.toString("hex")}`)).bytes("data");
      const publicKey = createPublicKey({ key: { kty: "RSA", n: modulus.toString("base64url"), e: "AQAB" }, format: "jwk" });
      expect(verify("sha256", message, publicKey, signature)).toBe(true);
      expect(verify("sha256", message, publicKey, flipped(signature, 7))).toBe(false);
      await skf.ok(`delcon ${name}`);
      expect((await skf.call("containers")).names()).toEqual(["RSA-0101", "SM2-0303"]);
      await skf.close();
    } finally {
      removeToken(vtoken.home, "mixed");
    }
  });

  it("counts wrong admin PINs exactly, reports them in GetPINInfo and UnblockPIN, and locks the admin PIN at 0", async () => {
    const skf = await open(SERIAL.demo);
    const pinInfo = async () => (await skf.call(`pininfo ${ADMIN}`)).num("remain");
    expect(await pinInfo()).toBe(10);
    const wrong = await skf.call(`verify ${ADMIN} 00000000`);
    expect([wrong.rv, wrong.num("retry")]).toEqual([SAR.PIN_INCORRECT, 9]);
    expect([getSoRetries(vtoken.home, "demo"), await pinInfo()]).toEqual([9, 9]); // the shim's counter
    const wrongUnblock = await skf.call(`unblock 00000000 ${PIN}`);
    expect([wrongUnblock.rv, wrongUnblock.num("retry")]).toEqual([SAR.PIN_INCORRECT, 8]);
    await skf.ok(`unblock ${SO_PIN} ${PIN}`);
    expect(await pinInfo()).toBe(10);

    setSoRetries(vtoken.home, "demo", 1);
    try {
      const last = await skf.call(`unblock 00000000 ${PIN}`);
      expect([last.rv, last.num("retry")]).toEqual([SAR.PIN_LOCKED, 0]);
      expect(await pinInfo()).toBe(0);
      expect((await skf.call(`unblock ${SO_PIN} ${PIN}`)).rv).toBe(SAR.PIN_LOCKED); // even the right one
      expect((await skf.call(`verify ${ADMIN} ${SO_PIN}`)).rv).toBe(SAR.PIN_LOCKED);
      expect((await skf.call(`pininfo ${USER}`)).num("remain")).toBe(10); // the user PIN has its own counter
    } finally {
      setSoRetries(vtoken.home, "demo", 10);
    }
    await skf.ok(`verify ${ADMIN} ${SO_PIN}`);
    await skf.close();
  });
});
