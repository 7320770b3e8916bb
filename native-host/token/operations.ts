/**
 * What a caller does with a token: read its certificates, log in (optionally answering a challenge), sign,
 * change the PIN. Each operation runs in the token's queue (one at a time per token, racing removal) and
 * checks the certificate's validity and the caller's grant before the key is touched.
 */
import { ObjectClass, UserType, type Key } from "graphene-pk11";
import { YztError } from "../../protocol/errors.js";
import type { SignResult, YztCertificate } from "../../protocol/types.js";
import { checkPinRules, type LoginResult } from "../../protocol/messages.js";
import type { SigningKey } from "../crypto/algorithms.js";
import { certificateValidity, toYztCertificate, type ParsedCertificate } from "../crypto/certificate-view.js";
import { signForPage, signLoginToken } from "../crypto/signer.js";
import type { Logger } from "../support/log.js";
import { availableMechanisms, tokenSigningKey, type Sm2Settings } from "./key-signer.js";
import { sm2DecryptMechanism } from "./mechanisms.js";
import { decryptWithToken } from "./key-decrypter.js";
import { mapPkcs11Error } from "./pkcs11-errors.js";
import { withReadWriteSession, type PinSource, type SessionTable } from "./sessions.js";
import type { CertificateRecord, TokenContext, TokenEntry } from "./token-entry.js";
import { findPrivateKey, keyIds, readCertificateObjects } from "./token-objects.js";
import { guard, type TokenQueue } from "./token-queue.js";

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

function parseCertificateId(certificateId: string): { serial: string; ckaIdHex: string } {
  const split = certificateId.lastIndexOf(":");
  return { serial: certificateId.slice(0, split), ckaIdHex: certificateId.slice(split + 1) };
}

export class TokenOperations {
  constructor(
    private readonly context: TokenContext,
    private readonly sessions: SessionTable,
    private readonly queue: TokenQueue,
    private readonly logger: Logger,
    private readonly sm2: Sm2Settings,
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
    const { checkXmlSignable, signXmlDocument } = await import("../crypto/xml-signature.js");
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
    const entry = this.entryOf(parseCertificateId(params.certificateId).serial, params.certificateId);
    return this.queue.run(entry, async () => {
      await this.sessions.authorize(entry, params.origin, params.pin);
      const session = this.sessions.ensureSession(entry);
      const plain = await decryptWithToken({
        format: params.format,
        data: Buffer.from(params.data, "base64"),
        records: await this.certificatesOf(entry),
        session,
        privateKey: (record) => this.privateKey(entry, record),
        sm2Mechanism: () => sm2DecryptMechanism(availableMechanisms(entry), entry.owner.candidate.path),
      });
      this.sessions.touch(entry, params.origin);
      return { data: Buffer.from(plain).toString("base64") };
    });
  }

  async changePin(params: { tokenSerial: string; oldPin: string; newPin: string; pinSource?: PinSource }): Promise<{ changed: true }> {
    checkPinRules(params.newPin, "newPin");
    const entry = this.presentEntry(params.tokenSerial);
    return this.queue.run(entry, async () => {
      this.sessions.requirePinUsable(entry);
      this.sessions.requirePagePinAllowed(entry, params.pinSource ?? "user");
      // SetPIN needs a read/write session; it shares the login state of the token's main session.
      return withReadWriteSession(entry, (session) => {
        try {
          session.setPin(params.oldPin, params.newPin);
          this.sessions.pinAccepted(entry);
          return { changed: true as const };
        } catch (error) {
          throw this.sessions.pinFailure(entry, error, params.pinSource);
        }
      });
    });
  }

