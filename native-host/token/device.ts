/**
 * The seam between the token layer and a key backend (DESIGN.md "Key backends"). The watcher, sessions and
 * grants, queue, PIN rules and operations talk only to these two interfaces; the adapters in pkcs11/
 * (graphene-pk11) and skf/ (a GM/T 0016 library through koffi) implement them. Nothing above this file
 * names a vendor API.
 *
 * Contract for adapters: every failure leaves an adapter as a YztError, mapped once from the backend's own
 * return codes (CKR_* in pkcs11/errors.ts, SAR_* in skf/errors.ts). Removal shows as TOKEN_REMOVED.
 */
import { YztError } from "../../protocol/errors.js";
import type { KeyAlgorithm } from "../../protocol/types.js";
import type { SigningKey } from "../../crypto/algorithms.js";
import type { EnvelopeContent } from "../../crypto/envelope.js";
import type { ParsedCertificate } from "../../crypto/certificate-view.js";
import type { ModuleSource } from "./modules.js";

export type BackendKind = "pkcs11" | "skf";

/** A library to load: a PKCS#11 module or an SKF library, and where discovery found it. */
export interface LibraryCandidate {
  kind: BackendKind;
  path: string;
  source: ModuleSource;
}

/** One key as its library lists it, before anything is opened on it. */
export interface PresentKey {
  serial: string;
  label: string;
  manufacturer: string;
  model: string;
}

/**
 * How a library running in a driver process fares (driver/): still starting, serving, being restarted after a
 * crash or a hang, or set aside after too many. In-process libraries have none.
 */
export interface LibraryHealth {
  state: "starting" | "ready" | "restarting" | "quarantined";
  /** The last crash or hang: how, in which vendor function, when. */
  lastFailure?: { kind: "crashed" | "hung" | "garbage"; call: string; at: string; detail: string };
  /** Crashes and hangs within the quarantine window. */
  recentFailures: number;
}

/** A loaded (or failed) library. */
export interface KeyLibrary {
  readonly candidate: LibraryCandidate;
  /** Why the library is not usable (load failure, a missing SKF export named); null when loaded. */
  readonly error: string | null;
  readonly manufacturer?: string;
  readonly description?: string;
  /** True when keys may have come or gone since the last call; drains the library's own events. */
  changed(): boolean;
  /** The keys present now. Throws a YztError when the library cannot list them. */
  presentKeys(): PresentKey[];
  /** A handle on a key `presentKeys` just listed. */
  openKey(key: PresentKey): KeyDevice;
  /**
   * Starts the library's own insert/remove notifications where it has them (SKF_WaitForDevEvent on a worker
   * thread); `onChange` asks the watcher to look at once. Called only by a watching service, never by the CLI.
   */
  startEvents?(onChange: () => void): void;
  /** Finalizes the library; its devices are closed first by the caller. Resolves once it has let go. */
  close(): void | Promise<void>;
  /** Resolves once the library has answered its first look for keys, or failed (a driver starting). */
  settled?(): Promise<void>;
  readonly health?: LibraryHealth;
}

/** A certificate the key holds together with its private key. `keyId` is unique on the key, without ':'. */
export interface DeviceCertificate {
  keyId: string;
  der: Uint8Array;
}

/** Key algorithms a key generates pairs of (GM/T 0016 keys: SM2; older ones RSA-2048). */
export type GeneratedKeyAlgorithm = "SM2" | "RSA";

/**
 * A key container as the key holds it: a signing pair and an encryption pair, each perhaps with its
 * certificate. SKF has containers; on PKCS#11 a container is the key objects sharing one CKA_LABEL (as
 * vendor middleware names them). Key ids are the ones certificate ids use (`<serial>:<keyId>`).
 */
export interface KeyContainer {
  name: string;
  /** null: the container holds no key pair yet. */
  keyAlgorithm: GeneratedKeyAlgorithm | null;
  signKeyId: string | null;
  encryptKeyId: string | null;
  /** SubjectPublicKeyInfo (DER) of each pair present. */
  signPublicKey: Uint8Array | null;
  encryptPublicKey: Uint8Array | null;
  signCertificate: Uint8Array | null;
  encryptCertificate: Uint8Array | null;
}

/**
 * The encryption key pair a CA's key-management centre sends, wrapped to the container's signing key
 * (GM/T 0016 ENVELOPEDKEYBLOB / GM/T 0009 SM2EnvelopedKey, parsed by crypto/enveloped-key.ts); the key
 * unwraps it inside. `blob` is the GM/T 0016 structure with a 32-bit ULONG, as pages pass it.
 */
export interface WrappedKeyPair {
  blob: Uint8Array;
  /** 04‖x‖y of the encryption key, for the key's own check and for PKCS#11's public key object. */
  publicKey: Uint8Array;
}

/** How a key's PIN counter reads: exact tries when the backend says so, otherwise flags. */
export interface PinReading {
  /** Tries left as the key reports them; null when the backend has no counter (PKCS#11). */
  retriesLeft: number | null;
  countLow: boolean;
  finalTry: boolean;
  locked: boolean;
  mustChange: boolean;
}

