/**
 * The token layer: everything the host does with USB keys, behind one facade for the dispatcher and the CLI.
 * It may import crypto/ (certificates, CMS, encodings), support/ and the protocol contract; nothing in it
 * knows about framing or the browser.
 *
 * The parts, each in its own file:
 * - device.ts:       the seam: KeyLibrary / KeyDevice, implemented by the adapters pkcs11/ and skf/;
 * - key-watcher.ts:  loads libraries, polls their events, inserts and removes keys;
 * - sessions.ts:     one session per key, per-origin grants, PIN login, idle expiry;
 * - operations.ts:   list certificates, login, sign, change PIN, decrypt, unlock;
 * - token-queue.ts:  one operation at a time per key, racing removal and a timeout.
 * Adapters sign off the main thread (pkcs11js' asynchronous C_Sign, koffi's asynchronous calls), so a slow
 * USB key never blocks watching or other keys.
 */
import { EventEmitter } from "node:events";
import type { SignResult, TokenInfo, YztCertificate } from "../../protocol/types.js";
import type { EventData, EventName, LoginResult } from "../../protocol/messages.js";
import { silentLogger, type Logger } from "../support/log.js";
import type { KeyLibrary, LibraryCandidate, LibraryLoader } from "./device.js";
import { TokenOperations, type CertificateSnapshot, type SignParams } from "./operations.js";
import { DEFAULT_PIN_MAX_TRIES } from "./pin-state.js";
import { SessionTable } from "./sessions.js";
import { KeyWatcher } from "./key-watcher.js";
import { tokenInfo, type ServiceEvent, type TokenContext, type TokenEntry } from "./token-entry.js";
import { TokenQueue } from "./token-queue.js";
import type { KeyLifecycle } from "./key-lifecycle.js";

export type { ServiceEvent } from "./token-entry.js";

export interface TokenServiceOptions {
  /** Grants unused for this long end; when none is left the token is logged out. */
  idleTimeoutMs?: number;
  /** Slot polling period; removal is seen within this (DESIGN.md: ≤ 200 ms). */
  pollIntervalMs?: number;
  /** Upper bound for one token operation (a key waiting for a button press, a wedged driver). */
  operationTimeoutMs?: number;
  pinMaxTries?: number;
  /** How long a request waits for libraries whose driver has not answered its first look yet. */
  firstAnswerWaitMs?: number;
  now?: () => Date;
  logger?: Logger;
}

/** A PIN counter read through a driver that is slow to answer is shown as last read. */
const PIN_REFRESH_WAIT_MS = 1_000;

function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise.then(() => undefined, () => undefined), limit]).finally(() => clearTimeout(timer));
}

export class TokenService extends EventEmitter<{ event: [ServiceEvent] }> {
  private readonly tokens = new Map<string, TokenEntry>();
  private readonly context: TokenContext;
  private readonly sessions: SessionTable;
  private readonly watcher: KeyWatcher;
  private readonly operations: TokenOperations;
  private readonly queue: TokenQueue;
  private readonly logger: Logger;
  private keyLifecycle: KeyLifecycle | null = null;
  private readonly pollIntervalMs: number;
  private readonly firstAnswerWaitMs: number;

  constructor(private candidates: LibraryCandidate[], loadLibrary: LibraryLoader, options: TokenServiceOptions = {}) {
    super();
    const now = options.now ?? (() => new Date());
    const logger = options.logger ?? silentLogger;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.firstAnswerWaitMs = options.firstAnswerWaitMs ?? 3_000;
    this.context = {
      tokens: this.tokens,
      pinMaxTries: options.pinMaxTries ?? DEFAULT_PIN_MAX_TRIES,
      now,
      emitEvent: (event: EventName, data: EventData) => this.emit("event", { event, data }),
    };
    // A backstop above the driver's own 120 s limit on a vendor call, whose error names the call.
    const queue = new TokenQueue(options.operationTimeoutMs ?? 125_000, () => this.watcher.scan(false));
    this.queue = queue;
    this.logger = logger;
    this.sessions = new SessionTable(this.context, queue, options.idleTimeoutMs ?? 30 * 60 * 1000);
    this.watcher = new KeyWatcher(this.context, this.sessions, loadLibrary, logger, this.firstAnswerWaitMs);
    this.operations = new TokenOperations(this.context, this.sessions, queue, logger);
  }

  /** Every library the host tried to load, with its error where it failed. */
  get libraries(): KeyLibrary[] {
    return this.watcher.libraries;
  }

  /** Which library serves a key (a key two libraries reach is served by one). */
  servingLibrary(serial: string): LibraryCandidate | undefined {
    return this.tokens.get(serial)?.device.library.candidate;
  }

