/**
 * The SKF adapter's key side: one device → its application → containers (GM/T 0016). A container holds a
 * signing pair and an encryption pair, each with its certificate (SKF_ExportCertificate bSignFlag TRUE /
 * FALSE). Signing is signing.ts's, decryption (envelopes opened inside the key) decryption.ts's, key writing
 * for renewal containers.ts's, all through the device's `SkfKeyAccess`.
 * Slow calls run on koffi's worker threads; handles are closed only once no such call uses them, and status
 * requests during such a call get the last PIN reading, so the main thread does not talk to a key a worker is
 * busy with. A dead handle (the key pulled out, perhaps put back) makes the library
 * rescan, so the key is opened afresh.
 */
import { YztError } from "../../../protocol/errors.js";
import type { KeyAlgorithm } from "../../../protocol/types.js";
import type { SigningKey } from "../../../crypto/algorithms.js";
import {
  adminPinFailure, type DeviceCertificate, type EnvelopeOpening, type GeneratedKeyAlgorithm, type KeyContainer, type KeyDevice, type KeyLibrary, type PinReading,
  type PresentKey, type SignerIdentity, type WrappedKeyPair,
} from "../device.js";
import { deleteContainer, generateKeyPair, importCertificate, importEncryptionKeyPair, listContainers, type ContainerKey, type SkfKeyAccess } from "./containers.js";
import { decryptOnKey, openEnvelopeOnKey } from "./decryption.js";
import { skfSigningKey } from "./signing.js";
import { CONTAINER_ECC, CONTAINER_RSA, DEVINFO_BUFFER_BYTES, nameBytes, parseNameList, USER_TYPE } from "./abi.js";
import { readSized, type HandleRef, type SkfBinding, type SkfFunctionName, type SkfHandle, type UlongRef } from "./binding.js";
import { SAR, skfError } from "./errors.js";
import { skfKeyId } from "./key-ids.js";
import { WorkerCalls } from "./worker-calls.js";

export class SkfDevice implements KeyDevice {
  readonly serial: string;
  readonly label: string;
  readonly manufacturer: string;
  readonly model: string;
  private device: SkfHandle | null = null;
  private application: SkfHandle | null = null;
  private readonly containerHandles = new Map<string, SkfHandle>();
  /** keyId → container; kept across sessions (the certificates it was read with are kept too). */
  private readonly keys = new Map<string, ContainerKey>();
  /** The PIN counter as last read (given while a worker call runs); null: none read since it changed. */
  private pin: PinReading | null = null;
  /** Calls running on a worker thread: handles close only once none uses them. */
  private readonly calls = new WorkerCalls();
  /** What the key-writing calls (containers.ts) use of this device. */
  private readonly access: SkfKeyAccess;

  constructor(
    key: PresentKey,
    readonly library: KeyLibrary,
    private readonly binding: SkfBinding,
    private readonly deviceName: string,
    /** Told when a call finds a handle dead: the library then rescans and the key is opened afresh. */
    private readonly onDeadHandle: () => void,
  ) {
    ({ serial: this.serial, label: this.label, manufacturer: this.manufacturer, model: this.model } = key);
    this.access = {
      binding,
      application: () => this.openApplication(),
      container: (name) => this.openContainer(name),
      forgetContainers: () => this.forgetContainers(),
      registerKey: (keyId, containerKey) => this.keys.set(keyId, containerKey),
      exportCertificate: (handle, sign) => this.exportCertificate(handle, sign),
      check: (code, call) => this.check(code, call),
      removalAware: (work) => this.removalAware(work),
      onWorker: (name, ...args) => this.onWorker(name, ...args),
    };
  }

  pinReading(): PinReading {
    // While a call runs on a worker, the last reading stands in: no second thread talks to the key meanwhile.
    if (this.pin && this.calls.busy) return this.pin;
    const max: UlongRef = [0];
    const remain: UlongRef = [0];
    const isDefault: UlongRef = [0];
    this.check(this.binding.fn.SKF_GetPINInfo(this.openApplication(), USER_TYPE, max, remain, isDefault), "SKF_GetPINInfo");
    const left = remain[0];
    this.pin = { retriesLeft: left, countLow: left < max[0], finalTry: left === 1, locked: left === 0, mustChange: isDefault[0] !== 0 };
    return this.pin;
  }

  async readCertificates(): Promise<DeviceCertificate[]> {
    return this.removalAware(() => this.listCertificates());
  }