/** The administrator PIN's counter after a wrong admin PIN (SKF: exact tries; PKCS#11: flags only). */
export interface AdminPinCounter {
  retriesLeft: number | null;
  countLow: boolean;
  finalTry: boolean;
  locked: boolean;
}

/**
 * A wrong administrator PIN, with its counter in `data` (`pinType: "admin"`), so the issuer's page and the
 * consent window can say how many tries the admin PIN has left; other failures pass unchanged.
 */
export function adminPinFailure(error: YztError, counter: AdminPinCounter): YztError {
  if (error.code !== "PIN_INCORRECT" && error.code !== "PIN_LOCKED") return error;
  const message = error.code === "PIN_LOCKED" ? "the administrator (SO) PIN is locked: only the issuer can help now" : "the administrator (SO) PIN is incorrect";
  return new YztError(error.code, message, { pinType: "admin", ...counter, ...(error.code === "PIN_LOCKED" ? { locked: true, retriesLeft: 0 } : {}) });
}

/** An envelope's content, decrypted on the key where the backend can keep the content key inside it. */
export interface EnvelopeOpening {
  keyId: string;
  keyAlgorithm: KeyAlgorithm;
  wrappedKey: Uint8Array;
  content: EnvelopeContent;
}

/** One inserted key, reached through its library. Calls are serialised per key by the token queue. */
export interface KeyDevice {
  readonly serial: string;
  readonly label: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly library: KeyLibrary;
  /** The PIN counter; never touches the PIN. Throws TOKEN_REMOVED when the key is gone. */
  pinReading(): PinReading;
  /** Reads the PIN counter afresh where `pinReading` answers from the last reading (a driver process). */
  refresh?(): Promise<void>;
  /** Certificates with their private key on the device, in a stable order (signing first on 一证通 keys). */
  readCertificates(): Promise<DeviceCertificate[]>;
  /** False when the key was pulled and reinserted since the device's session was opened. */
  sessionAlive(): boolean;
  /** Verifies the user PIN (the caller logs out first when it must really be checked again). */
  login(pin: string): Promise<void>;
  logout(): void;
  /** Ends the session and the login, and forgets every handle. Never throws. */
  close(): void;
  /**
   * The signing primitive of a private key; needs the login. `signer` is its certificate, or for a key that
   * has none yet (a certificate request) its algorithm and public point with an empty `der`.
   */
  signingKey(keyId: string, signer: SignerIdentity): SigningKey;
  /** Private-key decryption (RSAES-PKCS1-v1_5, or SM2 of a GM/T 0009 DER ciphertext); needs the login. */
  decrypt(keyId: string, keyAlgorithm: KeyAlgorithm, ciphertext: Uint8Array): Promise<Uint8Array>;
  /**
   * Where the backend imports the wrapped content key into the device and decrypts there (SKF), it does so;
   * undefined means the host recovers the content key with `decrypt` and opens the content itself.
   */
  openEnvelope?(opening: EnvelopeOpening): Promise<Uint8Array>;
  changePin(oldPin: string, newPin: string): Promise<void>;
  /** The key's containers, empty ones included (key writing, issuer sites only). */
  containers(): Promise<KeyContainer[]>;
  /**
   * Creates `container` with a new signing key pair (token objects, private) and returns its public key
   * (SubjectPublicKeyInfo DER); needs the login. The container must not exist yet.
   */
  generateKeyPair(container: string, keyAlgorithm: GeneratedKeyAlgorithm): Promise<Uint8Array>;
  /** Writes a certificate into a container whose matching pair exists (the caller checked the match); needs the login. */
  importCertificate(container: string, purpose: "sign" | "encrypt", der: Uint8Array): Promise<void>;
  /** Unwraps an encryption key pair with the container's signing key and stores it there; needs the login. */
  importEncryptionKeyPair(container: string, pair: WrappedKeyPair): Promise<void>;
  /** Deletes a container with its pairs and certificates; needs the login. */
  deleteContainer(container: string): Promise<void>;
  /**
   * The unlock (issuer site or service point): the administrator PIN sets a new user PIN and clears the lock.
   * A wrong administrator PIN throws `adminPinFailure` with the counter.
   */
  unlock(adminPin: string, newPin: string): Promise<void>;
}

/** What signing needs to know of a key: its certificate's parsed fields, or those of a bare key pair. */
export type SignerIdentity = Pick<ParsedCertificate, "keyAlgorithm" | "der" | "publicKeyPoint">;

/** Loads a library of either kind; built by setup.ts with each adapter's settings. */
export type LibraryLoader = (candidate: LibraryCandidate) => KeyLibrary;

/** A library that could not be loaded: listed in diagnostics, never scanned. */
export function failedLibrary(candidate: LibraryCandidate, error: string): KeyLibrary {
  return {
    candidate,
    error,
    changed: () => false,
    presentKeys: () => [],
    openKey: () => {
      throw new Error(`${candidate.path} is not loaded`);
    },
    close: () => undefined,
  };
}
