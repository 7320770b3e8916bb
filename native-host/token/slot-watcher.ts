/**
 * Loads PKCS#11 modules and watches their slots: polls C_WaitForSlotEvent(CKF_DONT_BLOCK) (or rescans when a
 * module cannot report events), and turns what changed into tokeninserted / tokenremoved events. Removal
 * ends the token's session and grants and rejects every operation racing it.
 */
import { Module, type Slot } from "graphene-pk11";
import type { Logger } from "../support/log.js";
import type { ModuleCandidate } from "./modules.js";
import { CKR, isCkr, mapPkcs11Error } from "./pkcs11-errors.js";
import type { SessionTable } from "./sessions.js";
import { newRemoval, tokenInfo, tokenRemovedError, type LoadedModule, type TokenContext, type TokenEntry } from "./token-entry.js";

const CKF_OS_LOCKING_OK = 0x2;
const CKF_DONT_BLOCK = 0x1;
const CKF_TOKEN_INITIALIZED = 0x400;
/** Events drained per poll before the watcher gives up and rescans the module. */
const MAX_EVENTS_PER_POLL = 64;

interface FoundToken {
  slot: Slot;
  label: string;
  manufacturer: string;
  model: string;
}

export class SlotWatcher {
  readonly modules: LoadedModule[] = [];
  private pollTimer: NodeJS.Timeout | null = null;
  private scanning = false;

  constructor(
    private readonly context: TokenContext,
    private readonly sessions: SessionTable,
    private readonly logger: Logger,
  ) {}

  get watching(): boolean {
    return this.pollTimer !== null;
  }

  load(candidates: ModuleCandidate[]): void {
    for (const candidate of candidates) this.modules.push(this.loadModule(candidate));
    this.scan(true);
  }

  startPolling(pollIntervalMs: number): void {
    this.pollTimer = setInterval(() => this.scan(false), pollIntervalMs);
    this.pollTimer.unref();
  }

  /** Stops polling and finalizes every module (sessions must be closed first). */
  close(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    for (const loaded of this.modules.splice(0)) {
      try {
        loaded.module?.finalize();
        loaded.module?.close();
      } catch {
        // A module that fails to finalize is being discarded anyway.
      }
    }
  }

  /** Compares present tokens with what we knew and emits insert/remove events. Never throws. */
  scan(initial: boolean): void {
    if (this.scanning) return;
    this.scanning = true;
    try {
      for (const loaded of this.modules) {
        if (!loaded.module) continue;
        const changed = this.drainSlotEvents(loaded);
        if (!changed && !initial) continue;
        this.rescanModule(loaded, changed && !initial);
      }
    } finally {
      this.scanning = false;
    }
  }

  markRemoved(entry: TokenEntry): void {
    entry.present = false;
    entry.certificates = null;
    const origins = [...entry.grants.keys()];
    entry.grants.clear();
    this.sessions.dropSession(entry);
    entry.removal.reject(tokenRemovedError(entry.serial));
    entry.removal = newRemoval();
    this.logger.log("info", "token removed", { token: entry.serial });
    this.context.emitEvent("tokenremoved", { tokenSerial: entry.serial });
    if (origins.length > 0) this.context.emitEvent("sessionended", { tokenSerial: entry.serial, origins, reason: "removed" });
    this.context.emitEvent("certificateschanged", { tokenSerial: entry.serial });
  }

  private loadModule(candidate: ModuleCandidate): LoadedModule {
    try {
      const module = Module.load(candidate.path);
      module.initialize({ flags: CKF_OS_LOCKING_OK });
      return { candidate, module, manufacturer: module.manufacturerID, description: module.libraryDescription, slotEvents: true };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.log("warn", "module failed to load", { path: candidate.path, error: message });
      return { candidate, module: null, error: message, slotEvents: false };
    }
  }

  /** True when the module reported a slot event (or cannot report them, so the caller must rescan). */
  private drainSlotEvents(loaded: LoadedModule): boolean {
    if (!loaded.module || !loaded.slotEvents) return true;
    let seen = false;
    for (let i = 0; i < MAX_EVENTS_PER_POLL; i++) {
      try {
        const slot = loaded.module.lib.C_WaitForSlotEvent(CKF_DONT_BLOCK);
        if (slot === null) return seen;
        seen = true;
      } catch (error) {
        if (isCkr(error, CKR.NO_EVENT)) return seen;
        loaded.slotEvents = false;
        return true;
      }
    }
    return true;
  }

  private rescanModule(loaded: LoadedModule, afterEvent: boolean): void {
    const seen = new Map<string, FoundToken>();
    try {
      const slots = loaded.module!.getSlots(true);
      for (let i = 0; i < slots.length; i++) {
        try {
          const slot = slots.items(i);
          const token = slot.getToken();
          // An empty reader slot or a blank card is not a key the user can sign with.
          if ((token.flags & CKF_TOKEN_INITIALIZED) === 0) continue;
          seen.set(token.serialNumber, { slot, label: token.label, manufacturer: token.manufacturerID, model: token.model });
        } catch {
          // Pulled out between C_GetSlotList and C_GetTokenInfo: it is simply not present.
        }
      }
    } catch (error) {
      this.logger.log("warn", "slot scan failed", { path: loaded.candidate.path, code: mapPkcs11Error(error).code });
      return;
    }
    for (const entry of this.context.tokens.values()) {
      if (entry.owner !== loaded || !entry.present) continue;
      const stillThere = seen.get(entry.serial);
      // A key pulled and reinserted between two polls keeps its serial but loses its sessions.
      if (!stillThere || (afterEvent && !sessionAlive(entry))) this.markRemoved(entry);
    }
    for (const [serial, found] of seen) {
      if (this.context.tokens.get(serial)?.present) continue;
      this.markInserted(serial, loaded, found);
    }
  }

  private markInserted(serial: string, owner: LoadedModule, found: FoundToken): void {
    const previous = this.context.tokens.get(serial);
    const entry: TokenEntry = {
      serial, ...found, owner, present: true, session: null, loggedIn: false, grants: new Map(),
      failures: previous?.failures ?? null, pageFailures: previous?.pageFailures ?? 0, certificates: null, keys: new Map(), removal: previous?.removal ?? newRemoval(),
    };
    // Without COUNT_LOW no wrong PIN was typed since the last good one, so counting can start at zero.
    if (entry.failures === null && !tokenInfo(entry, this.context.pinMaxTries).pin.countLow) entry.failures = 0;
    this.context.tokens.set(serial, entry);
    this.logger.log("info", "token inserted", { token: serial });
    this.context.emitEvent("tokeninserted", { tokenSerial: serial });
    this.context.emitEvent("certificateschanged", { tokenSerial: serial });
  }
}

function sessionAlive(entry: TokenEntry): boolean {
  if (!entry.session) return true;
  try {
    entry.session.lib.C_GetSessionInfo(entry.session.handle);
    return true;
  } catch {
    return false;
  }
}