  /**
   * The service-point unlock (一证通服务网点): the administrator (SO) PIN sets a new user PIN with C_InitPIN,
   * which also clears the lock. Only the `yzt unlock` command calls this; no page or extension can.
   */
  async unlock(params: { tokenSerial: string; soPin: string; newPin: string }): Promise<{ unlocked: true }> {
    checkPinRules(params.newPin, "newPin");
    checkPinRules(params.soPin, "soPin");
    const entry = this.presentEntry(params.tokenSerial);
    return this.queue.run(entry, async () => {
      this.sessions.endGrants(entry, [...entry.grants.keys()], "logout");
      this.sessions.dropSession(entry);
      return withReadWriteSession(entry, (session) => {
        try {
          session.login(params.soPin, UserType.SO);
        } catch (error) {
          const mapped = mapPkcs11Error(error);
          if (mapped.code === "PIN_INCORRECT" || mapped.code === "PIN_LOCKED") {
            throw new YztError(mapped.code, mapped.code === "PIN_LOCKED" ? "the administrator (SO) PIN is locked: only the issuer can help now" : "the administrator (SO) PIN is incorrect");
          }
          throw mapped;
        }
        try {
          guard(() => session.initPin(params.newPin));
          this.sessions.pinAccepted(entry);
          return { unlocked: true as const };
        } finally {
          try {
            session.logout();
          } catch {
            // Removed meanwhile: closing the session ends the SO login anyway.
          }
        }
      });
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
    return toYztCertificate(record.parsed, entry, record.ckaIdHex, this.context.now());
  }

  /** Finds the token and a currently valid signing certificate on it, then runs `task` in the token's queue. */
  private entryOf(serial: string, certificateId: string): TokenEntry {
    const entry = this.context.tokens.get(serial);
    if (!entry) throw new YztError("NO_CERTIFICATE", `no token with serial ${serial} holds certificate ${certificateId}`);
    if (!entry.present) throw new YztError("NO_TOKEN", `token ${serial} is not inserted`, { tokenSerial: serial });
    return entry;
  }

  private withCertificate<T>(certificateId: string, task: (entry: TokenEntry, record: CertificateRecord) => Promise<T>): Promise<T> {
    const { serial, ckaIdHex } = parseCertificateId(certificateId);
    const entry = this.entryOf(serial, certificateId);
    return this.queue.run(entry, async () => {
      const record = (await this.certificatesOf(entry)).find((candidate) => candidate.ckaIdHex === ckaIdHex);
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

  private privateKey(entry: TokenEntry, record: CertificateRecord): Key {
    const session = this.sessions.ensureSession(entry);
    // Looking the key up costs three PKCS#11 calls; a signing session reuses the handle.
    const key = entry.keys.get(record.ckaIdHex) ?? guard(() => findPrivateKey(session, record.ckaIdHex));
    if (!key) throw new YztError("NO_CERTIFICATE", "the certificate has no private key on the token");
    entry.keys.set(record.ckaIdHex, key);
    return key;
  }

  private signingKey(entry: TokenEntry, record: CertificateRecord): SigningKey {
    return tokenSigningKey(this.sessions.ensureSession(entry), this.privateKey(entry, record), entry, record.parsed, this.sm2);
  }

  private async certificatesOf(entry: TokenEntry): Promise<CertificateRecord[]> {
    if (entry.certificates) return entry.certificates;
    // Loaded on first use: pkijs/asn1js cost start-up time and memory a host that only says hello never needs.
    const { parseCertificate } = await import("../crypto/certificate.js");
    const session = this.sessions.ensureSession(entry);
    const objects = guard(() => readCertificateObjects(session));
    const withKeys = guard(() => {
      const ids = keyIds(session, ObjectClass.PUBLIC_KEY);
      for (const id of keyIds(session, ObjectClass.PRIVATE_KEY)) ids.add(id);
      return ids;
    });
    const records: CertificateRecord[] = [];
    for (const object of objects) {
      if (!withKeys.has(object.ckaIdHex)) continue;
      try {
        records.push({ ckaIdHex: object.ckaIdHex, parsed: parseCertificate(object.der) });
      } catch (error) {
        this.logger.log("warn", "skipping unparsable certificate", { token: entry.serial, code: YztError.from(error).code });
      }
    }
    // Stable order (by CKA_ID): on 一证通 keys the signing certificate comes first.
    records.sort((a, b) => a.ckaIdHex.localeCompare(b.ckaIdHex));
    entry.certificates = records;
    return records;
  }
}
