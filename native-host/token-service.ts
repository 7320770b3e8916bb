/**
 * PKCS#11 token service: loads modules, watches slots, keeps one session per token (logged in until logout,
 * removal or idle timeout), serialises operations per token and performs login / sign / change-PIN.
 *
 * Origins get grants on a token's logged-in session: a site that never typed the PIN cannot ride on another
 * site's login. Signing runs through pkcs11js' asynchronous C_Sign (a worker thread), so a slow USB key
 * never blocks slot watching or other tokens; every token operation also races the token's removal, so a
 * pulled key answers TOKEN_REMOVED at the next poll instead of hanging.
 */
import { EventEmitter } from "node:events";
import { Module, ObjectClass, SessionFlag, UserType, type Key, type Session, type Slot } from "graphene-pk11";
import { certificateValidity, toYztCertificate, type ParsedCertificate } from "./certificate-view.js";
import { YztError } from "./errors.js";
import { KeyedQueue } from "./keyed-queue.js";
import { silentLogger, type Logger } from "./log.js";
import type { ModuleCandidate } from "./modules.js";
import { DEFAULT_PIN_MAX_TRIES, pinStateFrom } from "./pin-state.js";
import { CKR, isCkr, mapPkcs11Error } from "./pkcs11-errors.js";
import {
  checkPinRules, type EventData, type EventName, type LoginResult, type SignResult, type TokenInfo, type YztCertificate,
} from "./protocol.js";
import { signForPage, signLoginToken, type SigningKey, type TokenPrimitive } from "./signer.js";
import { findPrivateKey, keyIds, readCertificateObjects } from "./token-objects.js";

const CKF_OS_LOCKING_OK = 0x2;
const CKF_DONT_BLOCK = 0x1;
const CKF_TOKEN_INITIALIZED = 0x400;
const MECHANISM = { RSA: "RSA_PKCS", EC: "ECDSA" } as const;

export interface TokenServiceOptions {
  /** Grants unused for this long end; when none is left the token is logged out. */
  idleTimeoutMs?: number;
  /** Slot polling period; removal is seen within this (DESIGN.md: ≤ 200 ms). */
  pollIntervalMs?: number;
  /** Upper bound for one token operation (a key waiting for a button press, a wedged driver). */
  operationTimeoutMs?: number;
  pinMaxTries?: number;
  now?: () => Date;
  logger?: Logger;
}

export interface LoadedModule {
  candidate: ModuleCandidate;
  module: Module | null;
  error?: string;
  manufacturer?: string;
  description?: string;
  /** False once the module said C_WaitForSlotEvent is unsupported: then every poll rescans the slots. */
  slotEvents: boolean;
}

interface CertificateRecord {
  ckaIdHex: string;
  parsed: ParsedCertificate;
}

interface Removal {
  promise: Promise<never>;
  reject(error: YztError): void;
}

interface TokenEntry {
  serial: string;
  label: string;
  manufacturer: string;
  model: string;
  owner: LoadedModule;
  slot: Slot;
  present: boolean;
  session: Session | null;
  loggedIn: boolean;
  /** origin → time of last use (ms). */
  grants: Map<string, number>;
  /** Wrong PINs this host saw since the last good one; null when unknown (host started with COUNT_LOW set). */
  failures: number | null;
  certificates: CertificateRecord[] | null;
  /** Private-key handles by CKA_ID; valid only while logged in, so cleared whenever the login changes. */
  keys: Map<string, Key>;
  removal: Removal;
}

export interface ServiceEvent {
  event: EventName;
  data: EventData;
}

function newRemoval(): Removal {
  let reject!: (error: YztError) => void;
  const promise = new Promise<never>((_, fail) => {
    reject = fail;
  });
  promise.catch(() => undefined);
  return { promise, reject };
}

function parseCertificateId(certificateId: string): { serial: string; ckaIdHex: string } {
  const split = certificateId.lastIndexOf(":");
  return { serial: certificateId.slice(0, split), ckaIdHex: certificateId.slice(split + 1) };
}

export class TokenService extends EventEmitter<{ event: [ServiceEvent] }> {
  readonly modules: LoadedModule[] = [];
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly queue = new KeyedQueue();
  private idleTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly operationTimeoutMs: number;
  private readonly pinMaxTries: number;
  private readonly now: () => Date;
  private readonly logger: Logger;
  private pollTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private scanning = false;

