/**
 * The PKCS#11 adapter's key side: one token in one slot. It keeps one session per token (opened on first
 * use, closed on removal, logout or repair), the private-key handles found during a login, and maps every
 * PKCS#11 failure to a YztError through errors.ts.
 */
import "./pkcs11js-interop.js";
import { ObjectClass, SessionFlag, UserType, type Key, type Session, type Slot } from "graphene-pk11";
import { YztError } from "../../../protocol/errors.js";
import type { KeyAlgorithm } from "../../../protocol/types.js";
import type { SigningKey } from "../../../crypto/algorithms.js";
import {
  adminPinFailure, type AdminPinCounter, type DeviceCertificate, type GeneratedKeyAlgorithm, type KeyContainer, type KeyDevice, type KeyLibrary, type PinReading,
  type PresentKey, type SignerIdentity, type WrappedKeyPair,
} from "../device.js";
import { deleteContainer, generateKeyPair, importCertificate, importEncryptionKeyPair, listContainers } from "./containers.js";
import { CKR, guard, isCkr, mapPkcs11Error } from "./errors.js";
import { sm2DecryptMechanism, type Sm2Mechanisms } from "./mechanisms.js";
import { findPrivateKey, keyIds, readCertificateObjects } from "./objects.js";
import { adminPinFromFlags, pinReadingFromFlags } from "./pin-flags.js";
import { pkcs11SigningKey } from "./signer.js";

type Mechanism = string | { name: number; params: null };

/** The mechanism types a slot lists; null when the library will not say. */
export function mechanismTypes(slot: Slot): Set<number> | null {
  try {
    const list = slot.getMechanisms();
    const types = new Set<number>();
    for (let i = 0; i < list.length; i++) types.add(list.items(i).type as number);
    return types;
  } catch {
    return null;
  }
}

export class Pkcs11Device implements KeyDevice {
  readonly serial: string;
  readonly label: string;
  readonly manufacturer: string;
  readonly model: string;
  private session: Session | null = null;
  /** Private-key handles by CKA_ID; valid only while logged in, so cleared whenever the login changes. */
  private readonly keys = new Map<string, Key>();

  constructor(key: PresentKey, readonly library: KeyLibrary, private readonly slot: Slot, private readonly sm2Mechanisms: () => Sm2Mechanisms) {
    ({ serial: this.serial, label: this.label, manufacturer: this.manufacturer, model: this.model } = key);
  }

  pinReading(): PinReading {
    return pinReadingFromFlags(guard(() => this.slot.getToken().flags));
  }

  async readCertificates(): Promise<DeviceCertificate[]> {
    const session = this.ensureSession();
    const objects = guard(() => readCertificateObjects(session));
    const withKeys = guard(() => {
      const ids = keyIds(session, ObjectClass.PUBLIC_KEY);
      for (const id of keyIds(session, ObjectClass.PRIVATE_KEY)) ids.add(id);
      return ids;
    });
    // Stable order (by CKA_ID): on 一证通 keys the signing certificate comes first.
    return objects
      .filter((object) => withKeys.has(object.ckaIdHex))
      .map((object) => ({ keyId: object.ckaIdHex, der: new Uint8Array(object.der) }))
      .sort((a, b) => a.keyId.localeCompare(b.keyId));
  }

  sessionAlive(): boolean {
    if (!this.session) return true;
    try {
      this.session.lib.C_GetSessionInfo(this.session.handle);
      return true;
    } catch {
      return false;
    }
  }

  async login(pin: string): Promise<void> {
    const session = this.ensureSession();
    this.keys.clear();
    try {
      session.login(pin, UserType.USER);
    } catch (error) {
      if (!isCkr(error, CKR.USER_ALREADY_LOGGED_IN)) throw mapPkcs11Error(error);
    }
  }

  logout(): void {
    this.keys.clear();
    if (!this.session) return;
    try {
      this.session.logout();
    } catch (error) {
      // Already logged out by the token (another application): nothing left to end.
      if (!isCkr(error, CKR.USER_NOT_LOGGED_IN)) throw mapPkcs11Error(error);
    }
  }

  close(): void {
    this.keys.clear();
    if (this.session) {
      try {
        this.session.close();
      } catch {
        // Closing a session of a removed token fails; the handle is dead either way.
      }
    }
    this.session = null;
  }

  containers(): Promise<KeyContainer[]> {
    return listContainers(this.ensureSession());
  }

  async generateKeyPair(container: string, keyAlgorithm: GeneratedKeyAlgorithm): Promise<Uint8Array> {
    if ((await this.containers()).some((existing) => existing.name === container)) throw new YztError("BAD_REQUEST", `the key already has a container named ${container}`);
    return this.withReadWriteSession((session) => generateKeyPair(session, container, keyAlgorithm, mechanismTypes(this.slot), this.library.candidate.path));
  }

