/**
 * What the rest of the host needs to know about a parsed certificate, and the pure views computed from it
 * (validity status, the API's YztCertificate). Kept apart from certificate.ts so that answering a browser
 * does not load the certificate reader until a certificate actually has to be parsed.
 */
import type { CertificateStatus, KeyAlgorithm, Purpose, YztCertificate } from "../protocol/types.js";

export interface ParsedCertificate {
  der: Uint8Array;
  subject: Record<string, string>;
  issuer: Record<string, string>;
  subjectDn: string;
  issuerDn: string;
  holderName: string;
  creditCode?: string;
  /** BJCA unique id (1.2.156.112562.2.1.1.1 or 2.16.840.1.113732.2), often "SF" + credit code. */
  uniqueId?: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  keyUsage: string[];
  extendedKeyUsage: string[];
  purpose: Purpose;
  keyAlgorithm: KeyAlgorithm;
  ecCurve?: string;
  /** EC and SM2: the uncompressed public point 04‖x‖y (SM2 needs it for Z). */
  publicKeyPoint?: Uint8Array;
  isCa: boolean;
  subjectKeyIdentifier?: string;
  authorityKeyIdentifier?: string;
}

export const EXPIRING_DAYS = 30;
const DAY_MS = 86_400_000;

export function certificateValidity(notBefore: Date, notAfter: Date, now: Date): { daysLeft: number; status: CertificateStatus } {
  const daysLeft = Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
  const status: CertificateStatus =
    now < notBefore ? "notYetValid" : now > notAfter ? "expired" : daysLeft <= EXPIRING_DAYS ? "expiring" : "valid";
  return { daysLeft, status };
}

export function toYztCertificate(parsed: ParsedCertificate, token: { serial: string; label: string }, keyId: string, now: Date): YztCertificate {
  return {
    id: `${token.serial}:${keyId}`,
    tokenSerial: token.serial,
    tokenLabel: token.label,
    der: Buffer.from(parsed.der).toString("base64"),
    holderName: parsed.holderName,
    subject: parsed.subject,
    issuer: parsed.issuer,
    ...(parsed.creditCode ? { creditCode: parsed.creditCode } : {}),
    serialNumber: parsed.serialNumber,
    notBefore: parsed.notBefore.toISOString(),
    notAfter: parsed.notAfter.toISOString(),
    ...certificateValidity(parsed.notBefore, parsed.notAfter, now),
    keyUsage: parsed.keyUsage,
    purpose: parsed.purpose,
    keyAlgorithm: parsed.keyAlgorithm,
  };
}