  private listCertificates(): DeviceCertificate[] {
    const application = this.openApplication();
    const list = readSized(this.binding, "SKF_EnumContainer", (buffer, length) => this.binding.fn.SKF_EnumContainer(application, buffer, length));
    const found: DeviceCertificate[] = [];
    for (const [index, container] of parseNameList(list, list.length).entries()) {
      const handle = this.openContainer(container);
      const type: UlongRef = [0];
      this.check(this.binding.fn.SKF_GetContainerType(handle, type), "SKF_GetContainerType");
      if (type[0] !== CONTAINER_RSA && type[0] !== CONTAINER_ECC) continue; // an empty container
      for (const sign of [true, false]) {
        const der = this.exportCertificate(handle, sign);
        if (!der) continue;
        const keyId = skfKeyId(index, sign);
        this.keys.set(keyId, { container, type: type[0], sign });
        found.push({ keyId, der });
      }
    }
    return found;
  }

  sessionAlive(): boolean {
    if (this.device === null) return true;
    return this.binding.fn.SKF_GetDevInfo(this.device, Buffer.alloc(DEVINFO_BUFFER_BYTES)) >>> 0 === SAR.OK;
  }

  async login(pin: string): Promise<void> {
    const retries: UlongRef = [0];
    this.pin = null;
    const code = this.removalAware(() => this.binding.fn.SKF_VerifyPIN(this.openApplication(), USER_TYPE, pin, retries) >>> 0);
    if (code === SAR.USER_ALREADY_LOGGED_IN) return;
    try {
      this.check(code, "SKF_VerifyPIN");
    } catch (error) {
      // VerifyPIN says how many tries are left: the page shows it.
      if (error instanceof YztError && error.code === "PIN_INCORRECT") throw new YztError("PIN_INCORRECT", error.message, { ...error.data, retriesLeft: retries[0] });
      throw error;
    }
  }

  logout(): void {
    if (this.application !== null) this.check(this.binding.fn.SKF_ClearSecureState(this.application), "SKF_ClearSecureState");
  }

  close(): void {
    const containers = [...this.containerHandles.values()];
    const [application, device] = [this.application, this.device];
    this.containerHandles.clear();
    this.application = null;
    this.device = null;
    this.pin = null;
    // Handles of a removed key fail to close; they are dead either way. A call still running on a worker
    // keeps its handles until it returns: closing them under it would free memory the library is using.
    this.calls.whenIdle(() => {
      for (const handle of containers) this.binding.fn.SKF_CloseContainer(handle);
      if (application !== null) this.binding.fn.SKF_CloseApplication(application);
      if (device !== null) this.binding.fn.SKF_DisConnectDev(device);
    });
  }

  async containers(): Promise<KeyContainer[]> {
    return this.removalAware(() => listContainers(this.access));
  }

  generateKeyPair(container: string, keyAlgorithm: GeneratedKeyAlgorithm): Promise<Uint8Array> {
    return generateKeyPair(this.access, container, keyAlgorithm);
  }

  async importCertificate(container: string, purpose: "sign" | "encrypt", der: Uint8Array): Promise<void> {
    importCertificate(this.access, container, purpose === "sign", der);
  }

  importEncryptionKeyPair(container: string, pair: WrappedKeyPair): Promise<void> {
    return importEncryptionKeyPair(this.access, container, pair);
  }

  async deleteContainer(container: string): Promise<void> {
    deleteContainer(this.access, container);
  }

  signingKey(keyId: string, certificate: SignerIdentity): SigningKey {
    return skfSigningKey(this.access, this.containerKey(keyId), certificate);
  }

  /** Raw SM2 decryption through the vendor extension, where the library has it; envelopes need none. */
  async decrypt(keyId: string, keyAlgorithm: KeyAlgorithm, ciphertext: Uint8Array): Promise<Uint8Array> {
    return decryptOnKey(this.access, this.containerKey(keyId), keyAlgorithm, ciphertext);
  }

  async openEnvelope(opening: EnvelopeOpening): Promise<Uint8Array> {
    return openEnvelopeOnKey(this.access, this.containerKey(opening.keyId), opening);
  }

  async changePin(oldPin: string, newPin: string): Promise<void> {
    const retries: UlongRef = [0];
    this.pin = null;
    this.check(this.binding.fn.SKF_ChangePIN(this.openApplication(), USER_TYPE, oldPin, newPin, retries), "SKF_ChangePIN");
  }

