/**
 * The SKF adapter's library side: one vendor SKF library (GM/T 0016) loaded through koffi. It lists the
 * present devices (SKF_EnumDev, then SKF_GetDevInfo for the serial the key shares with its PKCS#11 face),
 * and learns about insertion and removal from SKF_WaitForDevEvent, which blocks: it runs on koffi's worker
 * thread and is cancelled with SKF_CancelWaitForDevEvent at close. Libraries without both (a wait that cannot
 * be cancelled would hold a worker thread for good), or whose wait fails, are polled with SKF_EnumDev; there a
 * call that finds a device handle dead makes the next look a full rescan, so a key pulled and put back between
 * two looks is opened afresh. Each device becomes an SkfDevice (device.ts).
 */
import { YztError } from "../../../protocol/errors.js";
import { failedLibrary, type KeyDevice, type KeyLibrary, type LibraryCandidate, type PresentKey } from "../device.js";
import { DEVINFO_BUFFER_BYTES, nameBytes, parseDevInfo, parseNameList } from "./abi.js";
import { loadSkfBinding, readSized, SkfLoadError, type HandleRef, type SkfBinding, type UlongRef } from "./binding.js";
import { SkfDevice } from "./device.js";
import { check, SAR } from "./errors.js";

/** Longest device name SKF_WaitForDevEvent may report. */
const EVENT_NAME_BYTES = 256;
/**
 * koffi runs asynchronous calls on libuv's shared pool (4 threads unless UV_THREADPOOL_SIZE says otherwise),
 * and a wait holds its thread until a device event: at most this many libraries wait, the rest are polled,
 * so signing, decryption and file reads always keep threads of their own.
 */
const MAX_WAITING_LIBRARIES = 2;
let waitingLibraries = 0;

interface ListedDevice extends PresentKey {
  /** The name SKF_ConnectDev takes (SKF_EnumDev's), which need not be the serial. */
  deviceName: string;
}

export class SkfLibrary implements KeyLibrary {
  readonly error = null;
  readonly description: string;
  manufacturer?: string;
  private readonly listed = new Map<string, ListedDevice>();
  private lastNames: string | null = null;
  private eventsRunning = false;
  private eventSeen = false;
  private waitInFlight = false;
  private closing = false;
  /** A device handle was found dead: rescan at the next look whatever the events say. */
  private handleDied = false;

  constructor(readonly candidate: LibraryCandidate, private readonly binding: SkfBinding) {
    this.description = binding.ulongBytes === 8 ? "SKF (GM/T 0016, built with a 64-bit ULONG)" : "SKF (GM/T 0016)";
  }

  changed(): boolean {
    // Polling compares name lists, which a key pulled and put back between two looks leaves unchanged; the
    // events report both moves themselves (and a rescan after them checks every session).
    if (this.handleDied && !this.eventsRunning) {
      this.handleDied = false;
      return true;
    }
    if (this.eventsRunning) {
      const seen = this.eventSeen;
      this.eventSeen = false;
      return seen;
    }
    const names = this.enumDevices().join("\0");
    if (names === this.lastNames) return false;
    this.lastNames = names;
    return true;
  }

  presentKeys(): PresentKey[] {
    const names = this.enumDevices();
    this.lastNames = names.join("\0");
    const present: ListedDevice[] = [];
    // Read afresh each time: a vendor may name devices by reader slot, and another key can take a slot over.
    for (const name of names) {
      const device = this.describe(name);
      if (device) present.push(device);
    }
    this.listed.clear();
    for (const device of present) this.listed.set(device.serial, device);
    return present.map(({ serial, label, manufacturer, model }) => ({ serial, label, manufacturer, model }));
  }

  openKey(key: PresentKey): KeyDevice {
    const listed = this.listed.get(key.serial);
    if (!listed) throw new Error(`key ${key.serial} was not listed by ${this.candidate.path}`);
    return new SkfDevice(key, this, this.binding, listed.deviceName, () => (this.handleDied = true));
  }

