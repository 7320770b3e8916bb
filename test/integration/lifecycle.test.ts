/**
 * The certificate's life cycle through the real host, on both backends (the virtual key's PKCS#11 face and its
 * SKF face): renewal of an expiring SM2 key — new pair in a new container, PKCS#10 signed in the key and
 * checked by OpenSSL, the demo CA's new certificate, the demo KMC's wrapped encryption pair — then a login with
 * the new certificate verified by verifyLoginToken; every refusal leaves the key as it was; a key pulled out
 * at any step leaves the old certificate working; unlock with a wrong, then the right admin PIN.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCertificate } from "../../crypto/certificate-issuer.js";
import { readCertificateRequest } from "../../crypto/certificate-request.js";
import { encodeEnvelopedKeyBlob, encodeSm2EnvelopedKey, wrapKeyPairFor } from "../../crypto/enveloped-key.js";
import { sm2PublicKeyInfo } from "../../crypto/public-key.js";
import { publicPointOfSpki } from "../../crypto/sm2-certificate.js";
import type { ContainerInfo } from "../../protocol/key-writing.js";
import type { YztCertificate } from "../../protocol/types.js";
import { HostProcess, rejectionOf } from "../../scripts/host-process.js";
import { verifyLoginToken } from "../../server/index.js";
import { opensslVerifiesRequest } from "../support/independent-verify.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { insertToken, removeToken, setRetries } from "../virtual-token/state.js";

const ISSUER = "https://yzt.beijing.gov.cn";
const TAX_HALL = "https://etax.beijing.chinatax.gov.cn";
const PIN = "12345678";
const SM2_KEY = { alias: "expiring", serial: "YZT0000000000004" } as const;
const RSA_KEY = { alias: "rsa", serial: "YZT0000000000005" } as const;
const DAY = 86_400_000;

let vtoken: VirtualToken;
let host: HostProcess;
let caCertificate: Uint8Array;
let caKey: Uint8Array;

function pemBody(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64"));
}

/** The demo CA's answer to a request: a signing certificate for its key, named as `subject` says. */
function issueFor(request: Uint8Array, purpose: "sign" | "encrypt" = "sign", publicKey?: Uint8Array): string {
  const csr = readCertificateRequest(request);
  const now = Date.now();
  const der = issueCertificate({
    issuerCertificate: caCertificate, issuerPrivateKey: caKey, subject: csr.subjectDer, publicKey: publicKey ?? csr.publicKey,
    notBefore: new Date(now - 60_000), notAfter: new Date(now + 730 * DAY), purpose,
  });
  return Buffer.from(der).toString("base64");
}

async function containers(serial: string): Promise<ContainerInfo[]> {
  return (await host.request("listContainers", { tokenSerial: serial })).containers;
}

async function signingCertificates(serial: string): Promise<YztCertificate[]> {
  return (await host.request("listCertificates", { tokenSerial: serial, purpose: "sign" })).filter((certificate) => certificate.purpose !== "encrypt");
}

/** Every certificate listed for a key sits beside its key pair: no half-written container shows. */
async function expectNoHalfContainer(serial: string): Promise<void> {
  const listed = await host.request("listCertificates", { tokenSerial: serial });
  const byKeyId = new Map((await containers(serial)).flatMap((container) => [[container.signKeyId, container.signPublicKey], [container.encryptKeyId, container.encryptPublicKey]] as const));
  for (const certificate of listed) expect(byKeyId.get(certificate.id.split(":")[1]!), certificate.id).toBeTruthy();
}

async function loginWorks(certificate: YztCertificate): Promise<void> {
  const challenge = `challenge-${Date.now()}-${Math.random()}`;
  await host.request("logout", { origin: TAX_HALL });
  const { loginToken } = await host.request("login", { certificateId: certificate.id, origin: TAX_HALL, pin: PIN, challenge });
  const verified = verifyLoginToken(loginToken, { origin: TAX_HALL, challenge, trustedRoots: [readFileSync(vtoken.manifest.pki.chain, "utf8")] });
  expect(verified.certificate.serialNumber).toBe(certificate.serialNumber);
}

/** Pulls a key out and waits until the host has seen it go. */
async function pull(alias: string, serial: string): Promise<void> {
  host.events.length = 0;
  removeToken(vtoken.home, alias);
  await host.waitForEvent((event) => event.event === "tokenremoved" && event.data.tokenSerial === serial, 15_000);
}