  constructor(private candidates: ModuleCandidate[], options: TokenServiceOptions = {}) {
    super();
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30 * 60 * 1000;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.operationTimeoutMs = options.operationTimeoutMs ?? 120_000;
    this.pinMaxTries = options.pinMaxTries ?? DEFAULT_PIN_MAX_TRIES;
    this.now = options.now ?? (() => new Date());
    this.logger = options.logger ?? silentLogger;
  }

  /** Loads the modules and takes the first look at the slots; `watch` starts polling and idle expiry. */
  start(watch = true): void {
    for (const candidate of this.candidates) this.modules.push(this.loadModule(candidate));
    this.scan(true);
    if (watch) {
      this.pollTimer = setInterval(() => this.scan(false), this.pollIntervalMs);
      this.pollTimer.unref();
      this.startIdleSweep();
    }
  }

  get idleTimeout(): number {
    return this.idleTimeoutMs;
  }

  /** Changes how long unused grants live; existing grants are measured against the new value. */
  setIdleTimeout(ms: number): void {
    this.idleTimeoutMs = ms;
    if (this.idleTimer) this.startIdleSweep();
  }

  private startIdleSweep(): void {
    if (this.idleTimer) clearInterval(this.idleTimer);
    const sweepEvery = Math.max(50, Math.min(this.idleTimeoutMs / 4, 30_000));
    this.idleTimer = setInterval(() => this.expireIdleGrants(), sweepEvery);
    this.idleTimer.unref();
  }

  /** Logs out, closes sessions and finalizes every module. */
  close(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.pollTimer = this.idleTimer = null;
    for (const entry of this.tokens.values()) this.dropSession(entry);
    this.tokens.clear();
    for (const loaded of this.modules.splice(0)) {
      try {
        loaded.module?.finalize();
        loaded.module?.close();
      } catch {
        // A module that fails to finalize is being discarded anyway.
      }
    }
  }

  /** Repair: forget every session and module handle, rediscover, load again. */
  reload(candidates?: ModuleCandidate[]): void {
    const watching = this.pollTimer !== null;
    for (const entry of this.tokens.values()) {
      if (entry.present) this.markRemoved(entry);
    }
    this.close();
    if (candidates) this.candidates = candidates;
    this.start(watching);
  }

  // ---------- queries ----------

  listTokens(): TokenInfo[] {
    this.scan(false);
    return [...this.tokens.values()].map((entry) => this.tokenInfo(entry));
  }

  async listCertificates(filter: { purpose?: "sign" | "encrypt"; tokenSerial?: string } = {}): Promise<YztCertificate[]> {
    const entries = [...this.tokens.values()].filter(
      (entry) => entry.present && (filter.tokenSerial === undefined || entry.serial === filter.tokenSerial),
    );
    const lists = await Promise.all(
      entries.map((entry) =>
        this.onToken(entry, () => this.certificatesOf(entry)).then(
          (records) => records.map((record) => toYztCertificate(record.parsed, entry, record.ckaIdHex, this.now())),
          // A token pulled out while we read it simply contributes no certificates.
          (error: unknown) => (YztError.from(error).code === "TOKEN_REMOVED" ? [] : Promise.reject(error)),
        ),
      ),
    );
    const all = lists.flat();
    if (!filter.purpose) return all;
    return all.filter((cert) => cert.purpose === filter.purpose || cert.purpose === "both");
  }

  hasGrant(origin: string, tokenSerial: string): boolean {
    const entry = this.tokens.get(tokenSerial);
    return entry !== undefined && entry.present && entry.loggedIn && entry.grants.has(origin);
  }

  /** Module/token/certificate facts for diagnostics, without touching any PIN. */
  async snapshot(): Promise<{ tokens: TokenInfo[]; certificates: { der: Buffer; parsed: ParsedCertificate; yzt: YztCertificate }[] }> {
    const tokens = this.listTokens();
    const certificates: { der: Buffer; parsed: ParsedCertificate; yzt: YztCertificate }[] = [];
    for (const entry of this.tokens.values()) {
      if (!entry.present) continue;
      try {
        const records = await this.onToken(entry, () => this.certificatesOf(entry));
        for (const record of records) {
          certificates.push({
            der: Buffer.from(record.parsed.der),
            parsed: record.parsed,
            yzt: toYztCertificate(record.parsed, entry, record.ckaIdHex, this.now()),
          });
        }
      } catch (error) {
        this.logger.log("warn", "could not read certificates", { token: entry.serial, code: YztError.from(error).code });
      }
    }
    return { tokens, certificates };
  }

