/**
 * What a caller does with a token: read its certificates, log in (optionally answering a challenge), sign,
 * change the PIN. Each operation runs in the token's queue (one at a time per token, racing removal) and
 * checks the certificate's validity and the caller's grant before the key is touched.
 */
import { YztError } from "../../protocol/errors.js";
import type { SignResult, YztCertificate } from "../../protocol/types.js";
import { checkPinRules, type LoginResult } from "../../protocol/messages.js";
import type { SigningKey } from "../../crypto/algorithms.js";
import { certificateValidity, toYztCertificate, type ParsedCertificate } from "../../crypto/certificate-view.js";
import { signForPage, signLoginToken } from "../../crypto/signer.js";
import type { Logger } from "../support/log.js";
import { decryptWithToken } from "./key-decrypter.js";
import type { PinSource, SessionTable } from "./sessions.js";
import type { CertificateRecord, TokenContext, TokenEntry } from "./token-entry.js";
import type { TokenQueue } from "./token-queue.js";

export interface SignParams {
  certificateId: string;
  origin: string;
  format: "pkcs7-detached" | "pkcs7-attached" | "raw";
  data?: string;
  digest?: string;
  hashAlgorithm?: "SHA-256" | "SM3";
  sm2Id?: string;
  cmsProfile?: "pkcs7" | "gm";
  pin?: string;
}

export interface CertificateSnapshot {
  der: Buffer;
  parsed: ParsedCertificate;
  yzt: YztCertificate;
}

function parseCertificateId(certificateId: string): { serial: string; keyId: string } {
  const split = certificateId.lastIndexOf(":");
  return { serial: certificateId.slice(0, split), keyId: certificateId.slice(split + 1) };
}

export class TokenOperations {
  constructor(
    private readonly context: TokenContext,
    private readonly sessions: SessionTable,
    private readonly queue: TokenQueue,
    private readonly logger: Logger,
  ) {}

  /** Certificates of every present token; a token pulled out while being read contributes none. */
  async listCertificates(filter: { purpose?: "sign" | "encrypt"; tokenSerial?: string }): Promise<YztCertificate[]> {
    const entries = this.presentTokens().filter((entry) => filter.tokenSerial === undefined || entry.serial === filter.tokenSerial);
    const lists = await Promise.all(
      entries.map((entry) =>
        this.queue.run(entry, () => this.certificatesOf(entry)).then(
          (records) => records.map((record) => this.toYzt(entry, record)),
          (error: unknown) => (YztError.from(error).code === "TOKEN_REMOVED" ? [] : Promise.reject(error)),
        ),
      ),
    );
    const all = lists.flat();
    if (!filter.purpose) return all;
    return all.filter((cert) => cert.purpose === filter.purpose || cert.purpose === "both");
  }

  /** Module/token/certificate facts for diagnostics, without touching any PIN. */
  async certificateSnapshots(): Promise<CertificateSnapshot[]> {
    const certificates: CertificateSnapshot[] = [];
    for (const entry of this.presentTokens()) {
      try {
        const records = await this.queue.run(entry, () => this.certificatesOf(entry));
        for (const record of records) {
          certificates.push({ der: Buffer.from(record.parsed.der), parsed: record.parsed, yzt: this.toYzt(entry, record) });
        }
      } catch (error) {
        this.logger.log("warn", "could not read certificates", { token: entry.serial, code: YztError.from(error).code });
      }
    }
    return certificates;
  }

  async login(params: { certificateId: string; origin: string; pin?: string; pinSource?: PinSource; challenge?: string }): Promise<LoginResult> {
    return this.withCertificate(params.certificateId, async (entry, record) => {
      await this.sessions.authorize(entry, params.origin, params.pin, params.pinSource);
      const result: LoginResult = { tokenSerial: entry.serial };
      if (params.challenge !== undefined) {
        result.loginToken = await signLoginToken(this.signingKey(entry, record), params.origin, params.challenge);
      }
      this.sessions.touch(entry, params.origin);
      return result;
    });
  }

