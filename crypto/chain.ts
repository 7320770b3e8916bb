/**
 * Certificate chain check for diagnostics: walks issuer links through the CA certificates we know (token
 * objects, configured CA files, the system bundle) up to a self-signed root, verifying each signature and
 * validity period. It answers "will a tax hall accept this certificate?" before the user tries.
 */
import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { sm2CertificateSignatureValid } from "./sm2-certificate.js";

export type ChainVerdict =
  | { status: "ok"; path: string[] }
  | { status: "incomplete"; path: string[]; missingIssuer: string }
  | { status: "invalid"; path: string[]; reason: string };

const MAX_DEPTH = 8;

/** Did `issuer`'s key sign `certificate`? SM2-signed certificates are checked by our own SM2 code. */
function signedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  const issuerSpki = issuer.publicKey.export({ type: "spki", format: "der" });
  return sm2CertificateSignatureValid(certificate.raw, issuerSpki) ?? certificate.verify(issuer.publicKey);
}

export function checkChain(leafDer: Uint8Array, authorities: X509Certificate[], now: Date): ChainVerdict {
  let current = new X509Certificate(leafDer);
  const path = [current.subject];
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const selfSigned = current.subject === current.issuer && current.checkIssued(current) && signedBy(current, current);
    if (selfSigned) {
      const trusted = authorities.some((ca) => ca.fingerprint256 === current.fingerprint256);
      return trusted ? { status: "ok", path } : { status: "invalid", path, reason: "self-signed root is not trusted" };
    }
    const issuer = authorities.find((ca) => current.checkIssued(ca) && ca.ca);
    if (!issuer) return { status: "incomplete", path, missingIssuer: current.issuer };
    if (!signedBy(current, issuer)) return { status: "invalid", path, reason: `bad signature on ${current.subject}` };
    if (new Date(issuer.validTo) < now || new Date(issuer.validFrom) > now) {
      return { status: "invalid", path, reason: `issuer ${issuer.subject} is outside its validity period` };
    }
    path.push(issuer.subject);
    current = issuer;
  }
  return { status: "invalid", path, reason: "chain too long" };
}

/** Splits a PEM bundle into certificates, skipping anything unparsable. */
export function parsePemBundle(text: string): X509Certificate[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const certificates: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      certificates.push(new X509Certificate(block));
    } catch {
      // A damaged entry in a system bundle must not hide the others.
    }
  }
  return certificates;
}

/** Loads PEM files, or every *.pem / *.crt file in given directories. Missing paths are skipped. */
export function loadAuthorities(paths: string[]): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const path of paths) {
    try {
      if (statSync(path).isDirectory()) {
        for (const name of readdirSync(path).filter((n) => /\.(pem|crt)$/i.test(n))) {
          out.push(...parsePemBundle(readFileSync(join(path, name), "utf8")));
        }
      } else {
        out.push(...parsePemBundle(readFileSync(path, "utf8")));
      }
    } catch {
      // Not there: diagnose reports missing issuers, not missing files.
    }
  }
  return out;
}

export const SYSTEM_CA_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];
