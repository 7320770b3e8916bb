/**
 * The certificate's life cycle on the key, for the issuer's site (证书更新 / 证书解锁): containers, a new key
 * pair, its certificate request, the certificates and the encryption pair the CA sends back, deleting the old
 * container. The extension lets only issuer origins get here, each write behind its consent window; this
 * layer makes the writes safe whoever asks:
 *  - a certificate goes in only when its public key is the container's and it chains to the trusted roots;
 *  - the encryption pair goes in only when it matches its certificate (and the key itself checks the wrap);
 *  - a container holding a working signing certificate is deleted only while another container holds one too,
 *    so a renewal cut short (the key pulled out, the page closed) always leaves a certificate that logs in.
 * Every write runs in the key's queue after the origin's PIN check, and re-reads the key's certificates.
 */
import type { X509Certificate } from "node:crypto";
import { YztError } from "../../protocol/errors.js";
import type { ContainerInfo } from "../../protocol/key-writing.js";
import { certificateValidity, type ParsedCertificate } from "../../crypto/certificate-view.js";
import { samePublicKey } from "../../crypto/public-key.js";
import { publicPointOfSpki } from "../../crypto/sm2-certificate.js";
import { readX509 } from "../../crypto/x509-reader.js";
import type { Logger } from "../support/log.js";
import type { GeneratedKeyAlgorithm, KeyContainer } from "./device.js";
import type { SessionTable } from "./sessions.js";
import type { TokenContext, TokenEntry } from "./token-entry.js";
import type { TokenQueue } from "./token-queue.js";

interface WriteParams {
  origin: string;
  tokenSerial: string;
  container: string;
  pin?: string;
}

const base64 = (bytes: Uint8Array | null) => (bytes ? Buffer.from(bytes).toString("base64") : undefined);

function containerInfo(container: KeyContainer): ContainerInfo {
  const fields = {
    signKeyId: container.signKeyId ?? undefined,
    encryptKeyId: container.encryptKeyId ?? undefined,
    signPublicKey: base64(container.signPublicKey),
    encryptPublicKey: base64(container.encryptPublicKey),
    signCertificate: base64(container.signCertificate),
    encryptCertificate: base64(container.encryptCertificate),
  };
  return { name: container.name, keyAlgorithm: container.keyAlgorithm, ...Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) };
}

/** A container by its name, or by the key id of one of its pairs (what XTXApp certificate ids carry). */
export function findContainer(containers: KeyContainer[], reference: string): KeyContainer | undefined {
  return containers.find((container) => container.name === reference) ?? containers.find((container) => container.signKeyId === reference || container.encryptKeyId === reference);
}

export class KeyLifecycle {
  constructor(
    private readonly context: TokenContext,
    private readonly sessions: SessionTable,
    private readonly queue: TokenQueue,
    private readonly logger: Logger,
  ) {}

  async listContainers(params: { tokenSerial: string }): Promise<{ containers: ContainerInfo[] }> {
    const entry = this.presentEntry(params.tokenSerial);
    return this.queue.run(entry, async () => ({ containers: (await entry.device.containers()).map(containerInfo) }));
  }

  async generateKeyPair(params: WriteParams & { keyAlgorithm: GeneratedKeyAlgorithm }): Promise<{ container: string; publicKey: string }> {
    return this.write(params, "generateKeyPair", async (entry, containers) => {
      if (findContainer(containers, params.container)) throw new YztError("BAD_REQUEST", `the key already has a container named ${params.container}`);
      const publicKey = await entry.device.generateKeyPair(params.container, params.keyAlgorithm);
      return { container: params.container, publicKey: Buffer.from(publicKey).toString("base64") };
    });
  }