  async importCertificate(container: string, purpose: "sign" | "encrypt", der: Uint8Array): Promise<void> {
    const found = await this.container(container);
    this.withReadWriteSession((session) => importCertificate(session, found, purpose, der));
  }

  async importEncryptionKeyPair(container: string, pair: WrappedKeyPair): Promise<void> {
    const found = await this.container(container);
    this.withReadWriteSession((session) => importEncryptionKeyPair(session, found, pair, mechanismTypes(this.slot), this.library.candidate.path));
  }

  async deleteContainer(container: string): Promise<void> {
    const found = await this.container(container);
    this.keys.clear();
    this.withReadWriteSession((session) => deleteContainer(session, found));
  }

  private async container(name: string): Promise<KeyContainer> {
    const found = (await this.containers()).find((container) => container.name === name);
    if (!found) throw new YztError("BAD_REQUEST", `the key has no container named ${name}`);
    return found;
  }

  signingKey(keyId: string, certificate: SignerIdentity): SigningKey {
    return pkcs11SigningKey(this.ensureSession(), this.privateKey(keyId), certificate, this.sm2Mechanisms);
  }

  decrypt(keyId: string, keyAlgorithm: KeyAlgorithm, ciphertext: Uint8Array): Promise<Uint8Array> {
    const session = this.ensureSession();
    const key = this.privateKey(keyId);
    const mechanism = this.decryptionMechanism(keyAlgorithm);
    return new Promise<Uint8Array>((resolve, reject) => {
      // C_DecryptInit runs here; C_Decrypt on pkcs11js' worker thread.
      const decipher = guard(() => session.createDecipher(mechanism as never, key));
      decipher.once(Buffer.from(ciphertext), Buffer.alloc(Math.max(ciphertext.length, 512)), (error: Error | null, plain: Buffer) => {
        if (error) reject(mapPkcs11Error(error));
        else resolve(new Uint8Array(plain));
      });
    });
  }

  async changePin(oldPin: string, newPin: string): Promise<void> {
    // SetPIN needs a read/write session; it shares the login state of the token's main session.
    this.withReadWriteSession((session) => guard(() => session.setPin(oldPin, newPin)));
  }

  async unlock(adminPin: string, newPin: string): Promise<void> {
    this.withReadWriteSession((session) => {
      try {
        guard(() => session.login(adminPin, UserType.SO));
      } catch (error) {
        throw adminPinFailure(YztError.from(error), this.adminPinCounter());
      }
      try {
        guard(() => session.initPin(newPin));
      } finally {
        try {
          session.logout();
        } catch {
          // Removed meanwhile: closing the session ends the SO login anyway.
        }
      }
    });
  }

  /** The SO PIN's flags after a failed SO login; unknown (all false) when the token cannot be read. */
  private adminPinCounter(): AdminPinCounter {
    try {
      return adminPinFromFlags(this.slot.getToken().flags);
    } catch {
      return { retriesLeft: null, countLow: false, finalTry: false, locked: false };
    }
  }

  private decryptionMechanism(keyAlgorithm: KeyAlgorithm): Mechanism {
    if (keyAlgorithm === "RSA") return "RSA_PKCS";
    if (keyAlgorithm === "SM2") return { name: sm2DecryptMechanism(mechanismTypes(this.slot), this.library.candidate.path), params: null };
    throw new YztError("UNSUPPORTED_ALGORITHM", `${keyAlgorithm} keys do not decrypt`);
  }

  private ensureSession(): Session {
    if (!this.session) this.session = guard(() => this.slot.open(SessionFlag.SERIAL_SESSION));
    return this.session;
  }

  private privateKey(keyId: string): Key {
    const session = this.ensureSession();
    // Looking the key up costs three PKCS#11 calls; a signing session reuses the handle.
    const key = this.keys.get(keyId) ?? guard(() => findPrivateKey(session, keyId));
    if (!key) throw new YztError("NO_CERTIFICATE", "the certificate has no private key on the token");
    this.keys.set(keyId, key);
    return key;
  }

  /** Runs `task` on a fresh read/write session (C_SetPIN, C_InitPIN need one), closed afterwards. */
  private withReadWriteSession<T>(task: (session: Session) => T): T {
    const session = guard(() => this.slot.open(SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION));
    try {
      return task(session);
    } finally {
      try {
        session.close();
      } catch {
        // The token may already be gone; the outcome of the task stands.
      }
    }
  }
}
