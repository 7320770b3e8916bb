/**
 * Logged-in sessions and the per-origin grants on them. A key has at most one session (its device's); an origin
 * holds a grant on it only after its own PIN was checked, so a site that never typed the PIN cannot ride on
 * another site's login. Grants unused for the idle timeout end; a token left without grants is logged out.
 */
import { YztError } from "../../protocol/errors.js";
import { checkPinRules, type EventData } from "../../protocol/messages.js";
import { tokenInfo, type TokenContext, type TokenEntry } from "./token-entry.js";
import type { TokenQueue } from "./token-queue.js";

export type EndReason = NonNullable<EventData["reason"]>;
export type PinSource = "user" | "page";

/** Wrong page-supplied PINs in a row a key takes before page PINs stop reaching it (10 lock a 一证通). */
export const PAGE_PIN_ATTEMPTS = 3;

export class SessionTable {
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly context: TokenContext, private readonly queue: TokenQueue, private idleTimeoutMs: number) {}

  get idleTimeout(): number {
    return this.idleTimeoutMs;
  }

  /** Changes how long unused grants live; existing grants are measured against the new value. */
  setIdleTimeout(ms: number): void {
    this.idleTimeoutMs = ms;
    if (this.idleTimer) this.startIdleSweep();
  }

  startIdleSweep(): void {
    this.stopIdleSweep();
    const sweepEveryMs = Math.max(50, Math.min(this.idleTimeoutMs / 4, 30_000));
    this.idleTimer = setInterval(() => this.expireIdleGrants(), sweepEveryMs);
    this.idleTimer.unref();
  }

  stopIdleSweep(): void {
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = null;
  }

  hasGrant(origin: string, tokenSerial: string): boolean {
    const entry = this.context.tokens.get(tokenSerial);
    return entry !== undefined && entry.present && entry.loggedIn && entry.grants.has(origin);
  }

  /** Refuses a locked key before its PIN is tried; the counter is read afresh (it may have changed elsewhere). */
  async requirePinUsable(entry: TokenEntry): Promise<void> {
    await entry.device.refresh?.().catch(() => undefined);
    if (tokenInfo(entry, this.context.pinMaxTries).pin.locked) {
      throw new YztError("PIN_LOCKED", "the PIN is locked; unlock the key at the issuer (一证通服务网点)", { retriesLeft: 0 });
    }
  }

  /**
   * Gives `origin` a grant on the token. Without a PIN this only succeeds for an origin that already holds a
   * live grant. A PIN is always checked against the token, even when another origin's login is active.
   */
  async authorize(entry: TokenEntry, origin: string, pin: string | undefined, source: PinSource = "user"): Promise<void> {
    if (pin === undefined) {
      if (entry.loggedIn && entry.grants.has(origin)) return;
      throw new YztError("LOGIN_REQUIRED", "this site has no signing session on the token: the PIN is required", { tokenSerial: entry.serial });
    }
    // A rationed page goes to the extension's dialog whatever it sent, even a PIN the token would refuse.
    this.requirePagePinAllowed(entry, source);
    checkPinRules(pin);
    await this.requirePinUsable(entry);
    if (entry.loggedIn) {
      // A login on a logged-in key does not check the PIN; log out so the new PIN really is verified.
      entry.device.logout();
      this.markLoggedOut(entry);
    }
    try {
      await entry.device.login(pin);
    } catch (error) {
      // Logging out ended every other origin's grant too; say so instead of leaving stale state behind.
      this.endGrants(entry, [...entry.grants.keys()], "loginFailed");
      throw this.pinFailure(entry, error, source);
    }
    entry.loggedIn = true;
    this.pinAccepted(entry);
    entry.grants.set(origin, Date.now());
  }

  /**
   * Refuses a page-supplied PIN once pages got PAGE_PIN_ATTEMPTS wrong in a row: NOT_ALLOWED with
   * data.reason "pagePinLimit", which the extension answers with its own PIN dialog.
   */
  requirePagePinAllowed(entry: TokenEntry, source: PinSource): void {
    if (source === "page" && entry.pageFailures >= PAGE_PIN_ATTEMPTS) {
      const retriesLeft = tokenInfo(entry, this.context.pinMaxTries).pin.retriesLeft;
      throw new YztError("NOT_ALLOWED", `${PAGE_PIN_ATTEMPTS} wrong PINs came from web pages: the PIN must now be typed into the extension's own window`, {
        reason: "pagePinLimit", tokenSerial: entry.serial, retriesLeft,
      });
    }
  }

  pinAccepted(entry: TokenEntry): void {
    entry.failures = 0;
    entry.pageFailures = 0;
  }

  /** A failed PIN login or change, with how many tries are left. */
  pinFailure(entry: TokenEntry, error: unknown, source: PinSource = "user"): YztError {
    const mapped = YztError.from(error);
    if (mapped.code !== "PIN_INCORRECT" && mapped.code !== "PIN_LOCKED") return mapped;
    entry.failures = entry.failures === null ? null : entry.failures + 1;
    if (source === "page") entry.pageFailures += 1;
    const pin = tokenInfo(entry, this.context.pinMaxTries).pin;
    if (mapped.code === "PIN_LOCKED" || pin.locked) {
      return new YztError("PIN_LOCKED", "the PIN is now locked after too many wrong tries", { retriesLeft: 0 });
    }
    return new YztError("PIN_INCORRECT", mapped.message, { retriesLeft: pin.retriesLeft });
  }

  touch(entry: TokenEntry, origin: string): void {
    if (entry.grants.has(origin)) entry.grants.set(origin, Date.now());
  }

  endGrants(entry: TokenEntry, origins: string[], reason: EndReason): void {
    const ended = origins.filter((origin) => entry.grants.delete(origin));
    if (ended.length > 0) this.context.emitEvent("sessionended", { tokenSerial: entry.serial, origins: ended, reason });
  }

  /** Ends grants of one origin (or all) on one token (or all); tokens left without grants are logged out. */
  async logout(params: { origin?: string; tokenSerial?: string }): Promise<{ loggedOut: string[] }> {
    const loggedOut: string[] = [];
    for (const entry of this.context.tokens.values()) {
      if (params.tokenSerial !== undefined && entry.serial !== params.tokenSerial) continue;
      const origins = [...entry.grants.keys()].filter((origin) => params.origin === undefined || origin === params.origin);
      if (origins.length === 0 && !(params.origin === undefined && entry.loggedIn)) continue;
      await this.queue.run(entry, async () => {
        this.endGrants(entry, origins, "logout");
        if (entry.grants.size === 0) this.logoutToken(entry);
      }).catch(() => undefined);
      loggedOut.push(entry.serial);
    }
    return { loggedOut };
  }

  logoutToken(entry: TokenEntry): void {
    if (entry.loggedIn) {
      try {
        entry.device.logout();
      } catch {
        // Already logged out by the token (removal, another application): the state below is what counts.
      }
    }
    this.markLoggedOut(entry);
  }

  markLoggedOut(entry: TokenEntry): void {
    entry.loggedIn = false;
  }

  /** Ends the device's session: its login and every handle on it. */
  dropSession(entry: TokenEntry): void {
    entry.device.close();
    this.markLoggedOut(entry);
  }

  private expireIdleGrants(): void {
    const cutoff = Date.now() - this.idleTimeoutMs;
    for (const entry of this.context.tokens.values()) {
      const stale = [...entry.grants].filter(([, lastUse]) => lastUse <= cutoff).map(([origin]) => origin);
      if (stale.length === 0) continue;
      void this.queue.run(entry, async () => {
        const still = stale.filter((origin) => (entry.grants.get(origin) ?? Infinity) <= cutoff);
        this.endGrants(entry, still, "idle");
        if (entry.grants.size === 0) this.logoutToken(entry);
      }).catch(() => undefined);
    }
  }
}