  async sign(params: SignParams): Promise<SignResult> {
    return this.withCertificate(params.certificateId, async (entry, record) => {
      await this.sessions.authorize(entry, params.origin, params.pin);
      const result = await signForPage(this.signingKey(entry, record), {
        format: params.format,
        signingTime: this.context.now(),
        ...(params.data !== undefined ? { data: Buffer.from(params.data, "base64") } : {}),
        ...(params.digest !== undefined ? { digest: Buffer.from(params.digest, "base64") } : {}),
        ...(params.hashAlgorithm ? { hashAlgorithm: params.hashAlgorithm } : {}),
        ...(params.sm2Id ? { sm2Id: params.sm2Id } : {}),
        ...(params.cmsProfile ? { cmsProfile: params.cmsProfile } : {}),
      });
      this.sessions.touch(entry, params.origin);
      return result;
    });
  }

  /** An enveloped XML signature over the whole document (SOF_SignDataXML). */
  async signXml(params: { certificateId: string; origin: string; xml: string; pin?: string }): Promise<{ xml: string }> {
    const { checkXmlSignable, signXmlDocument } = await import("../../crypto/xml-signature.js");
    const xml = Buffer.from(params.xml, "base64").toString("utf8");
    return this.withCertificate(params.certificateId, async (entry, record) => {
      checkXmlSignable(xml, record.parsed.keyAlgorithm);
      await this.sessions.authorize(entry, params.origin, params.pin);
      const key = this.signingKey(entry, record);
      const signed = await signXmlDocument(xml, record.parsed.der, record.parsed.keyAlgorithm, async (bytes) => {
        const result = await signForPage(key, { format: "raw", signingTime: this.context.now(), data: Buffer.from(bytes) });
        return Buffer.from(result.signature, "base64");
      });
      this.sessions.touch(entry, params.origin);
      return { xml: Buffer.from(signed, "utf8").toString("base64") };
    });
  }

  /** Decrypts with the key's encryption certificate; needs this origin's session (or the PIN) like signing. */
  async decrypt(params: { certificateId: string; origin: string; data: string; format: "envelope" | "raw"; pin?: string }): Promise<{ data: string }> {
    const entry = this.entryOf(parseCertificateId(params.certificateId).serial);
    return this.queue.run(entry, async () => {
      await this.sessions.authorize(entry, params.origin, params.pin);
      const plain = await decryptWithToken({
        format: params.format,
        data: Buffer.from(params.data, "base64"),
        records: await this.certificatesOf(entry),
        device: entry.device,
      });
      this.sessions.touch(entry, params.origin);
      return { data: Buffer.from(plain).toString("base64") };
    });
  }

  async changePin(params: { tokenSerial: string; oldPin: string; newPin: string; pinSource?: PinSource }): Promise<{ changed: true }> {
    checkPinRules(params.newPin, "newPin");
    const entry = this.presentEntry(params.tokenSerial);
    return this.queue.run(entry, async () => {
      await this.sessions.requirePinUsable(entry);
      this.sessions.requirePagePinAllowed(entry, params.pinSource ?? "user");
      try {
        await entry.device.changePin(params.oldPin, params.newPin);
      } catch (error) {
        throw this.sessions.pinFailure(entry, error, params.pinSource);
      }
      this.sessions.pinAccepted(entry);
      return { changed: true as const };
    });
  }