  startEvents(onChange: () => void): void {
    if (this.eventsRunning || !this.binding.fn.SKF_WaitForDevEvent || !this.binding.fn.SKF_CancelWaitForDevEvent) return;
    if (waitingLibraries >= MAX_WAITING_LIBRARIES) return;
    waitingLibraries++;
    this.eventsRunning = true;
    void this.waitForEvents(onChange);
  }

  close(): void {
    this.closing = true;
    if (this.waitInFlight) {
      try {
        this.binding.fn.SKF_CancelWaitForDevEvent?.();
      } catch {
        // Nothing more can be done: the wait ends when the next device event comes.
      }
    }
    // The binding unloads once no call runs on a worker, this wait included.
    this.binding.close();
  }

  private async waitForEvents(onChange: () => void): Promise<void> {
    try {
      await this.waitLoop(onChange);
    } finally {
      waitingLibraries--;
    }
  }

  private async waitLoop(onChange: () => void): Promise<void> {
    while (!this.closing) {
      const name = Buffer.alloc(EVENT_NAME_BYTES);
      const nameLength: UlongRef = [EVENT_NAME_BYTES];
      const event: UlongRef = [0];
      let code: number;
      this.waitInFlight = true;
      try {
        code = await this.binding.callAsync("SKF_WaitForDevEvent", name, nameLength, event);
      } catch {
        code = SAR.FAIL;
      } finally {
        this.waitInFlight = false;
      }
      if (this.closing) break;
      if (code !== SAR.OK) {
        // No usable events (unsupported, or failing): poll with SKF_EnumDev from now on, never spin here.
        this.eventsRunning = false;
        this.lastNames = null;
        onChange();
        return;
      }
      this.eventSeen = true;
      onChange();
    }
  }

  /**
   * The present devices' names. SKF_EnumDev takes no handle: whatever it answers, a failure means the library
   * cannot list its keys (a driver problem for diagnose), never that a key was pulled out.
   */
  private enumDevices(): string[] {
    let list: Buffer;
    try {
      list = readSized(this.binding, "SKF_EnumDev", (buffer, length) => this.binding.fn.SKF_EnumDev(1, buffer, length));
    } catch (error) {
      const failure = YztError.from(error);
      // Impossible lengths already name the library (readSized).
      if (failure.message.includes(this.candidate.path)) throw failure;
      throw new YztError("INTERNAL", `SKF_EnumDev of ${this.candidate.path} failed (${failure.data?.sar ?? failure.message}): the library cannot list its keys`, { ...failure.data, call: "SKF_EnumDev" });
    }
    return parseNameList(list, list.length);
  }

  /** Serial, label and manufacturer of a device; null when it went away while being read. */
  private describe(deviceName: string): ListedDevice | null {
    const handle: HandleRef = [null];
    try {
      check(this.binding.fn.SKF_ConnectDev(nameBytes(deviceName), handle), "SKF_ConnectDev");
    } catch {
      return null;
    }
    try {
      const info = Buffer.alloc(DEVINFO_BUFFER_BYTES);
      check(this.binding.fn.SKF_GetDevInfo(handle[0], info), "SKF_GetDevInfo");
      const parsed = parseDevInfo(info);
      this.manufacturer ??= parsed.manufacturer;
      const serial = parsed.serialNumber || deviceName;
      return { deviceName, serial, label: parsed.label || deviceName, manufacturer: parsed.manufacturer, model: parsed.issuer || "SKF" };
    } catch {
      return null;
    } finally {
      this.binding.fn.SKF_DisConnectDev(handle[0]);
    }
  }
}

export function loadSkfLibrary(candidate: LibraryCandidate): KeyLibrary {
  try {
    return new SkfLibrary(candidate, loadSkfBinding(candidate.path));
  } catch (error) {
    return failedLibrary(candidate, error instanceof SkfLoadError ? error.message : `cannot load ${candidate.path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
