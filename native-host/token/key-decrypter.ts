/**
 * Decryption with the token's encryption key (SOF_DecryptData, SOF_PriKeyDecrypt): the private-key step
 * (RSAES-PKCS1-v1_5, or SM2 with the library's vendor mechanism; C_Decrypt on pkcs11js' worker thread)
 * happens on the key; the content step of an envelope happens here. Which certificate's key is used: for an envelope, the one the envelope names; for
 * raw data, the key's encryption certificate (the signing one only where a single certificate does both).
 */
import type { Key, Session } from "graphene-pk11";
import { YztError } from "../../protocol/errors.js";
import { parseEnvelope, recipientMatches } from "../crypto/envelope.js";
import { mapPkcs11Error } from "./pkcs11-errors.js";
import type { CertificateRecord } from "./token-entry.js";
import { guard } from "./token-queue.js";

type Mechanism = string | { name: number; params: null };

function decryptOnToken(session: Session, key: Key, mechanism: Mechanism, input: Uint8Array): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const decipher = guard(() => session.createDecipher(mechanism as never, key));
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


export interface DecryptRequest {
  format: "envelope" | "raw";
  data: Uint8Array;
  records: CertificateRecord[];
  /** Finds the private key of a certificate on the logged-in token. */
  privateKey(record: CertificateRecord): Key;
  /** The library's SM2 decryption mechanism (throws UNSUPPORTED_ALGORITHM when it has none). */
  sm2Mechanism(): number;
  session: Session;
}

function mechanismFor(request: DecryptRequest, record: CertificateRecord): Mechanism {
  if (record.parsed.keyAlgorithm === "RSA") return "RSA_PKCS";
  if (record.parsed.keyAlgorithm === "SM2") return { name: request.sm2Mechanism(), params: null };
  throw new YztError("UNSUPPORTED_ALGORITHM", `${record.parsed.keyAlgorithm} keys do not decrypt`);
}

export async function decryptWithToken(request: DecryptRequest): Promise<Uint8Array> {
  const candidates = decryptionRecords(request.records);
  if (candidates.length === 0) throw new YztError("NO_CERTIFICATE", "the key holds no encryption certificate");
  if (request.format === "raw") {
    const record = candidates[0]!;
    return decryptOnToken(request.session, request.privateKey(record), mechanismFor(request, record), request.data);
  }
  const envelope = parseEnvelope(request.data);
  for (const record of candidates) {
    const recipient = envelope.recipients.find((candidate) => recipientMatches(candidate, record.parsed.der));
    if (!recipient) continue;
    return envelope.open(await decryptOnToken(request.session, request.privateKey(record), mechanismFor(request, record), recipient.encryptedKey));
  }
  throw new YztError("NO_CERTIFICATE", "the envelope is not addressed to a certificate on this key");
}
