/**
 * Reading what a token holds: certificate objects and the CKA_IDs of its keys. A certificate is usable for
 * login and signing when a key with the same CKA_ID exists. Private keys are only visible after login, so
 * before login the public key with that id stands in for it (middleware of Chinese keys stores both).
 */
import "./pkcs11js-interop.js";
import { ObjectClass, type Key, type Session } from "graphene-pk11";

export interface CertificateObject {
  ckaIdHex: string;
  der: Buffer;
}

export function readCertificateObjects(session: Session): CertificateObject[] {
  const found: CertificateObject[] = [];
  const objects = session.find({ class: ObjectClass.CERTIFICATE });
  for (let i = 0; i < objects.length; i++) {
    const attributes = objects.items(i).getAttribute({ id: null, value: null });
    const id = attributes.id;
    const value = attributes.value;
    if (Buffer.isBuffer(value) && value.length > 0) {
      found.push({ ckaIdHex: Buffer.isBuffer(id) ? id.toString("hex") : "", der: value });
    }
  }
  return found;
}

/** CKA_IDs (hex) of key objects of one class visible in this session. */
export function keyIds(session: Session, keyClass: ObjectClass.PUBLIC_KEY | ObjectClass.PRIVATE_KEY): Set<string> {
  const ids = new Set<string>();
  const objects = session.find({ class: keyClass });
  for (let i = 0; i < objects.length; i++) {
    const id = objects.items(i).getAttribute({ id: null }).id;
    if (Buffer.isBuffer(id)) ids.add(id.toString("hex"));
  }
  return ids;
}

export function findPrivateKey(session: Session, ckaIdHex: string): Key | null {
  const objects = session.find({ class: ObjectClass.PRIVATE_KEY, id: Buffer.from(ckaIdHex, "hex") });
  return objects.length > 0 ? objects.items(0).toType<Key>() : null;
}
