/**
 * Decryption with the key's encryption certificate (SOF_DecryptData, SOF_PriKeyDecrypt). The private-key
 * step happens on the device; the content step of an envelope happens on the device where the backend can
 * keep the content key inside it (SKF: ImportSessionKey + Decrypt), otherwise here. Which certificate's key
 * is used: for an envelope, the one the envelope names; for raw data, the key's encryption certificate (the
 * signing one only where a single certificate does both).
 */
import { YztError } from "../../protocol/errors.js";
import type { KeyDevice } from "./device.js";
import type { CertificateRecord } from "./token-entry.js";

/** Certificates whose key may decrypt, encryption-only ones first (一证通 keys keep a separate pair). */
function decryptionRecords(records: CertificateRecord[]): CertificateRecord[] {
  const rank = (record: CertificateRecord) => (record.parsed.purpose === "encrypt" ? 0 : 1);
  return records.filter((record) => record.parsed.purpose !== "sign").sort((a, b) => rank(a) - rank(b));
}

export interface DecryptRequest {
  format: "envelope" | "raw";
  data: Uint8Array;
  records: CertificateRecord[];
  /** The logged-in key. */
  device: KeyDevice;
}

export async function decryptWithToken(request: DecryptRequest): Promise<Uint8Array> {
  const { device } = request;
  const candidates = decryptionRecords(request.records);
  if (candidates.length === 0) throw new YztError("NO_CERTIFICATE", "the key holds no encryption certificate");
  if (request.format === "raw") {
    const record = candidates[0]!;
    return device.decrypt(record.keyId, record.parsed.keyAlgorithm, request.data);
  }
  const { parseEnvelope, recipientMatches } = await import("../../crypto/envelope.js");
  const envelope = parseEnvelope(request.data);
  for (const record of candidates) {
    const recipient = envelope.recipients.find((candidate) => recipientMatches(candidate, record.parsed.der));
    if (!recipient) continue;
    const { keyId, parsed } = record;
    if (device.openEnvelope) {
      return device.openEnvelope({ keyId, keyAlgorithm: parsed.keyAlgorithm, wrappedKey: recipient.encryptedKey, content: envelope.content });
    }
    return envelope.open(await device.decrypt(keyId, parsed.keyAlgorithm, recipient.encryptedKey));
  }
  throw new YztError("NO_CERTIFICATE", "the envelope is not addressed to a certificate on this key");
}