  // ---------- operations ----------

  async login(params: { certificateId: string; origin: string; pin?: string; challenge?: string }): Promise<LoginResult> {
    const { entry, record } = this.locate(params.certificateId);
    return this.onToken(entry, async () => {
      const current = await this.requireRecord(entry, record.ckaIdHex);
      this.requireValid(current.parsed);
      await this.authorize(entry, params.origin, params.pin);
      const result: LoginResult = { tokenSerial: entry.serial };
      if (params.challenge !== undefined) {
        result.loginToken = await signLoginToken(this.signingKey(entry, current), params.origin, params.challenge);
      }
      this.touch(entry, params.origin);
      return result;
    });
  }

  async sign(params: {
    certificateId: string; origin: string; format: "pkcs7-detached" | "pkcs7-attached" | "raw";
    data?: string; digest?: string; pin?: string;
  }): Promise<SignResult> {
    const { entry, record } = this.locate(params.certificateId);
    return this.onToken(entry, async () => {
      const current = await this.requireRecord(entry, record.ckaIdHex);
      this.requireValid(current.parsed);
      await this.authorize(entry, params.origin, params.pin);
      const result = await signForPage(this.signingKey(entry, current), {
        format: params.format,
        signingTime: this.now(),
        ...(params.data !== undefined ? { data: Buffer.from(params.data, "base64") } : {}),
        ...(params.digest !== undefined ? { digest: Buffer.from(params.digest, "base64") } : {}),
      });
      this.touch(entry, params.origin);
      return result;
    });
  }

  /** Ends grants of one origin (or all) on one token (or all); tokens left without grants are logged out. */
  async logout(params: { origin?: string; tokenSerial?: string } = {}): Promise<{ loggedOut: string[] }> {
    const loggedOut: string[] = [];
    for (const entry of this.tokens.values()) {
      if (params.tokenSerial !== undefined && entry.serial !== params.tokenSerial) continue;
      const origins = [...entry.grants.keys()].filter((origin) => params.origin === undefined || origin === params.origin);
      if (origins.length === 0 && !(params.origin === undefined && entry.loggedIn)) continue;
      await this.onToken(entry, async () => {
        this.endGrants(entry, origins, "logout");
        if (entry.grants.size === 0) this.logoutToken(entry);
      }).catch(() => undefined);
      loggedOut.push(entry.serial);
    }
    return { loggedOut };
  }

  async changePin(params: { tokenSerial: string; oldPin: string; newPin: string }): Promise<{ changed: true }> {
    checkPinRules(params.newPin, "newPin");
    const entry = this.requirePresent(params.tokenSerial);
    return this.onToken(entry, async () => {
      this.requirePinUsable(entry);
      // SetPIN needs a read/write session; it shares the login state of the token's main session.
      const session = this.guard(() => entry.slot.open(SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION));
      try {
        session.setPin(params.oldPin, params.newPin);
        entry.failures = 0;
        return { changed: true as const };
      } catch (error) {
        throw this.pinFailure(entry, error);
      } finally {
        try {
          session.close();
        } catch {
          // The token may already be gone; the result above stands.
        }
      }
    });
  }

  // ---------- internals: sessions and grants ----------

  private locate(certificateId: string): { entry: TokenEntry; record: { ckaIdHex: string } } {
    const { serial, ckaIdHex } = parseCertificateId(certificateId);
    const entry = this.tokens.get(serial);
    if (!entry) throw new YztError("NO_CERTIFICATE", `no token with serial ${serial} holds certificate ${certificateId}`);
    if (!entry.present) throw new YztError("NO_TOKEN", `token ${serial} is not inserted`, { tokenSerial: serial });
    return { entry, record: { ckaIdHex } };
  }

