/**
 * SM2 signatures (crypto/sm2.ts): the GB/T 32918.2 example on the recommended curve, random
 * round trips, rejection of every kind of bad input, strict DER, and interoperability with the OpenSSL CLI
 * in both directions (OpenSSL signs / we verify, we sign / OpenSSL verifies).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as asn1js from "asn1js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SM2_DEFAULT_ID, SM2_GX, SM2_GY, SM2_N, derToRs, rsToDer, sm2Digest, sm2PublicFromPrivate, sm2Sign, sm2Verify, sm2Z,
} from "../../crypto/sm2.js";
import { bigIntToBytes, bytesToBigInt, isOnCurve, mod, modInverse, multiplyBase } from "../../crypto/sm2-curve.js";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex").toUpperCase();
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"));
const text = (value: string): Uint8Array => new TextEncoder().encode(value);

function randomPrivateKey(): bigint {
  for (;;) {
    const d = bytesToBigInt(randomBytes(32));
    if (d >= 1n && d <= SM2_N - 2n) return d;
  }
}

function rsBytes(r: bigint, s: bigint): Uint8Array {
  return new Uint8Array([...bigIntToBytes(r, 32), ...bigIntToBytes(s, 32)]);
}

describe("SM2 curve", () => {
  it("has G on the curve and of order n", () => {
    expect(isOnCurve({ x: SM2_GX, y: SM2_GY })).toBe(true);
    expect(multiplyBase(SM2_N)).toBeNull();
    expect(multiplyBase(SM2_N + 1n)).toEqual({ x: SM2_GX, y: SM2_GY });
    expect(multiplyBase(SM2_N - 1n)?.x).toBe(SM2_GX);
    expect(multiplyBase(2n)).toEqual(multiplyBase(SM2_N + 2n));
  });
});

describe("GB/T 32918.2 Annex A example on the recommended curve", () => {
  // d, k, e, r and s are the widely reproduced values (GM/T 0003.2-2012 / GB/T 32918.2-2016 example).
  const d = 0x3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8n;
  const k = 0x59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21n;
  let publicKey: Uint8Array = new Uint8Array(0);
  let e: Uint8Array = new Uint8Array(0);
  beforeAll(() => {
    publicKey = sm2PublicFromPrivate(d);
    e = sm2Digest(publicKey, text("message digest"));
  });

  it("derives the published public key", () => {
    expect(hex(publicKey)).toBe(
      "04" + "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
        + "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13",
    );
  });

  it("computes Z (ENTL 0x0080, ID 1234567812345678) and e = SM3(Z‖M)", () => {
    const z = sm2Z(publicKey, SM2_DEFAULT_ID);
    // F4A38489…BC9A, sometimes quoted for this example, is Z of the Annex A example on the 256-bit *test*
    // curve with ID "ALICE123@YAHOO.COM". The e below is published for this example and is SM3(Z‖M) of this Z.
    expect(hex(z)).toBe("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3");
    expect(hex(new Uint8Array(createHash("sm3").update(z).update("message digest").digest()))).toBe(hex(e));
    expect(hex(e)).toBe("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640");
    expect(hex(sm2Z(publicKey, text(SM2_DEFAULT_ID)))).toBe(hex(z));
    expect(hex(sm2Z(publicKey, "ALICE123@YAHOO.COM"))).not.toBe(hex(z));
  });

  it("lays Z out as ENTL‖ID‖a‖b‖xG‖yG‖xA‖yA, with a two-byte ENTL for long IDs", () => {
    const id = new Uint8Array(randomBytes(300));
    const expected = createHash("sm3")
      .update(Uint8Array.of((300 * 8) >> 8, (300 * 8) & 0xff))
      .update(id)
      .update(fromHex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"))
      .update(fromHex("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"))
      .update(fromHex("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"))
      .update(fromHex("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"))
      .update(publicKey.subarray(1))
      .digest();
    expect(hex(sm2Z(publicKey, id))).toBe(hex(new Uint8Array(expected)));
  });

  it("signs to the published r and s with the published k, and verifies", () => {
    const signature = sm2Sign(d, e, k);
    expect(hex(signature.subarray(0, 32))).toBe("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3");
    expect(hex(signature.subarray(32))).toBe("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA");
    expect(sm2Verify(publicKey, e, signature)).toBe(true);
    expect(sm2Verify(publicKey, e, { r: bytesToBigInt(signature.subarray(0, 32)), s: bytesToBigInt(signature.subarray(32)) })).toBe(true);
    expect(hex(sm2Sign(bigIntToBytes(d, 32), e, k))).toBe(hex(signature));
  });
});

describe("SM2 sign and verify", () => {
  it("round-trips with random keys and messages, through DER too", () => {
    for (let i = 0; i < 16; i++) {
      const d = randomPrivateKey();
      const publicKey = sm2PublicFromPrivate(d);
      const e = sm2Digest(publicKey, randomBytes(i * 7));
      const signature = sm2Sign(d, e);
      expect(signature.length).toBe(64);
      expect(sm2Verify(publicKey, e, signature)).toBe(true);
      expect(sm2Verify(publicKey, e, derToRs(rsToDer(signature)))).toBe(true);
    }
  });

  it("rejects a tampered e, a wrong key and out-of-range r or s", () => {
    const d = randomPrivateKey();
    const publicKey = sm2PublicFromPrivate(d);
    const e = sm2Digest(publicKey, text("tax return 2024"));
    const signature = sm2Sign(d, e);
    const r = bytesToBigInt(signature.subarray(0, 32));
    const s = bytesToBigInt(signature.subarray(32));
    expect(sm2Verify(publicKey, e, { r, s })).toBe(true);

    const tampered = e.slice();
    tampered[31]! ^= 1;
    expect(sm2Verify(publicKey, tampered, signature)).toBe(false);
    expect(sm2Verify(sm2PublicFromPrivate(randomPrivateKey()), e, signature)).toBe(false);
    expect(sm2Verify(publicKey, e, { r: r + 1n, s })).toBe(false);
    expect(sm2Verify(publicKey, e, { r, s: s - 1n })).toBe(false);
    for (const [badR, badS] of [[0n, s], [r, 0n], [SM2_N, s], [r, SM2_N], [r + SM2_N, s], [r, s + SM2_N], [r, SM2_N - r], [-r, s]] as const) {
      expect(sm2Verify(publicKey, e, { r: badR, s: badS }), `r=${badR} s=${badS}`).toBe(false);
    }
    expect(sm2Verify(publicKey, e, rsBytes(r, s).subarray(1))).toBe(false);
    expect(sm2Verify(publicKey, e, rsToDer(signature))).toBe(false);
  });

  it("keeps verifying a key it has seen before (with its precomputed tables) and still rejects a tampered signature", () => {
    const d = randomBytes(32);
    d[0] = 0x42;
    const publicPoint = sm2PublicFromPrivate(d);
    for (let round = 0; round < 5; round++) {
      const e = randomBytes(32);
      const signature = sm2Sign(d, e);
      expect(sm2Verify(publicPoint, e, signature)).toBe(true);
      const tampered = Uint8Array.from(signature);
      tampered[63] ^= 1;
      expect(sm2Verify(publicPoint, e, tampered)).toBe(false);
      expect(sm2Verify(publicPoint, Uint8Array.from(e, (byte, i) => (i === 0 ? byte ^ 1 : byte)), signature)).toBe(false);
    }
  });

  it("rejects public keys that are malformed or not on the curve", () => {
    const d = randomPrivateKey();
    const publicKey = sm2PublicFromPrivate(d);
    const e = sm2Digest(publicKey, text("m"));
    const signature = sm2Sign(d, e);
    const offCurve = publicKey.slice();
    offCurve[64]! ^= 1;
    const compressed = Uint8Array.of(0x02 | (publicKey[64]! & 1), ...publicKey.subarray(1, 33));
    const wrongPrefix = publicKey.slice();
    wrongPrefix[0] = 0x06;
    for (const bad of [offCurve, compressed, wrongPrefix, publicKey.subarray(0, 64), new Uint8Array(65)]) {
      expect(sm2Verify(bad, e, signature)).toBe(false);
      expect(() => sm2Z(bad)).toThrow(/on the SM2 curve/);
    }
  });

  it("refuses a fixed k that makes r = 0, r + k = n or s = 0 (random k would be retried)", () => {
    const k = 0x1234567890abcdefn;
    const x1 = multiplyBase(k)!.x;
    const digestFor = (r: bigint): Uint8Array => bigIntToBytes(mod(r - x1, SM2_N), 32);
    expect(() => sm2Sign(5n, digestFor(0n), k)).toThrow(/r = 0/);
    expect(() => sm2Sign(5n, digestFor(SM2_N - k), k)).toThrow(/r \+ k = n/);
    const r = 777n;
    const dForZeroS = mod(k * modInverse(r, SM2_N), SM2_N);
    expect(() => sm2Sign(dForZeroS, digestFor(r), k)).toThrow(/s = 0/);
    expect(sm2Sign(dForZeroS + 1n, digestFor(r), k).length).toBe(64);
  });

  it("refuses bad private keys, nonces and digest lengths", () => {
    const e = new Uint8Array(32);
    for (const d of [0n, SM2_N - 1n, SM2_N, -1n]) expect(() => sm2Sign(d, e)).toThrow(/private key/);
    expect(() => sm2Sign(new Uint8Array(31).fill(1), e)).toThrow(/private key/);
    expect(() => sm2Sign(1n, e, 0n)).toThrow(/k must be/);
    expect(() => sm2Sign(1n, e, SM2_N)).toThrow(/k must be/);
    expect(() => sm2Sign(1n, new Uint8Array(20))).toThrow(/32-byte/);
    expect(() => sm2Verify(sm2PublicFromPrivate(1n), new Uint8Array(33), new Uint8Array(64))).toThrow(/32-byte/);
    expect(() => sm2Z(sm2PublicFromPrivate(1n), new Uint8Array(8192))).toThrow(/ID longer/);
  });
});

describe("r‖s ⇄ DER", () => {
  it("round-trips random, high-bit and leading-zero values with minimal INTEGERs", () => {
    for (let i = 0; i < 200; i++) {
      const rs = new Uint8Array(randomBytes(64));
      if (i % 4 === 1) rs.fill(0, 0, 1 + (i % 31));
      if (i % 4 === 2) rs[32] = 0x80 | rs[32]!;
      expect(hex(derToRs(rsToDer(rs)))).toBe(hex(rs));
    }
    const highBit = new Uint8Array(64);
    highBit[0] = 0x80;
    highBit[63] = 1;
    expect(hex(rsToDer(highBit))).toBe(`3026022100${"80".padEnd(64, "0")}020101`.toUpperCase());
    const leadingZeros = new Uint8Array(64);
    leadingZeros[31] = 0x7f;
    leadingZeros[33] = 0x01;
    expect(hex(rsToDer(leadingZeros))).toBe(`302402017F021F01${"00".repeat(30)}`);
    expect(hex(rsToDer(new Uint8Array(64)))).toBe("3006020100020100");
    expect(() => rsToDer(new Uint8Array(63))).toThrow(/64 bytes/);
  });

  it("rejects anything that is not exactly DER SEQUENCE { INTEGER r, INTEGER s }", () => {
    const good = rsToDer(new Uint8Array(randomBytes(64)).fill(0x11, 0, 1).fill(0x22, 32, 33));
    const bad: [string, string][] = [
      ["", "expected SEQUENCE"],
      ["3106020101020101", "expected SEQUENCE"],
      [`${hex(good)}00`, "length does not match"],
      [hex(good).slice(0, -2), "length does not match"],
      ["308106020101020101", "short form"],
      ["3006040101020101", "expected INTEGER"],
      ["3003020101", "expected INTEGER"],
      ["30060201FF020101", "negative"],
      ["300702020001020101", "non-minimal"],
      ["30050201010201", "runs past the end"],
      ["3009020101020101020101", "trailing bytes"],
      ["30050200020101", "bad INTEGER length"],
      ["300702810101020101", "bad INTEGER length"],
      [`3027022200${"FF".repeat(33)}020101`, "longer than 32 bytes"],
    ];
    for (const [input, message] of bad) expect(() => derToRs(fromHex(input)), input).toThrow(new RegExp(message));
    expect(hex(derToRs(fromHex("3006020101020102")))).toBe(`${"00".repeat(31)}01${"00".repeat(31)}02`);
    expect(() => derToRs(text("not a signature at all"))).toThrow(/DER signature/);
  });
});

function openssl(args: string[]): { status: number | null; output: string } {
  const result = spawnSync("openssl", args, { encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The private scalar and public point of an OpenSSL SM2 key (Node cannot export SM2 keys as JWK). */