  /** Why a loaded library failed its last look for keys (a faulty driver); undefined while it works. */
  scanProblem(library: KeyLibrary): string | undefined {
    return this.watcher.scanProblems.get(library);
  }

  /** Loads the libraries and takes the first look at their keys; `watch` starts polling and idle expiry. */
  start(watch = true): void {
    this.watcher.load(this.candidates);
    if (watch) {
      this.watcher.startPolling(this.pollIntervalMs);
      this.sessions.startIdleSweep();
    }
  }

  get idleTimeout(): number {
    return this.sessions.idleTimeout;
  }

  setIdleTimeout(ms: number): void {
    this.sessions.setIdleTimeout(ms);
  }

  /** Logs out, closes sessions and finalizes every library; resolves once every driver has ended. */
  close(): Promise<void> {
    this.sessions.stopIdleSweep();
    for (const entry of this.tokens.values()) this.sessions.dropSession(entry);
    this.tokens.clear();
    return this.watcher.close();
  }

  /** Repair: forget every session and library handle, rediscover, load again. */
  async reload(candidates?: LibraryCandidate[]): Promise<void> {
    const watching = this.watcher.watching;
    for (const entry of this.tokens.values()) {
      if (entry.present) this.watcher.markRemoved(entry);
    }
    await this.close();
    if (candidates) this.candidates = candidates;
    this.start(watching);
  }

  /**
   * Waits (until `waitMs` after the start) for libraries whose driver has not answered its first look, then looks:
   * a request right after start finds the keys, and one library that never answers holds nothing up for long.
   */
  async librariesAnswered(waitMs = this.firstAnswerWaitMs): Promise<void> {
    // Counted from the start: once it has passed, a library that never answered holds no request up.
    const leftMs = this.watcher.loadedAt + waitMs - Date.now();
    const starting = this.watcher.libraries.filter((library) => library.settled && library.health?.state === "starting");
    if (starting.length > 0 && leftMs > 0) await within(Promise.all(starting.map((library) => library.settled!())), leftMs);
    this.watcher.scan(false);
  }

  async listTokens(): Promise<TokenInfo[]> {
    await this.librariesAnswered();
    const present = [...this.tokens.values()].filter((entry) => entry.present && entry.device.refresh);
    await within(Promise.all(present.map((entry) => entry.device.refresh!())), PIN_REFRESH_WAIT_MS);
    return [...this.tokens.values()].map((entry) => tokenInfo(entry, this.context.pinMaxTries));
  }

  async listCertificates(filter: { purpose?: "sign" | "encrypt"; tokenSerial?: string } = {}): Promise<YztCertificate[]> {
    await this.librariesAnswered();
    return this.operations.listCertificates(filter);
  }

  hasGrant(origin: string, tokenSerial: string): boolean {
    return this.sessions.hasGrant(origin, tokenSerial);
  }

  /** Module/token/certificate facts for diagnostics, without touching any PIN. */
  async snapshot(): Promise<{ tokens: TokenInfo[]; certificates: CertificateSnapshot[] }> {
    const tokens = await this.listTokens();
    return { tokens, certificates: await this.operations.certificateSnapshots() };
  }

  async login(params: Parameters<TokenOperations["login"]>[0]): Promise<LoginResult> {
    await this.librariesAnswered();
    return this.operations.login(params);
  }

  async sign(params: SignParams): Promise<SignResult> {
    await this.librariesAnswered();
    return this.operations.sign(params);
  }

  logout(params: { origin?: string; tokenSerial?: string } = {}): Promise<{ loggedOut: string[] }> {
    return this.sessions.logout(params);
  }

  changePin(params: Parameters<TokenOperations["changePin"]>[0]): Promise<{ changed: true }> {
    return this.operations.changePin(params);
  }

  decrypt(params: Parameters<TokenOperations["decrypt"]>[0]): Promise<{ data: string }> {
    return this.operations.decrypt(params);
  }

  unlock(params: Parameters<TokenOperations["unlock"]>[0]): Promise<{ unlocked: true }> {
    return this.operations.unlock(params);
  }

  /** The certificate's life cycle (issuer sites): loaded on first use, as no tax-hall page needs it. */
  async lifecycle(): Promise<KeyLifecycle> {
    if (!this.keyLifecycle) {
      const { KeyLifecycle } = await import("./key-lifecycle.js");
      this.keyLifecycle ??= new KeyLifecycle(this.context, this.sessions, this.queue, this.logger);
    }
    await this.librariesAnswered();
    return this.keyLifecycle;
  }

  signXml(params: Parameters<TokenOperations["signXml"]>[0]): Promise<{ xml: string }> {
    return this.operations.signXml(params);
  }
}