  async unlock(adminPin: string, newPin: string): Promise<void> {
    const retries: UlongRef = [0];
    this.pin = null;
    const code = this.binding.fn.SKF_UnblockPIN(this.openApplication(), adminPin, newPin, retries);
    try {
      this.check(code, "SKF_UnblockPIN");
    } catch (error) {
      // UnblockPIN says how many tries the admin PIN has left (GM/T 0016 pulRetryCount).
      const left = retries[0];
      throw adminPinFailure(YztError.from(error), { retriesLeft: left, countLow: false, finalTry: left === 1, locked: left === 0 });
    }
  }

  /** Throws the mapped error of a failed call; a dead handle also makes the library rescan. */
  private check(code: number, call: string): void {
    if (code >>> 0 === SAR.OK) return;
    const error = skfError(code >>> 0, call);
    if (error.code === "TOKEN_REMOVED") this.onDeadHandle();
    throw error;
  }

  /** Runs work whose errors come from readSized or the handle openers, telling the library of a dead handle. */
  private removalAware<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      if (error instanceof YztError && error.code === "TOKEN_REMOVED") this.onDeadHandle();
      throw error;
    }
  }

  /** An SKF call on koffi's worker thread, counted so that closing waits for it. */
  private onWorker(name: SkfFunctionName, ...args: unknown[]): Promise<number> {
    return this.calls.run(() => this.binding.callAsync(name, ...args));
  }

  private containerKey(keyId: string): ContainerKey {
    const key = this.keys.get(keyId);
    if (!key) throw new YztError("NO_CERTIFICATE", "the certificate has no key container on this key");
    return key;
  }

  private exportCertificate(container: SkfHandle, sign: boolean): Uint8Array | null {
    try {
      const der = readSized(this.binding, "SKF_ExportCertificate", (buffer, length) => this.binding.fn.SKF_ExportCertificate(container, sign ? 1 : 0, buffer, length));
      return der.length > 0 ? new Uint8Array(der) : null;
    } catch (error) {
      const code = YztError.from(error).code;
      // A container with only one pair has no certificate for the other purpose: not an error. Vendors say so
      // in several ways (SAR_CERTNOTFOUNTERR, SAR_FILE_NOT_EXIST, SAR_FAIL, codes of their own): for the
      // encryption half anything short of the key's removal means "none".
      if (code === "NO_CERTIFICATE" || (!sign && code !== "TOKEN_REMOVED")) return null;
      throw error;
    }
  }

  private openDevice(): SkfHandle {
    if (this.device === null) {
      const handle: HandleRef = [null];
      this.check(this.binding.fn.SKF_ConnectDev(nameBytes(this.deviceName), handle), "SKF_ConnectDev");
      this.device = handle[0];
    }
    return this.device;
  }

  /** The key's first application (一证通 keys have one); its PIN guards every container in it. */
  private openApplication(): SkfHandle {
    if (this.application === null) {
      const device = this.openDevice();
      const list = this.removalAware(() => readSized(this.binding, "SKF_EnumApplication", (buffer, length) => this.binding.fn.SKF_EnumApplication(device, buffer, length)));
      const [first] = parseNameList(list, list.length);
      if (first === undefined) throw new YztError("NO_CERTIFICATE", "the key holds no application (it is blank)");
      const handle: HandleRef = [null];
      this.check(this.binding.fn.SKF_OpenApplication(device, nameBytes(first), handle), "SKF_OpenApplication");
      this.application = handle[0];
    }
    return this.application;
  }

  /** Container handles close (once no worker call uses them) and key ids are read again: indices moved. */
  private forgetContainers(): void {
    const handles = [...this.containerHandles.values()];
    this.containerHandles.clear();
    this.keys.clear();
    this.calls.whenIdle(() => {
      for (const handle of handles) this.binding.fn.SKF_CloseContainer(handle);
    });
  }

  private openContainer(container: string): SkfHandle {
    let handle = this.containerHandles.get(container);
    if (handle === undefined) {
      const opened: HandleRef = [null];
      this.check(this.binding.fn.SKF_OpenContainer(this.openApplication(), nameBytes(container), opened), "SKF_OpenContainer");
      handle = opened[0];
      this.containerHandles.set(container, handle);
    }
    return handle;
  }
}
