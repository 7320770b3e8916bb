/**
 * Loads the key libraries (PKCS#11 modules and SKF libraries, through the loader setup.ts builds) and watches
 * their keys: on each poll it asks every library whether something changed (its own events, or a rescan where
 * it has none) and turns what changed into tokeninserted / tokenremoved events. Removal ends the key's session
 * and grants and rejects every operation racing it. A key two libraries serve (same serial) is listed once:
 * the library earlier in the candidate order keeps it.
 */
import type { Logger } from "../support/log.js";
import { YztError } from "../../protocol/errors.js";
import type { KeyLibrary, LibraryCandidate, LibraryLoader, PresentKey } from "./device.js";
import type { SessionTable } from "./sessions.js";
import { newRemoval, tokenInfo, tokenRemovedError, type TokenContext, type TokenEntry } from "./token-entry.js";

export class KeyWatcher {
  readonly libraries: KeyLibrary[] = [];
  /** Libraries that loaded but failed their last scan (a faulty driver), with why: diagnostics shows them. */
  readonly scanProblems = new Map<KeyLibrary, string>();
  private pollTimer: NodeJS.Timeout | null = null;
  private scanning = false;
  private loadedAtMs = 0;

  constructor(
    private readonly context: TokenContext,
    private readonly sessions: SessionTable,
    private readonly loadLibrary: LibraryLoader,
    private readonly logger: Logger,
    /** How long the candidate order holds while libraries' drivers give their first answer. */
    private readonly firstAnswerWaitMs = 0,
  ) {}

  /** When the libraries were last loaded: the first-answer window (`firstAnswerWaitMs`) counts from it. */
  get loadedAt(): number {
    return this.loadedAtMs;
  }

  get watching(): boolean {
    return this.pollTimer !== null;
  }

  load(candidates: LibraryCandidate[]): void {
    this.loadedAtMs = Date.now();
    for (const candidate of candidates) {
      const library = this.loadLibrary(candidate);
      if (library.error !== null) this.logger.log("warn", "key library failed to load", { kind: candidate.kind, path: candidate.path, error: library.error });
      this.libraries.push(library);
    }
    this.scan(true);
  }

  startPolling(pollIntervalMs: number): void {
    this.pollTimer = setInterval(() => this.scan(false), pollIntervalMs);
    this.pollTimer.unref();
    for (const library of this.libraries) if (library.error === null) library.startEvents?.(() => this.scan(false));
  }

  /** Stops polling and finalizes every library (devices must be closed first); resolves once all let go. */
  async close(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    this.scanProblems.clear();
    await Promise.all(this.libraries.splice(0).map((library) => library.close()));
  }

  /** Compares present keys with what we knew and emits insert/remove events. Never throws. */
  scan(initial: boolean): void {
    if (this.scanning) return;
    this.scanning = true;
    try {
      let earlierStarting = false;
      for (const library of this.libraries) {
        if (library.error !== null) continue;
        // A key two libraries reach goes to the earlier one, whichever driver answers first: a library's
        // news waits (its change kept for the next look) while an earlier one is still starting.
        const starting = library.health?.state === "starting";
        if (earlierStarting && Date.now() < this.loadedAtMs + this.firstAnswerWaitMs) continue;
        earlierStarting ||= starting;
        let changed: boolean;
        try {
          changed = library.changed();
        } catch (error) {
          // A library that cannot even say what changed is rescanned; that logs what is wrong with it.
          this.logger.log("warn", "key events failed", { path: library.candidate.path, code: YztError.from(error).code });
          changed = true;
        }
        if (!changed && !initial) continue;
        this.rescanLibrary(library, changed && !initial);
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

  private rescanLibrary(library: KeyLibrary, afterEvent: boolean): void {
    let present: PresentKey[];
    try {
      present = library.presentKeys();
      this.scanProblems.delete(library);
    } catch (error) {
      const failure = YztError.from(error);
      if (!this.scanProblems.has(library)) this.logger.log("warn", "key scan failed", { path: library.candidate.path, code: failure.code, error: failure.message });
      this.scanProblems.set(library, failure.message);
      return;
    }
    const seen = new Map(present.map((key) => [key.serial, key]));
    for (const entry of this.context.tokens.values()) {
      if (entry.device.library !== library || !entry.present) continue;
      // A key pulled and reinserted between two polls keeps its serial but loses its sessions.
      if (!seen.has(entry.serial) || (afterEvent && !entry.device.sessionAlive())) this.markRemoved(entry);
    }
    for (const key of present) {
      if (this.context.tokens.get(key.serial)?.present) continue;
      try {
        this.markInserted(library, key);
      } catch (error) {
        this.logger.log("warn", "key could not be opened", { path: library.candidate.path, token: key.serial, code: YztError.from(error).code });
      }
    }
  }

  private markInserted(library: KeyLibrary, key: PresentKey): void {
    const previous = this.context.tokens.get(key.serial);
    const entry: TokenEntry = {
      serial: key.serial, device: library.openKey(key), present: true, loggedIn: false, grants: new Map(),
      failures: previous?.failures ?? null, pageFailures: previous?.pageFailures ?? 0, certificates: null, removal: previous?.removal ?? newRemoval(),
    };
    // Without COUNT_LOW no wrong PIN was typed since the last good one, so counting can start at zero.
    if (entry.failures === null && !tokenInfo(entry, this.context.pinMaxTries).pin.countLow) entry.failures = 0;
    this.context.tokens.set(key.serial, entry);
    this.logger.log("info", "token inserted", { token: key.serial });
    this.context.emitEvent("tokeninserted", { tokenSerial: key.serial });
    this.context.emitEvent("certificateschanged", { tokenSerial: key.serial });
  }
}