  private requirePresent(serial: string): TokenEntry {
    const entry = this.tokens.get(serial);
    if (!entry || !entry.present) throw new YztError("NO_TOKEN", `token ${serial} is not inserted`, { tokenSerial: serial });
    return entry;
  }

  private async requireRecord(entry: TokenEntry, ckaIdHex: string): Promise<CertificateRecord> {
    const record = (await this.certificatesOf(entry)).find((candidate) => candidate.ckaIdHex === ckaIdHex);
    if (!record) throw new YztError("NO_CERTIFICATE", `certificate ${entry.serial}:${ckaIdHex} is not on the token`);
    return record;
  }

  private requireValid(parsed: ParsedCertificate): void {
    const { status } = certificateValidity(parsed.notBefore, parsed.notAfter, this.now());
    if (status === "expired") {
      throw new YztError("CERT_EXPIRED", `the certificate expired on ${parsed.notAfter.toISOString()}`, { notAfter: parsed.notAfter.toISOString() });
    }
    if (status === "notYetValid") {
      throw new YztError("CERT_NOT_YET_VALID", `the certificate is valid from ${parsed.notBefore.toISOString()}`, { notBefore: parsed.notBefore.toISOString() });
    }
  }

  private requirePinUsable(entry: TokenEntry): void {
    const pin = this.tokenInfo(entry).pin;
    if (pin.locked) throw new YztError("PIN_LOCKED", "the PIN is locked; unlock the key at the issuer (一证通服务网点)", { retriesLeft: 0 });
  }

  /**
   * Gives `origin` a grant on the token. Without a PIN this only succeeds for an origin that already holds a
   * live grant. A PIN is always checked against the token, even when another origin's login is active.
   */
  private async authorize(entry: TokenEntry, origin: string, pin: string | undefined): Promise<void> {
    if (pin === undefined) {
      if (entry.loggedIn && entry.grants.has(origin)) return;
      throw new YztError("LOGIN_REQUIRED", "this site has no signing session on the token: the PIN is required", { tokenSerial: entry.serial });
    }
    checkPinRules(pin);
    this.requirePinUsable(entry);
    const session = this.ensureSession(entry);
    if (entry.loggedIn) {
      // C_Login on a logged-in token does not check the PIN; log out so the new PIN really is verified.
      try {
        session.logout();
      } catch (error) {
        if (!isCkr(error, CKR.USER_NOT_LOGGED_IN)) throw mapPkcs11Error(error);
      }
      this.markLoggedOut(entry);
    }
    try {
      session.login(pin, UserType.USER);
    } catch (error) {
      if (!isCkr(error, CKR.USER_ALREADY_LOGGED_IN)) {
        // Logging out ended every other origin's grant too; say so instead of leaving stale state behind.
        this.endGrants(entry, [...entry.grants.keys()], "loginFailed");
        throw this.pinFailure(entry, error);
      }
    }
    entry.loggedIn = true;
    entry.failures = 0;
    entry.grants.set(origin, Date.now());
  }

  /** Maps a failed C_Login / C_SetPIN, adding how many tries are left. */
  private pinFailure(entry: TokenEntry, error: unknown): YztError {
    const mapped = mapPkcs11Error(error);
    if (mapped.code !== "PIN_INCORRECT" && mapped.code !== "PIN_LOCKED") return mapped;
    entry.failures = entry.failures === null ? null : entry.failures + 1;
    const pin = this.tokenInfo(entry).pin;
    if (mapped.code === "PIN_LOCKED" || pin.locked) {
      return new YztError("PIN_LOCKED", "the PIN is now locked after too many wrong tries", { retriesLeft: 0 });
    }
    return new YztError("PIN_INCORRECT", mapped.message, { retriesLeft: pin.retriesLeft });
  }

  private ensureSession(entry: TokenEntry): Session {
    if (!entry.session) entry.session = this.guard(() => entry.slot.open(SessionFlag.SERIAL_SESSION));
    return entry.session;
  }

  private touch(entry: TokenEntry, origin: string): void {
    if (entry.grants.has(origin)) entry.grants.set(origin, Date.now());
  }

  private endGrants(entry: TokenEntry, origins: string[], reason: NonNullable<EventData["reason"]>): void {
    const ended = origins.filter((origin) => entry.grants.delete(origin));
    if (ended.length > 0) this.emitEvent("sessionended", { tokenSerial: entry.serial, origins: ended, reason });
  }