  /** PKCS#10 built here, signed in the key by the container's new signing key (SM2 with SM3 and Z, or RSA with SHA-256). */
  async createCertificateRequest(params: WriteParams & { subject: string }): Promise<{ request: string }> {
    const [{ buildCertificateRequest, parseDistinguishedName }, { signatureAlgorithm }, { SM2_DEFAULT_ID }] = await Promise.all([
      import("../../crypto/certificate-request.js"), import("../../crypto/algorithms.js"), import("../../crypto/sm2-digest.js"),
    ]);
    parseDistinguishedName(params.subject); // a malformed DN is the page's BAD_REQUEST before any PIN is asked
    const entry = this.presentEntry(params.tokenSerial);
    return this.queue.run(entry, async () => {
      const container = this.existing(await entry.device.containers(), params.container);
      if (!container.signKeyId || !container.signPublicKey || !container.keyAlgorithm) throw new YztError("BAD_REQUEST", `container ${container.name} has no signing key pair`);
      await this.sessions.authorize(entry, params.origin, params.pin);
      const { keyAlgorithm, signPublicKey } = container;
      const key = entry.device.signingKey(container.signKeyId, {
        keyAlgorithm, der: new Uint8Array(0), ...(keyAlgorithm === "SM2" ? { publicKeyPoint: publicPointOfSpki(signPublicKey) } : {}),
      });
      const algorithm = signatureAlgorithm(keyAlgorithm);
      const request = await buildCertificateRequest({
        subject: params.subject,
        publicKey: signPublicKey,
        sign: async (info) => algorithm.toDer(await algorithm.signMessage(key, info, SM2_DEFAULT_ID)),
      });
      this.sessions.touch(entry, params.origin);
      return { request: Buffer.from(request).toString("base64") };
    });
  }

  /**
   * A signing certificate for the container's signing pair, or an encryption certificate with the pair the
   * KMC wrapped to the signing key (or for an encryption pair the container already has).
   */
  async importCertificate(params: WriteParams & { certificate: string; encryptedKeyPair?: string }, authorities: X509Certificate[]): Promise<{ purpose: "sign" | "encrypt"; certificateId: string }> {
    const [{ parseCertificate }, { checkChain }] = await Promise.all([import("../../crypto/certificate.js"), import("../../crypto/chain.js")]);
    let certificate: ParsedCertificate;
    try {
      certificate = parseCertificate(Buffer.from(params.certificate, "base64"));
    } catch (error) {
      throw new YztError("BAD_REQUEST", `certificate: not an X.509 certificate (${YztError.from(error).message})`);
    }
    const { status } = certificateValidity(certificate.notBefore, certificate.notAfter, this.context.now());
    if (status === "expired" || status === "notYetValid") throw new YztError("BAD_REQUEST", `certificate: not within its validity period (${status})`);
    const chain = checkChain(certificate.der, authorities, this.context.now());
    if (chain.status !== "ok") {
      throw new YztError("BAD_REQUEST", `certificate: does not chain to a trusted root (${chain.status === "incomplete" ? `issuer ${chain.missingIssuer} unknown` : chain.reason})`);
    }
    const purpose = certificate.purpose === "encrypt" ? "encrypt" : "sign";
    // The consent window said what the page asked for: a pair with a signing certificate is a mistake, not a signing import.
    if (purpose === "sign" && params.encryptedKeyPair !== undefined) throw new YztError("BAD_REQUEST", "encryptedKeyPair: it comes with an encryption certificate, and this certificate is for signing");
    const wrapped = params.encryptedKeyPair === undefined ? null : await this.wrappedPair(params.encryptedKeyPair);
    return this.write(params, "importCertificate", async (entry, containers) => {
      const container = this.existing(containers, params.container);
      const { spki } = readX509(certificate.der);
      if (purpose === "sign") {
        if (!container.signPublicKey || !samePublicKey(container.signPublicKey, spki)) throw new YztError("BAD_REQUEST", `certificate: its public key is not the signing key of container ${container.name}`);
        await entry.device.importCertificate(container.name, "sign", certificate.der);
        return { purpose, certificateId: `${entry.serial}:${container.signKeyId}` };
      }
      if (wrapped) {
        if (!container.signKeyId) throw new YztError("BAD_REQUEST", `container ${container.name} has no signing key to unwrap the encryption pair with`);
        if (!samePublicKey(spki, wrapped.spki)) throw new YztError("BAD_REQUEST", "encryptedKeyPair: its public key is not the encryption certificate's");
        if (container.encryptPublicKey) throw new YztError("BAD_REQUEST", `container ${container.name} already holds an encryption key pair`);
        await entry.device.importEncryptionKeyPair(container.name, wrapped.pair);
      } else if (!container.encryptPublicKey || !samePublicKey(container.encryptPublicKey, spki)) {
        throw new YztError("BAD_REQUEST", `certificate: its public key is not the encryption key of container ${container.name} (send the key pair with it)`);
      }
      // The key unwrapped what it was given: the certificate goes in only beside the pair it certifies.
      const after = this.existing(await entry.device.containers(), container.name);
      if (!after.encryptPublicKey || !samePublicKey(after.encryptPublicKey, spki)) throw new YztError("INTERNAL", "the key did not store the encryption key pair it accepted");
      await entry.device.importCertificate(container.name, "encrypt", certificate.der);
      return { purpose, certificateId: `${entry.serial}:${after.encryptKeyId}` };
    });
  }