async function putBack(alias: string, serial: string): Promise<void> {
  host.events.length = 0;
  insertToken(vtoken.home, alias);
  await host.waitForEvent((event) => event.event === "tokeninserted" && event.data.tokenSerial === serial, 15_000);
}

/** The old certificate of a key, and the subject a renewal page asks for. */
async function oldSigning(serial: string): Promise<{ certificate: YztCertificate; subject: string }> {
  const [certificate] = await signingCertificates(serial);
  return { certificate: certificate!, subject: `C=CN,O=${certificate!.subject.O},CN=${certificate!.subject.CN}` };
}

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  removeToken(vtoken.home, "demo");
  insertToken(vtoken.home, SM2_KEY.alias);
  insertToken(vtoken.home, RSA_KEY.alias);
  caCertificate = pemBody(readFileSync(vtoken.manifest.pki.sm2Intermediate, "utf8"));
  caKey = new Uint8Array(Buffer.from(readFileSync(vtoken.manifest.pki.sm2IntermediateKey, "utf8").trim(), "hex"));
  host = HostProcess.start({ library: vtoken.library, env: vtoken.env });
  await host.request("listCertificates", {});
}, 60_000);

afterAll(async () => {
  await host?.close();
  vtoken?.dispose();
});

describe(`the certificate's life cycle (${process.env.YZT_TEST_BACKEND ?? "pkcs11"})`, () => {
  it("renews an expiring SM2 certificate atomically and logs in with the new one", async () => {
    const serial = SM2_KEY.serial;
    const old = await oldSigning(serial);
    expect(old.certificate.status).toBe("expiring");
    const oldContainer = (await containers(serial)).find((container) => container.signCertificate === old.certificate.der)!;
    expect(oldContainer).toBeDefined();

    const generated = await host.request("generateKeyPair", { origin: ISSUER, tokenSerial: serial, container: "YZT-RENEW-1", keyAlgorithm: "SM2", pin: PIN });
    const fresh = (await containers(serial)).find((container) => container.name === "YZT-RENEW-1")!;
    expect(fresh).toMatchObject({ keyAlgorithm: "SM2", signPublicKey: generated.publicKey });
    expect(fresh.signCertificate).toBeUndefined();
    // A pair without its certificate is no login choice.
    expect((await signingCertificates(serial)).map((certificate) => certificate.der)).toEqual([old.certificate.der]);

    const { request } = await host.request("createCertificateRequest", { origin: ISSUER, tokenSerial: serial, container: "YZT-RENEW-1", subject: old.subject });
    const requestDer = new Uint8Array(Buffer.from(request, "base64"));
    expect(opensslVerifiesRequest(requestDer)).toBe(true);
    expect(Buffer.from(readCertificateRequest(requestDer).publicKey).toString("base64")).toBe(generated.publicKey);

    // The old container stays while it holds the only working signing certificate.
    expect((await rejectionOf(host.request("deleteContainer", { origin: ISSUER, tokenSerial: serial, container: oldContainer.name }))).code).toBe("BAD_REQUEST");

    const signCertificate = issueFor(requestDer);
    const imported = await host.request("importCertificate", { origin: ISSUER, tokenSerial: serial, container: "YZT-RENEW-1", certificate: signCertificate });
    expect(imported).toEqual({ purpose: "sign", certificateId: `${serial}:${fresh.signKeyId}` });

    const kmc = wrapKeyPairFor(publicPointOfSpki(new Uint8Array(Buffer.from(generated.publicKey, "base64"))));
    const encryptCertificate = issueFor(requestDer, "encrypt", sm2PublicKeyInfo(kmc.pair.publicKey));
    const encrypted = await host.request("importCertificate", {
      origin: ISSUER, tokenSerial: serial, container: "YZT-RENEW-1", certificate: encryptCertificate, encryptedKeyPair: Buffer.from(encodeSm2EnvelopedKey(kmc.pair)).toString("base64"),
    });
    expect(encrypted.purpose).toBe("encrypt");

    await host.request("deleteContainer", { origin: ISSUER, tokenSerial: serial, container: oldContainer.name });
    const [renewed, ...others] = await signingCertificates(serial);
    expect(others).toEqual([]);
    expect(renewed!.der).toBe(signCertificate);
    expect(renewed!.status).toBe("valid");
    await expectNoHalfContainer(serial);
    await loginWorks(renewed!);

    // The KMC's pair is on the key: an envelope to the new encryption certificate opens there.
    const { data: envelope } = await host.request("encrypt", { certificate: encryptCertificate, data: Buffer.from("申报数据").toString("base64"), format: "envelope" });
    const opened = await host.request("decrypt", { certificateId: renewed!.id, origin: TAX_HALL, data: envelope, format: "envelope", pin: PIN });
    expect(Buffer.from(opened.data, "base64").toString("utf8")).toBe("申报数据");
  });

  it("generates RSA-2048 pairs too, whose request OpenSSL verifies", async () => {
    const serial = RSA_KEY.serial;
    const old = await oldSigning(serial);
    const generated = await host.request("generateKeyPair", { origin: ISSUER, tokenSerial: serial, container: "RSA-RENEW", keyAlgorithm: "RSA", pin: PIN });
    const { request } = await host.request("createCertificateRequest", { origin: ISSUER, tokenSerial: serial, container: "RSA-RENEW", subject: old.subject });
    const requestDer = new Uint8Array(Buffer.from(request, "base64"));
    expect(readCertificateRequest(requestDer).keyAlgorithm).toBe("RSA");
    expect(Buffer.from(readCertificateRequest(requestDer).publicKey).toString("base64")).toBe(generated.publicKey);
    expect(opensslVerifiesRequest(requestDer)).toBe(true);
    await host.request("deleteContainer", { origin: ISSUER, tokenSerial: serial, container: "RSA-RENEW" });
    expect((await containers(serial)).some((container) => container.name === "RSA-RENEW")).toBe(false);
  });

  it("refuses a certificate for another key, an untrusted one, and a forged key pair, writing nothing", async () => {
    const serial = SM2_KEY.serial;
    const old = await oldSigning(serial);
    await host.request("generateKeyPair", { origin: ISSUER, tokenSerial: serial, container: "YZT-REFUSE", keyAlgorithm: "SM2", pin: PIN });
    const { request } = await host.request("createCertificateRequest", { origin: ISSUER, tokenSerial: serial, container: "YZT-REFUSE", subject: old.subject });
    const requestDer = new Uint8Array(Buffer.from(request, "base64"));
    const before = await containers(serial);

    // The old certificate is for the old key: not this container's.
    expect((await rejectionOf(host.request("importCertificate", { origin: ISSUER, tokenSerial: serial, container: "YZT-REFUSE", certificate: old.certificate.der }))).code).toBe("BAD_REQUEST");
    // A certificate from a CA nobody trusts, for the right key.
    const { createDemoCa } = await import("../virtual-token/demo-pki.js");
    const rogue = await createDemoCa(new Date(), "SM2");
    const rogueKey = (rogue.intermediateKey as { material: { d: Uint8Array } }).material.d;
    const csr = readCertificateRequest(requestDer);
    const untrusted = issueCertificate({
      issuerCertificate: rogue.intermediate.der, issuerPrivateKey: rogueKey, subject: csr.subjectDer, publicKey: csr.publicKey, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + DAY), purpose: "sign",
    });
    const refusal = await rejectionOf(host.request("importCertificate", { origin: ISSUER, tokenSerial: serial, container: "YZT-REFUSE", certificate: Buffer.from(untrusted).toString("base64") }));
    expect(refusal.code).toBe("BAD_REQUEST");
    expect(refusal.message).toContain("trusted");

    // A pair wrapped to the right key but claiming another public key: the key's own check refuses it.
    await host.request("importCertificate", { origin: ISSUER, tokenSerial: serial, container: "YZT-REFUSE", certificate: issueFor(requestDer) });
    const genuine = wrapKeyPairFor(publicPointOfSpki(csr.publicKey));
    const other = wrapKeyPairFor(publicPointOfSpki(csr.publicKey));
    const forged = { ...genuine.pair, publicKey: other.pair.publicKey };
    const forgedCertificate = issueFor(requestDer, "encrypt", sm2PublicKeyInfo(other.pair.publicKey));
    const forgery = await rejectionOf(host.request("importCertificate", {
      origin: ISSUER, tokenSerial: serial, container: "YZT-REFUSE", certificate: forgedCertificate, encryptedKeyPair: Buffer.from(encodeEnvelopedKeyBlob(forged, 4)).toString("base64"),
    }));
    expect(forgery.code).not.toBe("INTERNAL");
    // A key pair sent with a signing certificate: what the consent window announced (an encryption import) is not what it is.
    const mismatch = await rejectionOf(host.request("importCertificate", {
      origin: ISSUER, tokenSerial: serial, container: "YZT-REFUSE", certificate: issueFor(requestDer), encryptedKeyPair: Buffer.from(encodeEnvelopedKeyBlob(genuine.pair, 4)).toString("base64"),
    }));
    expect(mismatch).toMatchObject({ code: "BAD_REQUEST" });
    expect(mismatch.message).toContain("encryptedKeyPair");
    const after = (await containers(serial)).find((container) => container.name === "YZT-REFUSE")!;
    expect(after.encryptPublicKey).toBeUndefined();
    expect(after.encryptCertificate).toBeUndefined();
    expect(before.find((container) => container.name === "YZT-REFUSE")!.signCertificate).toBeUndefined();

    await host.request("deleteContainer", { origin: ISSUER, tokenSerial: serial, container: "YZT-REFUSE" });
    await expectNoHalfContainer(serial);
  });

  it("leaves the old certificate working when the key is pulled out at any step of a renewal", async () => {
    const serial = RSA_KEY.serial;
    const old = await oldSigning(serial);
    const steps: Array<(container: string) => Promise<unknown>> = [
      (container) => host.request("generateKeyPair", { origin: ISSUER, tokenSerial: serial, container, keyAlgorithm: "RSA", pin: PIN }),
      (container) => host.request("createCertificateRequest", { origin: ISSUER, tokenSerial: serial, container, subject: old.subject, pin: PIN }),
    ];
    for (let pulledAt = 0; pulledAt <= steps.length; pulledAt++) {
      const container = `PULLED-${pulledAt}`;
      for (const [index, step] of steps.entries()) {
        if (index === pulledAt) {
          await pull(RSA_KEY.alias, serial);
          expect(["TOKEN_REMOVED", "NO_TOKEN"]).toContain((await rejectionOf(step(container))).code);
          break;
        }
        await step(container);
      }
      if (pulledAt === steps.length) await pull(RSA_KEY.alias, serial);
      await putBack(RSA_KEY.alias, serial);
      const [still] = await signingCertificates(serial);
      expect(still?.der).toBe(old.certificate.der);
      await expectNoHalfContainer(serial);
      await loginWorks(still!);
    }
  });

  it("refuses a malformed container name or subject before any PIN is asked", async () => {
    // The host takes the origin from the extension, which gives these calls to issuer origins only
    // (test/e2e/lifecycle.test.ts); here a malformed container name or DN is refused before any PIN is asked.
    expect((await rejectionOf(host.request("generateKeyPair", { origin: ISSUER, tokenSerial: SM2_KEY.serial, container: "名字", keyAlgorithm: "SM2" }))).code).toBe("BAD_REQUEST");
    expect((await rejectionOf(host.request("createCertificateRequest", { origin: ISSUER, tokenSerial: SM2_KEY.serial, container: "X", subject: "no equals sign" }))).code).toBe("BAD_REQUEST");
  });

  it("unlocks a locked key with the admin PIN: a wrong one shows the admin counter, the right one sets the new PIN", async () => {
    const serial = SM2_KEY.serial;
    setRetries(vtoken.home, SM2_KEY.alias, 0);
    await host.request("logout", {});
    const locked = (await host.request("listTokens", {})).find((token) => token.serial === serial)!;
    expect(locked.pin.locked).toBe(true);
    const wrong = await rejectionOf(host.request("unlockPin", { origin: ISSUER, tokenSerial: serial, adminPin: "00000000", newPin: "24681357" }));
    expect(wrong.code).toBe("PIN_INCORRECT");
    expect(wrong.data?.pinType).toBe("admin");
    // SKF says how many admin tries are left; PKCS#11 only whether it is low, final or locked.
    if (vtoken.backend === "skf") expect(wrong.data?.retriesLeft).toBe(9);
    else expect(wrong.data).toMatchObject({ retriesLeft: null, locked: false });
    expect((await host.request("listTokens", {})).find((token) => token.serial === serial)!.pin.locked).toBe(true);

    await host.request("unlockPin", { origin: ISSUER, tokenSerial: serial, adminPin: vtoken.manifest.soPin, newPin: "24681357" });
    const unlocked = (await host.request("listTokens", {})).find((token) => token.serial === serial)!;
    expect(unlocked.pin.locked).toBe(false);
    const [certificate] = await signingCertificates(serial);
    await host.request("login", { certificateId: certificate!.id, origin: TAX_HALL, pin: "24681357" });
    await host.request("changePin", { tokenSerial: serial, oldPin: "24681357", newPin: PIN });
  });
});
