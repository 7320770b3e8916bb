/**
 * The PKCS#11 adapter's library side: loads a module with graphene-pk11, drains C_WaitForSlotEvent
 * (CKF_DONT_BLOCK, or a rescan when the module cannot report events) and lists the initialized tokens.
 * Each token becomes a Pkcs11Device (device.ts).
 */
import "./pkcs11js-interop.js";
import { Module, type Slot } from "graphene-pk11";
import { failedLibrary, type KeyDevice, type KeyLibrary, type LibraryCandidate, type PresentKey } from "../device.js";
import { mechanismTypes, Pkcs11Device } from "./device.js";
import { CKR, guard, isCkr } from "./errors.js";
import { resolveSm2Mechanisms, unsupportedSm2, type Sm2Mechanisms, type Sm2Settings } from "./mechanisms.js";

const CKF_OS_LOCKING_OK = 0x2;
const CKF_DONT_BLOCK = 0x1;
const CKF_TOKEN_INITIALIZED = 0x400;
/** Events drained per poll before the library gives up and asks for a rescan. */
const MAX_EVENTS_PER_POLL = 64;

export class Pkcs11Library implements KeyLibrary {
  readonly error = null;
  readonly manufacturer: string;
  readonly description: string;
  /** False once the module said C_WaitForSlotEvent is unsupported: then every poll rescans the slots. */
  private slotEvents = true;
  private readonly slots = new Map<string, Slot>();
  /** Looked up once per library: the SM2 mechanisms, or null when it has none the host knows. */
  private sm2: Sm2Mechanisms | null | undefined;

  constructor(readonly candidate: LibraryCandidate, private readonly module: Module, private readonly sm2Settings: Sm2Settings) {
    this.manufacturer = module.manufacturerID;
    this.description = module.libraryDescription;
  }

  changed(): boolean {
    if (!this.slotEvents) return true;
    let seen = false;
    for (let i = 0; i < MAX_EVENTS_PER_POLL; i++) {
      try {
        const slot = this.module.lib.C_WaitForSlotEvent(CKF_DONT_BLOCK);
        if (slot === null) return seen;
        seen = true;
      } catch (error) {
        if (isCkr(error, CKR.NO_EVENT)) return seen;
        this.slotEvents = false;
        return true;
      }
    }
    return true;
  }

  presentKeys(): PresentKey[] {
    const found: PresentKey[] = [];
    this.slots.clear();
    const slots = guard(() => this.module.getSlots(true));
    for (let i = 0; i < slots.length; i++) {
      try {
        const slot = slots.items(i);
        const token = slot.getToken();
        // An empty reader slot or a blank card is not a key the user can sign with.
        if ((token.flags & CKF_TOKEN_INITIALIZED) === 0) continue;
        this.slots.set(token.serialNumber, slot);
        found.push({ serial: token.serialNumber, label: token.label, manufacturer: token.manufacturerID, model: token.model });
      } catch {
        // Pulled out between C_GetSlotList and C_GetTokenInfo: it is simply not present.
      }
    }
    return found;
  }

  openKey(key: PresentKey): KeyDevice {
    const slot = this.slots.get(key.serial);
    if (!slot) throw new Error(`token ${key.serial} was not listed by ${this.candidate.path}`);
    return new Pkcs11Device(key, this, slot, () => this.sm2Mechanisms(slot));
  }

  close(): void {
    try {
      this.module.finalize();
      this.module.close();
    } catch {
      // A module that fails to finalize is being discarded anyway.
    }
  }

  /** The module's SM2 signing mechanisms; UNSUPPORTED_ALGORITHM names the config field when there are none. */
  private sm2Mechanisms(slot: Slot): Sm2Mechanisms {
    if (this.sm2 === undefined) {
      const module = { path: this.candidate.path, manufacturer: this.manufacturer };
      this.sm2 = resolveSm2Mechanisms(module, mechanismTypes(slot), this.sm2Settings.configured);
    }
    if (!this.sm2) throw unsupportedSm2(this.candidate.path, this.manufacturer, this.sm2Settings.configPath);
    return this.sm2;
  }
}

export function loadPkcs11Library(candidate: LibraryCandidate, sm2Settings: Sm2Settings): KeyLibrary {
  try {
    const module = Module.load(candidate.path);
    module.initialize({ flags: CKF_OS_LOCKING_OK });
    return new Pkcs11Library(candidate, module, sm2Settings);
  } catch (error) {
    return failedLibrary(candidate, error instanceof Error ? error.message : String(error));
  }
}