  /**
   * The unlock (一证通服务平台「证书解锁」 or a service point): the administrator (SO) PIN sets a new user PIN
   * and clears the lock (C_InitPIN after an SO login; SKF_UnblockPIN). The `yzt unlock` command calls this, and
   * the extension for an issuer origin after its consent window (the issuer's server supplies the admin PIN).
   */
  async unlock(params: { tokenSerial: string; soPin: string; newPin: string }): Promise<{ unlocked: true }> {
    checkPinRules(params.newPin, "newPin");
    checkPinRules(params.soPin, "soPin");
    const entry = this.presentEntry(params.tokenSerial);
    return this.queue.run(entry, async () => {
      this.sessions.endGrants(entry, [...entry.grants.keys()], "logout");
      this.sessions.dropSession(entry);
      // A wrong admin PIN comes back with the admin counter (device.ts adminPinFailure).
      await entry.device.unlock(params.soPin, params.newPin);
      this.sessions.pinAccepted(entry);
      return { unlocked: true as const };
    });
  }

  private presentEntry(tokenSerial: string): TokenEntry {
    const entry = this.context.tokens.get(tokenSerial);
    if (!entry || !entry.present) throw new YztError("NO_TOKEN", `token ${tokenSerial} is not inserted`, { tokenSerial });
    return entry;
  }

  private presentTokens(): TokenEntry[] {
    return [...this.context.tokens.values()].filter((entry) => entry.present);
  }

  private toYzt(entry: TokenEntry, record: CertificateRecord): YztCertificate {
    return toYztCertificate(record.parsed, entry.device, record.keyId, this.context.now());
  }

  /**
   * The token a certificate id names, inserted. A serial never seen is a key not inserted too: it may have been
   * pulled out before its library first listed it (a page's call right after the host started).
   */
  private entryOf(serial: string): TokenEntry {
    const entry = this.context.tokens.get(serial);
    if (!entry?.present) throw new YztError("NO_TOKEN", `token ${serial} is not inserted`, { tokenSerial: serial });
    return entry;
  }

  private withCertificate<T>(certificateId: string, task: (entry: TokenEntry, record: CertificateRecord) => Promise<T>): Promise<T> {
    const { serial, keyId } = parseCertificateId(certificateId);
    const entry = this.entryOf(serial);
    return this.queue.run(entry, async () => {
      const record = (await this.certificatesOf(entry)).find((candidate) => candidate.keyId === keyId);
      if (!record) throw new YztError("NO_CERTIFICATE", `certificate ${certificateId} is not on the token`);
      // The encryption half of a dual pair may not sign (API.md section 3): its key usage says so.
      if (record.parsed.purpose === "encrypt") {
        throw new YztError("BAD_REQUEST", `certificate ${certificateId} is an encryption certificate: its key usage does not allow signatures`);
      }
      this.requireValid(record.parsed);
      return task(entry, record);
    });
  }

  private requireValid(parsed: ParsedCertificate): void {
    const { status } = certificateValidity(parsed.notBefore, parsed.notAfter, this.context.now());
    if (status === "expired") {
      throw new YztError("CERT_EXPIRED", `the certificate expired on ${parsed.notAfter.toISOString()}`, { notAfter: parsed.notAfter.toISOString() });
    }
    if (status === "notYetValid") {
      throw new YztError("CERT_NOT_YET_VALID", `the certificate is valid from ${parsed.notBefore.toISOString()}`, { notBefore: parsed.notBefore.toISOString() });
    }
  }

  private signingKey(entry: TokenEntry, record: CertificateRecord): SigningKey {
    return entry.device.signingKey(record.keyId, record.parsed);
  }

  private async certificatesOf(entry: TokenEntry): Promise<CertificateRecord[]> {
    if (entry.certificates) return entry.certificates;
    // Loaded on first use: a host that only says hello never parses a certificate. Read once per inserted key
    // (the watcher forgets them at removal), for every key at once (listCertificates).
    const { parseCertificate } = await import("../../crypto/certificate.js");
    const records: CertificateRecord[] = [];
    for (const { keyId, der } of await entry.device.readCertificates()) {
      try {
        records.push({ keyId, parsed: parseCertificate(der) });
      } catch (error) {
        this.logger.log("warn", "skipping unparsable certificate", { token: entry.serial, code: YztError.from(error).code });
      }
    }
    entry.certificates = records;
    return records;
  }
}
