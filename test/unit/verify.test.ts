/**
 * verifyLoginToken with a software key: every failure reason is reachable and named; with a challenge store
 * it consumes the challenge only once everything else has passed, and fails closed when the store cannot answer.
 */
import { execFileSync } from "node:child_process";
import { constants, createPrivateKey, privateEncrypt, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginMessage } from "../../protocol/login-token.js";
import { rsaSha256DigestInfo, sha256 } from "../../crypto/signature-encoding.js";
import { ChallengeStoreError, LoginTokenError, memoryChallengeStore, verifyLoginToken, type ChallengeStore } from "../../server/index.js";

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

async function reason(input: unknown, options: Partial<Parameters<typeof verifyLoginToken>[1]> = {}): Promise<string> {
  try {
    // The fixed CHALLENGE is the expected one only for calls without a store (the store's checks stand alone).
    const expected = options.challengeStore ? {} : { challenge: CHALLENGE };
    await verifyLoginToken(input, { ...expected, origin: ORIGIN, trustedRoots: [rsa.pem, ec.pem], ...options } as Parameters<typeof verifyLoginToken>[1]);
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
  it("accepts RS256 and ES256 tokens and names the holder", async () => {
    expect((await verifyLoginToken(token(), { challenge: CHALLENGE, origin: ORIGIN, trustedRoots: [rsa.pem] })).holderName).toBe("测试rsa");
    expect(await reason(token({}, ec, "ES256"))).toBe("ok");
  });

  it("names each way a token can be wrong", async () => {
    expect(await reason(token({ format: "yzt-login:0" }))).toBe("format");
    expect(await reason({ ...token(), certificate: undefined })).toBe("format");
    expect(await reason(token(), { origin: "https://evil.example" })).toBe("origin");
    expect(await reason(token(), { challenge: "another-challenge-123" })).toBe("challenge");
    expect(await reason(token({ signature: token({ challenge: "x".repeat(20) }).signature }))).toBe("signature");
    expect(await reason(token({ algorithm: "ES256" }))).toBe("algorithm");
    expect(await reason(token(), { now: new Date(Date.now() + 60 * 86_400_000) })).toBe("expired");
    expect(await reason(token(), { now: new Date(Date.now() - 86_400_000) })).toBe("notYetValid");
    expect(await reason(token(), { trustedRoots: [ec.pem] })).toBe("untrusted");
    expect(await reason("not an object")).toBe("format");
  });

  it("refuses to run without a challenge or a challenge store (it would accept any challenge)", () => {
    expect(() => verifyLoginToken(token(), { origin: ORIGIN, trustedRoots: [rsa.pem] } as never)).toThrow(TypeError);
  });

  it("answers at once, as sites written against it expect, when given the challenge the site issued", () => {
    const verified = verifyLoginToken(token(), { challenge: CHALLENGE, origin: ORIGIN, trustedRoots: [rsa.pem] });
    expect(verified).not.toBeInstanceOf(Promise);
    expect(verified.holderName).toBe("测试rsa");
    expect(() => verifyLoginToken(token(), { challenge: "another-challenge-123", origin: ORIGIN, trustedRoots: [rsa.pem] })).toThrow(LoginTokenError);
  });
});

describe("verifyLoginToken with a challenge store", () => {
  const withStore = (store: ChallengeStore, challengeBinding?: string) => ({ origin: ORIGIN, trustedRoots: [rsa.pem], challengeStore: store, ...(challengeBinding ? { challengeBinding } : {}) });

  it("consumes the token's challenge: the first presentation logs in, a replay gets reason challenge", async () => {
    const store = memoryChallengeStore();
    const challenge = await store.issue(60);
    const genuine = token({ challenge });
    expect((await verifyLoginToken(genuine, withStore(store))).holderName).toBe("测试rsa");
    expect(await reason(genuine, withStore(store))).toBe("challenge");
  });

  it("lets no failing token burn the challenge: forged, wrong origin, untrusted or expired, the genuine one still logs in", async () => {
    const store = memoryChallengeStore();
    const challenge = await store.issue(60);
    const genuine = token({ challenge });
    const forged = { ...genuine, signature: token({ challenge: "x".repeat(20) }).signature };
    expect(await reason(forged, withStore(store))).toBe("signature");
    expect(await reason(token({ challenge, origin: "https://evil.example" }), withStore(store))).toBe("origin");
    expect(await reason(token({ challenge }, ec, "ES256"), withStore(store))).toBe("untrusted");
    expect(await reason(genuine, { ...withStore(store), now: new Date(Date.now() + 60 * 86_400_000) })).toBe("expired");
    expect(await reason(genuine, withStore(store))).toBe("ok");
  });

  it("refuses a challenge issued to another session, an unknown one, and one that does not match the expected challenge", async () => {
    const store = memoryChallengeStore();
    const challenge = await store.issue(60, "session-a");
    expect(await reason(token({ challenge }), withStore(store, "session-b"))).toBe("challenge");
    expect(await reason(token({ challenge: "never-issued-challenge-0123456789" }), withStore(store))).toBe("challenge");
    const expected = await store.issue(60);
    expect(await reason(token({ challenge: await store.issue(60) }), { ...withStore(store), challenge: expected })).toBe("challenge");
    expect(await reason(token({ challenge: expected }), { ...withStore(store), challenge: expected })).toBe("ok");
  });

  it("fails closed with reason challengeStore when the store cannot answer", async () => {
    const down: ChallengeStore = {
      issue: async () => "unused",
      consume: async () => {
        throw new ChallengeStoreError("Redis unreachable");
      },
      close: async () => undefined,
    };
    const failure = await verifyLoginToken(token({ challenge: "any-challenge-0123456789" }), withStore(down)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(LoginTokenError);
    expect(failure).toMatchObject({ reason: "challengeStore", cause: expect.any(ChallengeStoreError) });
  });
});