function keyFromPem(pem: string): { d: bigint; publicKey: Uint8Array } {
  const privateKey = createPrivateKey(pem);
  const spki = new Uint8Array(createPublicKey(privateKey).export({ format: "der", type: "spki" }));
  const pkcs8 = new Uint8Array(privateKey.export({ format: "der", type: "pkcs8" }));
  const outer = asn1js.fromBER(pkcs8).result as asn1js.Sequence;
  const wrapped = outer.valueBlock.value[2] as asn1js.OctetString;
  const ecPrivateKey = asn1js.fromBER(wrapped.valueBlock.valueHexView).result as asn1js.Sequence;
  const scalar = ecPrivateKey.valueBlock.value[1] as asn1js.OctetString;
  return { d: bytesToBigInt(scalar.valueBlock.valueHexView), publicKey: spki.subarray(spki.length - 65) };
}

describe("SM2 interoperability with the OpenSSL CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "yzt-sm2-"));
  const path = (name: string): string => join(dir, name);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const distid = ["-pkeyopt", `distid:${SM2_DEFAULT_ID}`];

  let key: { d: bigint; publicKey: Uint8Array } = { d: 0n, publicKey: new Uint8Array(0) };
  beforeAll(() => {
    execFileSync("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", path("key.pem")]);
    execFileSync("openssl", ["pkey", "-in", path("key.pem"), "-pubout", "-out", path("pub.pem")]);
    key = keyFromPem(readFileSync(path("key.pem"), "utf8"));
  });

  it("reads a key whose public point is d·G", () => {
    expect(hex(sm2PublicFromPrivate(key.d))).toBe(hex(key.publicKey));
  });

  it("verifies signatures made by OpenSSL", () => {
    for (let i = 0; i < 4; i++) {
      const message = randomBytes(100 + i * 50);
      writeFileSync(path("message.bin"), message);
      execFileSync("openssl", ["pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", path("key.pem"), "-in", path("message.bin"), "-out", path("openssl.sig"), ...distid]);
      const signature = derToRs(readFileSync(path("openssl.sig")));
      expect(sm2Verify(key.publicKey, sm2Digest(key.publicKey, message), signature)).toBe(true);
      expect(sm2Verify(key.publicKey, sm2Digest(key.publicKey, message, "another id"), signature)).toBe(false);
      message[0]! ^= 1;
      expect(sm2Verify(key.publicKey, sm2Digest(key.publicKey, message), signature)).toBe(false);
    }
  });

  it("agrees with OpenSSL on Z for a long ID (ENTL high byte non-zero)", () => {
    const longId = "tax-bureau-distinguishing-identifier-".repeat(2);
    const message = text("long id");
    writeFileSync(path("long-id.bin"), message);
    execFileSync("openssl", ["pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", path("key.pem"), "-in", path("long-id.bin"), "-out", path("long-id.sig"), "-pkeyopt", `distid:${longId}`]);
    const signature = derToRs(readFileSync(path("long-id.sig")));
    expect(sm2Verify(key.publicKey, sm2Digest(key.publicKey, message, longId), signature)).toBe(true);
    expect(sm2Verify(key.publicKey, sm2Digest(key.publicKey, message), signature)).toBe(false);
  });

  it("makes signatures OpenSSL verifies, and OpenSSL rejects them for a tampered file", () => {
    const message = text("纳税申报 / tax declaration ".repeat(20));
    writeFileSync(path("ours.bin"), message);
    writeFileSync(path("ours.sig"), rsToDer(sm2Sign(key.d, sm2Digest(key.publicKey, message))));
    const verifyArgs = (file: string): string[] =>
      ["pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", path("pub.pem"), "-in", path(file), "-sigfile", path("ours.sig"), ...distid];
    const accepted = openssl(verifyArgs("ours.bin"));
    expect(accepted.output).toContain("Signature Verified Successfully");
    expect(accepted.status).toBe(0);

    writeFileSync(path("tampered.bin"), text("纳税申报 / tax declaration ".repeat(20) + "!"));
    const rejected = openssl(verifyArgs("tampered.bin"));
    expect(rejected.output).not.toContain("Signature Verified Successfully");
    expect(rejected.status).not.toBe(0);
  });
});
