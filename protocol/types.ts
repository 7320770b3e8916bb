/**
 * The value types of the page API (API.md section 1) that both ends of the native-messaging protocol carry:
 * certificates, tokens and their PIN state, LoginTokens and signatures. Types only: nothing here runs.
 */

export type Purpose = "sign" | "encrypt" | "both";
export type KeyAlgorithm = "RSA" | "EC" | "SM2";
export type CertificateStatus = "valid" | "expiring" | "expired" | "notYetValid";

export interface YztCertificate {
  id: string;
  tokenSerial: string;
  tokenLabel: string;
  der: string;
  holderName: string;
  subject: Record<string, string>;
  issuer: Record<string, string>;
  creditCode?: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  daysLeft: number;
  status: CertificateStatus;
  keyUsage: string[];
  purpose: Purpose;
  keyAlgorithm: KeyAlgorithm;
}

export interface PinState {
  retriesLeft: number | null;
  countLow: boolean;
  finalTry: boolean;
  locked: boolean;
  /** The PIN is still the initial one (PKCS#11 CKF_USER_PIN_TO_BE_CHANGED): change it after logging in. */
  mustChange: boolean;
}

export interface TokenInfo {
  serial: string;
  label: string;
  manufacturer: string;
  model: string;
  present: boolean;
  loggedIn: boolean;
  pin: PinState;
}

export interface LoginToken {
  format: "yzt-login:1";
  certificate: string;
  algorithm: "RS256" | "ES256" | "SM2SM3";
  origin: string;
  challenge: string;
  signature: string;
}

export interface SignResult {
  signature: string;
  certificate: string;
  algorithm: string;
}

