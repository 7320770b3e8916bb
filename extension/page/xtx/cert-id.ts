/**
 * Certificate ids as XTXApp pages see them. BJCA's service names a certificate `<container>/<device SN>`
 * and pages split on "/" to get the key's serial; yzt-bridge's own ids are `<token serial>:<CKA_ID hex>`.
 * The container here is the CKA_ID of the signing certificate, so the two map onto each other one to one.
 * Ids of both shapes are accepted, and a bare device serial names the key.
 */
import type { YztCertificate } from "../../../protocol/types.js";

export function xtxCertId(certificate: Pick<YztCertificate, "id" | "tokenSerial">): string {
  return `${certificate.id.slice(certificate.id.lastIndexOf(":") + 1)}/${certificate.tokenSerial}`;
}

/** The yzt certificate id an XTX certID names, or null when it names no certificate (only a key, or nothing). */
export function yztCertId(xtxId: unknown): string | null {
  const text = String(xtxId ?? "");
  const slash = text.indexOf("/");
  if (slash > 0) return `${text.slice(slash + 1)}:${text.slice(0, slash)}`;
  return /:(?:[0-9a-f]{2})+$/.test(text) ? text : null;
}

/** The key (token serial) an XTX certID, a yzt id or a device serial names. */
export function tokenSerialOf(xtxId: unknown): string {
  const text = String(xtxId ?? "");
  const slash = text.indexOf("/");
  if (slash > 0) return text.slice(slash + 1);
  const colon = text.lastIndexOf(":");
  return colon > 0 && /^(?:[0-9a-f]{2})+$/.test(text.slice(colon + 1)) ? text.slice(0, colon) : text;
}
