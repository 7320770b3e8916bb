/**
 * One key served by a driver process, as the token layer's KeyDevice. Every call goes to the driver with the
 * key's generation, so a call made before the key was pulled and put back never reaches the new session.
 * The synchronous getters answer from what the driver reported last: the PIN counter comes with every reply
 * that can change it and with `refresh`; the session is alive while the driver still lists this generation.
 */
import type { KeyAlgorithm } from "../../protocol/types.js";
import type { SigningKey } from "../../crypto/algorithms.js";
import type { DeviceCertificate, EnvelopeOpening, GeneratedKeyAlgorithm, KeyContainer, KeyDevice, PinReading, SignerIdentity, WrappedKeyPair } from "../token/device.js";
import { DriverCallError, type CallOutcome } from "./connection.js";
import type { DriverLibrary } from "./remote-library.js";
import { bytesSchema, certificateListSchema, containerListSchema, type DriverCall, type WireKey } from "./wire.js";

/** A plain view of the bytes: a Buffer would serialise through its own toJSON, not as bytes. */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class DriverDevice implements KeyDevice {
  readonly serial: string;
  readonly label: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly openEnvelope?: (opening: EnvelopeOpening) => Promise<Uint8Array>;
  private readonly generation: number;
  private pin: PinReading | null;
  /** Which driver process has which key id's certificate (set once a signature with it succeeded). */
  private readonly certificatesSent = new Map<string, { driver: object | null; der: Uint8Array }>();

  constructor(key: WireKey, readonly library: DriverLibrary) {
    ({ serial: this.serial, label: this.label, manufacturer: this.manufacturer, model: this.model, generation: this.generation, pin: this.pin } = key);
    if (key.opensEnvelopes) {
      this.openEnvelope = async (opening) =>
        this.bytes("openEnvelope", { ...opening, wrappedKey: plain(opening.wrappedKey), content: { ...opening.content, iv: plain(opening.content.iv), encrypted: plain(opening.content.encrypted) } });
    }
  }

  pinReading(): PinReading {
    if (!this.pin) throw new Error(`the PIN counter of ${this.serial} has not been read`);
    return this.pin;
  }

  async refresh(): Promise<void> {
    await this.call("pinReading");
  }

  async readCertificates(): Promise<DeviceCertificate[]> {
    return certificateListSchema.parse((await this.call("readCertificates")).result, "certificates");
  }

  sessionAlive(): boolean {
    return this.library.generationOf(this.serial) === this.generation;
  }

  async login(pin: string): Promise<void> {
    await this.call("login", { pin });
  }

  logout(): void {
    // Ordered before any later call on the same driver; a failure means the session is gone anyway.
    this.call("logout").catch(() => undefined);
  }

  close(): void {
    this.call("closeKey").catch(() => undefined);
  }

  signingKey(keyId: string, certificate: SignerIdentity): SigningKey {
    // A key pair with no certificate yet (its certificate request) is described by algorithm and point.
    const bareKey = certificate.der.length === 0 ? { keyAlgorithm: certificate.keyAlgorithm, ...(certificate.publicKeyPoint ? { publicKeyPoint: plain(certificate.publicKeyPoint) } : {}) } : null;
    const sign = async (via: "digest" | "message", input: Uint8Array, sm2Id?: string) => {
      // The certificate travels once per driver process and key id (a signature's frame is mostly its
      // certificate otherwise): again only to a restarted driver, or when the key's certificate changed.
      const driver = this.library.currentDriver();
      const sent = this.certificatesSent.get(keyId);
      const send = bareKey === null && (sent === undefined || sent.driver !== driver || Buffer.compare(sent.der, certificate.der) !== 0);
      const identity = bareKey ? { bareKey } : send ? { certificate: plain(certificate.der) } : {};
      const signature = await this.bytes("sign", { keyId, ...identity, via, input: plain(input), ...(sm2Id !== undefined ? { sm2Id } : {}) });
      if (send) this.certificatesSent.set(keyId, { driver, der: certificate.der });
      return signature;
    };
    return {
      keyAlgorithm: certificate.keyAlgorithm,
      certificate: certificate.der,
      ...(certificate.publicKeyPoint ? { publicKeyPoint: certificate.publicKeyPoint } : {}),
      primitive: (input) => sign("digest", input),
      // SM2: the driver picks the key's own hashing mechanism where it has one, else signs e = SM3(Z‖M).
      ...(certificate.keyAlgorithm === "SM2" ? { messagePrimitive: (message: Uint8Array, id: string) => sign("message", message, id) } : {}),
    };
  }

  decrypt(keyId: string, keyAlgorithm: KeyAlgorithm, ciphertext: Uint8Array): Promise<Uint8Array> {
    return this.bytes("decrypt", { keyId, keyAlgorithm, ciphertext: plain(ciphertext) });
  }

  async changePin(oldPin: string, newPin: string): Promise<void> {
    await this.call("changePin", { oldPin, newPin });
  }

  async unlock(adminPin: string, newPin: string): Promise<void> {
    await this.call("unlock", { adminPin, newPin });
  }

  async containers(): Promise<KeyContainer[]> {
    return containerListSchema.parse((await this.call("containers")).result, "containers");
  }

  generateKeyPair(container: string, keyAlgorithm: GeneratedKeyAlgorithm): Promise<Uint8Array> {
    return this.bytes("generateKeyPair", { container, keyAlgorithm });
  }

  async importCertificate(container: string, purpose: "sign" | "encrypt", der: Uint8Array): Promise<void> {
    await this.call("importCertificate", { container, purpose, der: plain(der) });
  }

  async importEncryptionKeyPair(container: string, pair: WrappedKeyPair): Promise<void> {
    await this.call("importEncryptionKeyPair", { container, pair: { blob: plain(pair.blob), publicKey: plain(pair.publicKey) } });
  }

  async deleteContainer(container: string): Promise<void> {
    await this.call("deleteContainer", { container });
  }

  private async bytes(call: DriverCall, args: unknown): Promise<Uint8Array> {
    return bytesSchema.parse((await this.call(call, args)).result, call);
  }

  /** A call for this key's generation; the PIN counter that comes back, even with an error, is kept. */
  private async call(call: DriverCall, args?: unknown): Promise<CallOutcome> {
    try {
      const outcome = await this.library.call(call, { serial: this.serial, generation: this.generation }, args);
      if (outcome.pin) this.pin = outcome.pin;
      return outcome;
    } catch (error) {
      if (error instanceof DriverCallError && error.pin) this.pin = error.pin;
      throw error;
    }
  }
}