  private logoutToken(entry: TokenEntry): void {
    if (entry.loggedIn && entry.session) {
      try {
        entry.session.logout();
      } catch {
        // Already logged out by the token (removal, another application): the state below is what counts.
      }
    }
    this.markLoggedOut(entry);
  }

  /** Private-key handles only live as long as the login, so they go with it. */
  private markLoggedOut(entry: TokenEntry): void {
    entry.loggedIn = false;
    entry.keys.clear();
  }

  private expireIdleGrants(): void {
    const cutoff = Date.now() - this.idleTimeoutMs;
    for (const entry of this.tokens.values()) {
      const stale = [...entry.grants].filter(([, lastUse]) => lastUse <= cutoff).map(([origin]) => origin);
      if (stale.length === 0) continue;
      void this.onToken(entry, async () => {
        const still = stale.filter((origin) => (entry.grants.get(origin) ?? Infinity) <= cutoff);
        this.endGrants(entry, still, "idle");
        if (entry.grants.size === 0) this.logoutToken(entry);
      }).catch(() => undefined);
    }
  }

  private dropSession(entry: TokenEntry): void {
    if (entry.session) {
      try {
        entry.session.close();
      } catch {
        // Closing a session of a removed token fails; the handle is dead either way.
      }
    }
    entry.session = null;
    this.markLoggedOut(entry);
  }

  // ---------- internals: signing ----------

  private signingKey(entry: TokenEntry, record: CertificateRecord): SigningKey {
    const session = this.ensureSession(entry);
    // Looking the key up costs three PKCS#11 calls; a signing session reuses the handle.
    const key = entry.keys.get(record.ckaIdHex) ?? this.guard(() => findPrivateKey(session, record.ckaIdHex));
    if (!key) throw new YztError("NO_CERTIFICATE", "the certificate has no private key on the token");
    entry.keys.set(record.ckaIdHex, key);
    const algorithm = record.parsed.keyAlgorithm;
    if (algorithm === "SM2") throw new YztError("BAD_REQUEST", "SM2 certificates are not supported yet");
    // Removal and timeouts are handled by onToken(), which every caller of the primitive runs inside.
    const primitive: TokenPrimitive = (input) =>
      new Promise<Uint8Array>((resolve, reject) => {
        // graphene's createSign runs C_SignInit synchronously; C_Sign itself runs on a worker thread.
        const signer = this.guard(() => session.createSign(MECHANISM[algorithm], key));
        signer.once(Buffer.from(input), (error: Error | null, signature: Buffer) => {
          if (error) reject(mapPkcs11Error(error));
          else resolve(new Uint8Array(signature));
        });
      });
    return { keyAlgorithm: algorithm, certificate: record.parsed.der, primitive };
  }