  async deleteContainer(params: WriteParams): Promise<{ deleted: string }> {
    return this.write(params, "deleteContainer", async (entry, containers) => {
      const container = this.existing(containers, params.container);
      // Any signing certificate the key shows counts, whether or not its pair could be read.
      const working = (candidate: KeyContainer) => candidate.signCertificate !== null && this.certificateWorks(candidate.signCertificate);
      if (working(container) && !containers.some((other) => other !== container && working(other))) {
        throw new YztError("BAD_REQUEST", `container ${container.name} holds the key's only working signing certificate: it is deleted only once the new certificate is on the key`);
      }
      await entry.device.deleteContainer(container.name);
      return { deleted: container.name };
    });
  }

  /**
   * One write: the origin's PIN check, then the write in the key's queue; whatever happened, the key's
   * certificates are read afresh and pages hear that they may have changed.
   */
  private write<T>(params: WriteParams, what: string, task: (entry: TokenEntry, containers: KeyContainer[]) => Promise<T>): Promise<T> {
    const entry = this.presentEntry(params.tokenSerial);
    return this.queue.run(entry, async () => {
      await this.sessions.authorize(entry, params.origin, params.pin);
      // Listed after the login: a PKCS#11 key shows its private objects only then, and the checks and the
      // device's write must see the same key.
      const containers = await entry.device.containers();
      try {
        const result = await task(entry, containers);
        this.logger.log("info", "key written", { token: entry.serial, what, container: params.container, origin: params.origin });
        return result;
      } finally {
        entry.certificates = null;
        this.sessions.touch(entry, params.origin);
        this.context.emitEvent("certificateschanged", { tokenSerial: entry.serial });
      }
    });
  }

  private async wrappedPair(encoded: string) {
    const { parseEnvelopedKeyPair, encodeEnvelopedKeyBlob } = await import("../../crypto/enveloped-key.js");
    const { sm2PublicKeyInfo } = await import("../../crypto/public-key.js");
    const parsed = parseEnvelopedKeyPair(Buffer.from(encoded, "base64"));
    // The key takes GM/T 0016's structure, whichever of the two forms the page sent.
    return { pair: { blob: encodeEnvelopedKeyBlob(parsed, 4), publicKey: parsed.publicKey }, spki: sm2PublicKeyInfo(parsed.publicKey) };
  }

  /** Within its validity period: what a login page would accept (a chain problem is the issuer's to mend). */
  private certificateWorks(der: Uint8Array): boolean {
    try {
      const { notBefore, notAfter } = readX509(der);
      const { status } = certificateValidity(notBefore, notAfter, this.context.now());
      return status !== "expired" && status !== "notYetValid";
    } catch {
      return false;
    }
  }

  private existing(containers: KeyContainer[], reference: string): KeyContainer {
    const found = findContainer(containers, reference);
    if (!found) throw new YztError("BAD_REQUEST", `the key has no container ${reference}`);
    return found;
  }

  private presentEntry(tokenSerial: string): TokenEntry {
    const entry = this.context.tokens.get(tokenSerial);
    if (!entry || !entry.present) throw new YztError("NO_TOKEN", `token ${tokenSerial} is not inserted`, { tokenSerial });
    return entry;
  }
}
