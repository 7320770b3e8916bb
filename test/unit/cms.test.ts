/** CMS SignedData built with a software RSA key standing in for the token, verified by OpenSSL. */
import { constants, generateKeyPairSync, privateEncrypt } from "node:crypto";
import { execFileSync as run } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attachContent, attachedFraming } from "../../protocol/cms-attach.js";
import { concatenationToBase64 } from "../../extension/shared/base64.js";
import { buildSignedData } from "../../crypto/cms.js";
import { signatureAlgorithm } from "../../crypto/algorithms.js";
import { rsaSha256DigestInfo, sha256 } from "../../crypto/signature-encoding.js";

let work: string;
let certificate: Uint8Array;
let keyPem: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "yzt-cms-"));
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  writeFileSync(join(work, "key.pem"), keyPem);
  run("openssl", ["req", "-x509", "-utf8", "-key", join(work, "key.pem"), "-outform", "DER", "-out", join(work, "cert.der"), "-days", "30", "-subj", "/O=测试公司/CN=测试公司", "-addext", "keyUsage=digitalSignature,nonRepudiation"], { stdio: "pipe" });
  run("openssl", ["x509", "-inform", "DER", "-in", join(work, "cert.der"), "-out", join(work, "cert.pem")]);
  certificate = new Uint8Array(readFileSync(join(work, "cert.der")));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const hashes: Uint8Array[] = [];
/** What the token does for RSA: PKCS#1 v1.5 over the SHA-256 of the DER signed attributes. */
const signAttributes = async (attributes: Uint8Array) => {
  const hash = sha256(attributes);
  hashes.push(hash);
  return new Uint8Array(privateEncrypt({ key: keyPem, padding: constants.RSA_PKCS1_PADDING }, rsaSha256DigestInfo(hash)));
};
const algorithm = signatureAlgorithm("RSA").cms;

function verify(signature: Uint8Array, content?: Buffer): boolean {
  const sig = join(work, "sig.p7s");
  writeFileSync(sig, signature);
  const args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-CAfile", join(work, "cert.pem"), "-purpose", "any", "-out", join(work, "out.bin")];
  if (content) {
    writeFileSync(join(work, "content.bin"), content);
    args.push("-content", join(work, "content.bin"));
  }
  try {
    run("openssl", args, { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

describe("CMS SignedData", () => {
  const content = Buffer.from("<申报表>内容</申报表>");
  const signingTime = new Date("2026-11-24T08:00:00Z");

  it("builds a detached signature that verifies only with the original content", async () => {
    const signature = await buildSignedData({ certificate, contentDigest: sha256(content), signingTime, algorithm, signAttributes });
    expect(verify(signature, content)).toBe(true);
    expect(verify(signature, Buffer.from("<申报表>篡改</申报表>"))).toBe(false);
    const printed = run("openssl", ["cms", "-cmsout", "-print", "-inform", "DER", "-in", join(work, "sig.p7s")], { encoding: "utf8" });
    expect(printed).toContain("signingTime");
    expect(printed).toContain("Nov 24 08:00:00 2026");
    expect(printed).toMatch(/eContent: <ABSENT>/);
  });

  it("builds an attached signature that carries the content as a DER primitive OCTET STRING", async () => {
    const detached = await buildSignedData({ certificate, contentDigest: sha256(content), signingTime, algorithm, signAttributes });
    const signature = attachContent(detached, content);
    expect(verify(signature)).toBe(true);
    const parsed = run("openssl", ["asn1parse", "-inform", "DER", "-in", join(work, "sig.p7s")], { encoding: "utf8" });
    expect(parsed).toMatch(/d=4 +hl=2 l= +\d+ cons: cont \[ 0 \]\s+\d+:d=5 +hl=2 l= +\d+ prim: OCTET STRING/);
    expect(readFileSync(join(work, "out.bin"))).toEqual(content);
  });

  it("signs a fresh hash of the signed attributes each time", async () => {
    hashes.length = 0;
    await buildSignedData({ certificate, contentDigest: sha256(Buffer.from("a")), signingTime, algorithm, signAttributes });
    await buildSignedData({ certificate, contentDigest: sha256(Buffer.from("b")), signingTime, algorithm, signAttributes });
    expect(hashes).toHaveLength(2);
    expect(Buffer.from(hashes[0]!).equals(Buffer.from(hashes[1]!))).toBe(false);
  });

  it("refuses a digest of the wrong size", async () => {
    await expect(buildSignedData({ certificate, contentDigest: new Uint8Array(20), signingTime, algorithm, signAttributes })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});

describe("attaching content to a detached signature (large documents)", () => {
  const signingTime = new Date("2026-11-24T08:00:00Z");

  it("embeds a 2 MB document that OpenSSL verifies and extracts, and a changed document fails", async () => {
    const content = Buffer.alloc(2 * 1024 * 1024 + 3, 0x5a);
    content.write("财务报表", 1000);
    const detached = await buildSignedData({ certificate, contentDigest: sha256(content), signingTime, algorithm, signAttributes });
    const attached = attachContent(detached, content);
    expect(verify(attached)).toBe(true);
    expect(readFileSync(join(work, "out.bin")).equals(content)).toBe(true);
    const tampered = Buffer.from(attached);
    tampered[Math.floor(tampered.length / 2)]! ^= 1; // the middle lies inside the embedded content
    expect(verify(tampered)).toBe(false);
  });

  it("frames the content as head ‖ content ‖ tail, and the pieces' base64 is the attached signature's, for every alignment and both profiles", async () => {
    const contentOffsets = new Set<number>();
    for (const profile of ["pkcs7", "gm"] as const) {
      // 64 KiB and up: the DER lengths take the same number of bytes, so only the content's length mod 3 varies.
      for (const size of [0, 1, 2, 3, 127, 128, 65_536, 65_537, 65_538, 300_000]) {
        const content = Buffer.alloc(size, 0xa5);
        content.write("增值税申报");
        const detached = await buildSignedData({ certificate, contentDigest: sha256(content), signingTime, algorithm, signAttributes, profile });
        const whole = attachContent(detached, content);
        const { head, tail } = attachedFraming(detached, size);
        expect(Buffer.concat([head, content, tail]).equals(whole), `${profile} ${size}`).toBe(true);
        contentOffsets.add(head.length % 3);
        const joined = concatenationToBase64([head, { bytes: content, base64: content.toString("base64") }, tail]);
        expect(joined, `${profile} ${size}`).toBe(Buffer.from(whole).toString("base64"));
      }
    }
    // Both cases met: content on a 3-byte boundary (its base64 reused) and off it (encoded).
    expect(contentOffsets.has(0) && contentOffsets.size > 1).toBe(true);
  });

  it("refuses a signature that already embeds content, and bytes that are not a SignedData", async () => {
    const content = Buffer.from("x");
    const attached = attachContent(await buildSignedData({ certificate, contentDigest: sha256(content), signingTime, algorithm, signAttributes }), content);
    expect(() => attachContent(attached, content)).toThrow(/already embeds/);
    expect(() => attachContent(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01), content)).toThrow(/CMS|DER/);
    expect(() => attachContent(Uint8Array.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff), content)).toThrow(/CMS|DER/);
  });
});

