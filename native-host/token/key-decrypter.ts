/**
 * Decryption with the token's encryption key (SOF_DecryptData, SOF_PriKeyDecrypt): the private-key step
 * (RSAES-PKCS1-v1_5, C_Decrypt on pkcs11js' worker thread) happens on the key; the content step of an
 * envelope happens here. Which certificate's key is used: for an envelope, the one the envelope names; for
 * raw data, the key's encryption certificate (the signing one only where a single certificate does both).
 */
import type { Key, Session } from "graphene-pk11";
import { YztError } from "../../protocol/errors.js";
import { parseEnvelope, recipientMatches } from "../crypto/envelope.js";
import { mapPkcs11Error } from "./pkcs11-errors.js";
import type { CertificateRecord } from "./token-entry.js";
import { guard } from "./token-queue.js";

function decryptOnToken(session: Session, key: Key, input: Uint8Array): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const decipher = guard(() => session.createDecipher("RSA_PKCS", key));
    decipher.once(Buffer.from(input), Buffer.alloc(Math.max(input.length, 512)), (error: Error | null, plain: Buffer) => {
      if (error) reject(mapPkcs11Error(error));
      else resolve(new Uint8Array(plain));
    });
  });
}

/** Certificates whose key may decrypt, encryption-only ones first (一证通 keys keep a separate pair). */
function decryptionRecords(records: CertificateRecord[]): CertificateRecord[] {
  const rank = (record: CertificateRecord) => (record.parsed.purpose === "encrypt" ? 0 : 1);
  return records.filter((record) => record.parsed.purpose !== "sign").sort((a, b) => rank(a) - rank(b));
}

function requireRsa(record: CertificateRecord): void {
  if (record.parsed.keyAlgorithm !== "RSA") {
    throw new YztError("UNSUPPORTED_ALGORITHM", `decryption with ${record.parsed.keyAlgorithm} keys is not supported yet; RSA keys only`);
  }
}

export interface DecryptRequest {
  format: "envelope" | "raw";
  data: Uint8Array;
  records: CertificateRecord[];
  /** Finds the private key of a certificate on the logged-in token. */
  privateKey(record: CertificateRecord): Key;
  session: Session;
}

export async function decryptWithToken(request: DecryptRequest): Promise<Uint8Array> {
  const candidates = decryptionRecords(request.records);
  if (candidates.length === 0) throw new YztError("NO_CERTIFICATE", "the key holds no encryption certificate");
  if (request.format === "raw") {
    const record = candidates[0]!;
    requireRsa(record);
    return decryptOnToken(request.session, request.privateKey(record), request.data);
  }
  const envelope = parseEnvelope(request.data);
  for (const record of candidates) {
    const recipient = envelope.recipients.find((candidate) => recipientMatches(candidate, record.parsed.der));
    if (!recipient) continue;
    requireRsa(record);
    return envelope.open(await decryptOnToken(request.session, request.privateKey(record), recipient.encryptedKey));
  }
  throw new YztError("NO_CERTIFICATE", "the envelope is not addressed to a certificate on this key");
}