  /**
   * Runs `task` in the token's queue, bounded by the operation timeout and by removal: it rejects
   * TOKEN_REMOVED as soon as the watcher sees the token go, even if the driver call itself hangs.
   */
  private onToken<T>(entry: TokenEntry, task: () => Promise<T>): Promise<T> {
    return this.queue.run(entry.serial, async () => {
      if (!entry.present) throw new YztError("TOKEN_REMOVED", `token ${entry.serial} was removed`, { tokenSerial: entry.serial });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new YztError("TIMEOUT", "the token did not answer in time")), this.operationTimeoutMs);
      });
      try {
        return await Promise.race([task(), entry.removal.promise, timeout]);
      } catch (error) {
        const mapped = mapPkcs11Error(error);
        if (mapped.code === "TOKEN_REMOVED") this.scan(false);
        throw mapped;
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /** Runs a synchronous PKCS#11 call, mapping its failure once. */
  private guard<T>(call: () => T): T {
    try {
      return call();
    } catch (error) {
      throw mapPkcs11Error(error);
    }
  }

  private async certificatesOf(entry: TokenEntry): Promise<CertificateRecord[]> {
    if (entry.certificates) return entry.certificates;
    // Loaded on first use: pkijs/asn1js cost start-up time and memory a host that only says hello never needs.
    const { parseCertificate } = await import("./certificate.js");
    const session = this.ensureSession(entry);
    const objects = this.guard(() => readCertificateObjects(session));
    const withKeys = this.guard(() => {
      const ids = keyIds(session, ObjectClass.PUBLIC_KEY);
      for (const id of keyIds(session, ObjectClass.PRIVATE_KEY)) ids.add(id);
      return ids;
    });
    const records: CertificateRecord[] = [];
    for (const object of objects) {
      if (!withKeys.has(object.ckaIdHex)) continue;
      try {
        records.push({ ckaIdHex: object.ckaIdHex, parsed: parseCertificate(object.der) });
      } catch (error) {
        this.logger.log("warn", "skipping unparsable certificate", { token: entry.serial, code: YztError.from(error).code });
      }
    }
    // Stable order (by CKA_ID): on 一证通 keys the signing certificate comes first.
    records.sort((a, b) => a.ckaIdHex.localeCompare(b.ckaIdHex));
    entry.certificates = records;
    return records;
  }

  // ---------- internals: modules and slot watching ----------

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
    for (let i = 0; i < 64; i++) {
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

  /** Compares present tokens with what we knew and emits insert/remove events. Never throws. */
  private scan(initial: boolean): void {
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

  private rescanModule(loaded: LoadedModule, afterEvent: boolean): void {
    const seen = new Map<string, { slot: Slot; label: string; manufacturer: string; model: string }>();
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
    for (const entry of this.tokens.values()) {
      if (entry.owner !== loaded || !entry.present) continue;
      const stillThere = seen.get(entry.serial);
      // A key pulled and reinserted between two polls keeps its serial but loses its sessions.
      if (!stillThere || (afterEvent && !this.sessionAlive(entry))) this.markRemoved(entry);
    }
    for (const [serial, found] of seen) {
      const entry = this.tokens.get(serial);
      if (entry?.present) continue;
      this.markInserted(serial, loaded, found);
    }
  }

  private sessionAlive(entry: TokenEntry): boolean {
    if (!entry.session) return true;
    try {
      entry.session.lib.C_GetSessionInfo(entry.session.handle);
      return true;
    } catch {
      return false;
    }
  }

  private markRemoved(entry: TokenEntry): void {
    entry.present = false;
    entry.certificates = null;
    const origins = [...entry.grants.keys()];
    entry.grants.clear();
    this.dropSession(entry);
    entry.removal.reject(new YztError("TOKEN_REMOVED", `token ${entry.serial} was removed`, { tokenSerial: entry.serial }));
    entry.removal = newRemoval();
    this.logger.log("info", "token removed", { token: entry.serial });
    this.emitEvent("tokenremoved", { tokenSerial: entry.serial });
    if (origins.length > 0) this.emitEvent("sessionended", { tokenSerial: entry.serial, origins, reason: "removed" });
    this.emitEvent("certificateschanged", { tokenSerial: entry.serial });
  }

  private markInserted(serial: string, owner: LoadedModule, found: { slot: Slot; label: string; manufacturer: string; model: string }): void {
    const previous = this.tokens.get(serial);
    const entry: TokenEntry = {
      serial, ...found, owner, present: true, session: null, loggedIn: false, grants: new Map(),
      failures: previous?.failures ?? null, certificates: null, keys: new Map(), removal: previous?.removal ?? newRemoval(),
    };
    // Without COUNT_LOW no wrong PIN was typed since the last good one, so counting can start at zero.
    if (entry.failures === null && !this.tokenInfo(entry).pin.countLow) entry.failures = 0;
    this.tokens.set(serial, entry);
    this.logger.log("info", "token inserted", { token: serial });
    this.emitEvent("tokeninserted", { tokenSerial: serial });
    this.emitEvent("certificateschanged", { tokenSerial: serial });
  }

  private tokenInfo(entry: TokenEntry): TokenInfo {
    let flags = 0;
    if (entry.present) {
      try {
        flags = entry.slot.getToken().flags;
      } catch {
        // Removed since the last poll; the watcher will report it.
      }
    }
    return {
      serial: entry.serial, label: entry.label, manufacturer: entry.manufacturer, model: entry.model,
      present: entry.present, loggedIn: entry.present && entry.loggedIn,
      pin: pinStateFrom(flags, this.pinMaxTries, entry.failures),
    };
  }

  private emitEvent(event: EventName, data: EventData): void {
    this.emit("event", { event, data });
  }
}
