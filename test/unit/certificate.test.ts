/** Certificate parsing on certificates made here with OpenSSL, so every field is checked against a known input. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certificateValidity, creditCodeCheckChar, isCreditCode, parseCertificate, toYztCertificate } from "../../crypto/certificate.js";
import { YztError } from "../../protocol/errors.js";

let work: string;
const CODE = "91110108MA01DEMX0U";

function makeCertificate(name: string, options: { key: "rsa" | "ec" | "sm2"; subject: string; extensions: string[]; days?: number }): Uint8Array {
  const key = join(work, `${name}.key`);
  const der = join(work, `${name}.der`);
  const keyArgs = options.key === "rsa" ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", `ec_paramgen_curve:${options.key === "ec" ? "prime256v1" : "SM2"}`];
  execFileSync("openssl", [
    "req", "-x509", "-utf8", ...keyArgs, "-nodes", "-keyout", key, "-outform", "DER", "-out", der,
    "-days", String(options.days ?? 365), "-subj", options.subject, ...options.extensions.flatMap((e) => ["-addext", e]),
  ], { stdio: "pipe" });
  return new Uint8Array(readFileSync(der));
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "yzt-cert-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("certificate parsing", () => {
  it("reads a 一证通-style signing certificate: company, credit code, usage, purpose, dates", () => {
    const der = makeCertificate("sign", {
      key: "rsa",
      subject: `/C=CN/ST=北京市/O=北京演示科技有限公司/CN=北京演示科技有限公司/serialNumber=${CODE}`,
      extensions: ["keyUsage=critical,digitalSignature,nonRepudiation", `1.2.156.10260.4.1.4=ASN1:PRINTABLESTRING:${CODE}`, "1.2.156.112562.2.1.1.1=ASN1:UTF8String:SF" + CODE],
    });
    const parsed = parseCertificate(der);
    expect(parsed.holderName).toBe("北京演示科技有限公司");
    expect(parsed.subject).toMatchObject({ C: "CN", ST: "北京市", O: "北京演示科技有限公司", CN: "北京演示科技有限公司", serialNumber: CODE });
    expect(parsed.creditCode).toBe(CODE);
    expect(parsed.uniqueId).toBe(`SF${CODE}`);
    expect(parsed.keyUsage).toEqual(["digitalSignature", "nonRepudiation"]);
    expect(parsed.purpose).toBe("sign");
    expect(parsed.keyAlgorithm).toBe("RSA");
    const x509 = execFileSync("openssl", ["x509", "-inform", "DER", "-in", join(work, "sign.der"), "-noout", "-serial", "-enddate"], { encoding: "utf8" });
    expect(parsed.serialNumber).toBe(/serial=([0-9A-F]+)/.exec(x509)![1]!.toLowerCase().replace(/^00(?=[89a-f])/, ""));
    expect(parsed.notAfter.getTime()).toBe(new Date(/notAfter=(.*)/.exec(x509)![1]!).getTime());
  });

  it("finds the credit code in OU text when no dedicated field exists, but only with a valid check character", () => {
    const good = parseCertificate(makeCertificate("ou", { key: "ec", subject: `/CN=张三/OU=统一社会信用代码(${CODE})`, extensions: ["keyUsage=keyAgreement"] }));
    expect(good.creditCode).toBe(CODE);
    expect(good.holderName).toBe("张三");
    expect(good.purpose).toBe("encrypt");
    expect(good.keyAlgorithm).toBe("EC");
    const bad = parseCertificate(makeCertificate("ou-bad", { key: "ec", subject: "/CN=李四/OU=91110108MA01DEMX0A", extensions: [] }));
    expect(bad.creditCode).toBeUndefined();
    expect(bad.purpose).toBe("both");
  });

  it("recognises SM2 keys", () => {
    expect(parseCertificate(makeCertificate("sm2", { key: "sm2", subject: "/O=国密测试/CN=sm2", extensions: [] })).keyAlgorithm).toBe("SM2");
  });

  it("rejects garbage with BAD_REQUEST instead of crashing", () => {
    for (const bytes of [new Uint8Array(), new Uint8Array([0x30, 0x82, 0xff]), new TextEncoder().encode("-----BEGIN CERTIFICATE-----")]) {
      expect(() => parseCertificate(bytes)).toThrowError(YztError);
    }
  });

  it("reads BMPString names (older Chinese CAs), GeneralizedTime after 2049 and bytes after the certificate", () => {
    const key = join(work, "bmp.key");
    const der = join(work, "bmp.der");
    // string_mask=nombstr is not what we want: force BMPString for every name attribute.
    const config = join(work, "bmp.cnf");
    writeFileSync(config, "[req]\ndistinguished_name=dn\nstring_mask=MASK:0x800\n[dn]\n");
    execFileSync("openssl", [
      "req", "-x509", "-utf8", "-config", config, "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-outform", "DER", "-out", der,
      "-days", "36500", "-subj", "/O=北京演示科技有限公司/CN=北京演示科技有限公司",
    ], { stdio: "pipe" });
    const bytes = new Uint8Array(readFileSync(der));
    // The subject's O is a BMPString (tag 0x1e) holding the company name in UTF-16BE.
    expect(Buffer.from(bytes).includes(Buffer.concat([Buffer.from([0x1e, 20]), Buffer.from("北京演示科技有限公司", "utf16le").swap16()]))).toBe(true);
    const padded = new Uint8Array([...bytes, 0, 0, 0, 0]);
    const parsed = parseCertificate(padded);
    expect(parsed.holderName).toBe("北京演示科技有限公司");
    expect(parsed.notAfter.getUTCFullYear()).toBeGreaterThan(2100);
    const enddate = execFileSync("openssl", ["x509", "-inform", "DER", "-in", der, "-noout", "-enddate"], { encoding: "utf8" });
    expect(parsed.notAfter.getTime()).toBe(new Date(/notAfter=(.*)/.exec(enddate)![1]!).getTime());
  });

  it("reads a certificate whose extension values are malformed as if those extensions were absent, as pkijs did", () => {
    const der = makeCertificate("bad-ext", { key: "rsa", subject: "/O=公司/CN=公司", extensions: ["basicConstraints=critical,CA:TRUE", "extendedKeyUsage=clientAuth"] });
    expect(parseCertificate(der)).toMatchObject({ isCa: true, extendedKeyUsage: ["1.3.6.1.5.5.7.3.2"] });
    const broken = Buffer.from(der);
    // basicConstraints' value SEQUENCE { BOOLEAN TRUE }: the BOOLEAN now claims 5 bytes, past its SEQUENCE.
    const ca = broken.indexOf(Buffer.from([0x30, 0x03, 0x01, 0x01, 0xff]));
    expect(ca).toBeGreaterThan(0);
    broken[ca + 3] = 0x05;
    // extendedKeyUsage's one OID (id-kp-clientAuth) loses its last byte's end: a truncated OBJECT IDENTIFIER.
    const eku = broken.indexOf(Buffer.from([0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02]));
    expect(eku).toBeGreaterThan(0);
    broken[eku + 9] = 0x82;
    expect(parseCertificate(broken)).toMatchObject({ isCa: false, extendedKeyUsage: [], holderName: "公司" });
  });

  it("rejects every truncation of a real certificate with BAD_REQUEST", () => {
    const der = makeCertificate("cut", { key: "sm2", subject: "/O=国密测试/CN=sm2", extensions: ["keyUsage=digitalSignature"] });
    for (let length = 0; length < der.length; length += 7) {
      expect(() => parseCertificate(der.subarray(0, length))).toThrowError(YztError);
    }
  });

  it("computes days left and status around the 30-day expiry window", () => {
    const notBefore = new Date("2026-01-01T00:00:00Z");
    const notAfter = new Date("2026-12-31T00:00:00Z");
    expect(certificateValidity(notBefore, notAfter, new Date("2026-06-01T00:00:00Z")).status).toBe("valid");
    expect(certificateValidity(notBefore, notAfter, new Date("2026-12-01T00:00:00Z"))).toEqual({ daysLeft: 30, status: "expiring" });
    expect(certificateValidity(notBefore, notAfter, new Date("2027-01-02T00:00:00Z"))).toEqual({ daysLeft: -2, status: "expired" });
    expect(certificateValidity(notBefore, notAfter, new Date("2025-12-31T00:00:00Z")).status).toBe("notYetValid");
  });

  it("builds every YztCertificate field", () => {
    const parsed = parseCertificate(makeCertificate("yzt", { key: "rsa", subject: `/O=公司/CN=公司/serialNumber=${CODE}`, extensions: ["keyUsage=digitalSignature"] }));
    const yzt = toYztCertificate(parsed, { serial: "S1", label: "L" }, "0101", new Date());
    expect(Object.keys(yzt).sort()).toEqual([
      "creditCode", "daysLeft", "der", "holderName", "id", "issuer", "keyAlgorithm", "keyUsage", "notAfter", "notBefore",
      "purpose", "serialNumber", "status", "subject", "tokenLabel", "tokenSerial",
    ]);
    expect(yzt.id).toBe("S1:0101");
    expect(Buffer.from(yzt.der, "base64")).toEqual(Buffer.from(parsed.der));
  });
});

describe("unified social credit code", () => {
  it("computes the GB 32100-2015 check character", () => {
    expect(isCreditCode(CODE)).toBe(true);
    expect(creditCodeCheckChar(CODE.slice(0, 17))).toBe("U");
    expect(isCreditCode("91110108MA01DEMX0A")).toBe(false);
    expect(isCreditCode("91110108MA01DEMO0U")).toBe(false);
  });
});
