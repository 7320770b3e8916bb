/** verifyLoginToken with a software key: every failure reason is reachable and named. */
import { execFileSync } from "node:child_process";
import { constants, createPrivateKey, privateEncrypt, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginMessage } from "../../protocol/login-token.js";
import { rsaSha256DigestInfo, sha256 } from "../../native-host/crypto/signature-encoding.js";
import { LoginTokenError, verifyLoginToken } from "../../native-host/crypto/verify.js";

let work: string;
let rsa: { der: Buffer; pem: string; key: string };
let ec: { der: Buffer; pem: string; key: string };
const ORIGIN = "https://etax.beijing.chinatax.gov.cn";
const CHALLENGE = "0123456789abcdef-challenge";

function selfSigned(name: string, keyArgs: string[]) {
  const key = join(work, `${name}.key`);
  execFileSync("openssl", ["req", "-x509", "-utf8", ...keyArgs, "-nodes", "-keyout", key, "-out", join(work, `${name}.pem`), "-days", "30", "-subj", `/O=测试${name}/CN=测试${name}`], { stdio: "pipe" });
  const pem = readFileSync(join(work, `${name}.pem`), "utf8");
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  return { der, pem, key: readFileSync(key, "utf8") };
}

function token(overrides: Record<string, unknown> = {}, signer = rsa, algorithm = "RS256") {
  const message = loginMessage(String(overrides.origin ?? ORIGIN), String(overrides.challenge ?? CHALLENGE));
  const signature = algorithm === "RS256"
    ? privateEncrypt({ key: signer.key, padding: constants.RSA_PKCS1_PADDING }, rsaSha256DigestInfo(sha256(message)))
    : sign("sha256", message, { key: createPrivateKey(signer.key), dsaEncoding: "ieee-p1363" });
  return { format: "yzt-login:1", certificate: signer.der.toString("base64"), algorithm, origin: ORIGIN, challenge: CHALLENGE, signature: signature.toString("base64"), ...overrides };
}

function reason(input: unknown, options: Partial<Parameters<typeof verifyLoginToken>[1]> = {}): string {
  try {
    verifyLoginToken(input, { challenge: CHALLENGE, origin: ORIGIN, trustedRoots: [rsa.pem, ec.pem], ...options });
    return "ok";
  } catch (error) {
    if (error instanceof LoginTokenError) return error.reason;
    throw error;
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "yzt-verify-"));
  rsa = selfSigned("rsa", ["-newkey", "rsa:2048"]);
  ec = selfSigned("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("verifyLoginToken", () => {
  it("accepts RS256 and ES256 tokens and names the holder", () => {
    expect(verifyLoginToken(token(), { challenge: CHALLENGE, origin: ORIGIN, trustedRoots: [rsa.pem] }).holderName).toBe("测试rsa");
    expect(reason(token({}, ec, "ES256"))).toBe("ok");
  });

  it("names each way a token can be wrong", () => {
    expect(reason(token({ format: "yzt-login:0" }))).toBe("format");
    expect(reason({ ...token(), certificate: undefined })).toBe("format");
    expect(reason(token(), { origin: "https://evil.example" })).toBe("origin");
    expect(reason(token(), { challenge: "another-challenge-123" })).toBe("challenge");
    expect(reason(token({ signature: token({ challenge: "x".repeat(20) }).signature }))).toBe("signature");
    expect(reason(token({ algorithm: "ES256" }))).toBe("algorithm");
    expect(reason(token(), { now: new Date(Date.now() + 60 * 86_400_000) })).toBe("expired");
    expect(reason(token(), { now: new Date(Date.now() - 86_400_000) })).toBe("notYetValid");
    expect(reason(token(), { trustedRoots: [ec.pem] })).toBe("untrusted");
    expect(reason("not an object")).toBe("format");
  });
});
