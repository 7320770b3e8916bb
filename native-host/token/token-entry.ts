/**
 * What the token layer knows about one key: the state every part of the layer shares (key watcher, session
 * table, operations). One entry per key serial lives in the service's registry for as long as the host runs,
 * so a key that comes back keeps its PIN-failure count. The key itself is reached through its KeyDevice,
 * whichever backend (PKCS#11 or SKF) serves it.
 */
import { YztError } from "../../protocol/errors.js";
import type { TokenInfo } from "../../protocol/types.js";
import type { EventData, EventName } from "../../protocol/messages.js";
import type { ParsedCertificate } from "../../crypto/certificate-view.js";
import type { KeyDevice, PinReading } from "./device.js";
import { pinStateOf } from "./pin-state.js";

export interface CertificateRecord {
  /** The device's id of the certificate's key pair (CKA_ID in hex for PKCS#11); part of the certificate id. */
  keyId: string;
  parsed: ParsedCertificate;
}

/** A promise that rejects when the token is pulled out; every operation on the token races it. */
export interface Removal {
  promise: Promise<never>;
  reject(error: YztError): void;
}

export interface TokenEntry {
  serial: string;
  device: KeyDevice;
  present: boolean;
  loggedIn: boolean;
  /** origin → time of last use (ms). */
  grants: Map<string, number>;
  /** Wrong PINs this host saw since the last good one; null when unknown (host started with COUNT_LOW set). */
  failures: number | null;
  /**
   * Wrong PINs in a row that legacy pages supplied (XTXApp SOF_Login). Past PAGE_PIN_ATTEMPTS the host stops
   * passing page PINs to the token, so no page script can lock the key; the extension's own dialog still can.
   */
  pageFailures: number;
  certificates: CertificateRecord[] | null;
  removal: Removal;
}

export interface ServiceEvent {
  event: EventName;
  data: EventData;
}

/** What the parts of the token layer share: the registry of tokens and the way out for events. */
export interface TokenContext {
  readonly tokens: Map<string, TokenEntry>;
  readonly pinMaxTries: number;
  now(): Date;
  emitEvent(event: EventName, data: EventData): void;
}

export function newRemoval(): Removal {
  let reject!: (error: YztError) => void;
  const promise = new Promise<never>((_, fail) => {
    reject = fail;
  });
  promise.catch(() => undefined);
  return { promise, reject };
}

export function tokenRemovedError(serial: string): YztError {
  return new YztError("TOKEN_REMOVED", `token ${serial} was removed`, { tokenSerial: serial });
}

const UNREADABLE_PIN: PinReading = { retriesLeft: null, countLow: false, finalTry: false, locked: false, mustChange: false };

export function tokenInfo(entry: TokenEntry, pinMaxTries: number): TokenInfo {
  let reading = UNREADABLE_PIN;
  if (entry.present) {
    try {
      reading = entry.device.pinReading();
    } catch {
      // Removed since the last poll; the watcher will report it.
    }
  }
  const { device } = entry;
  return {
    serial: entry.serial, label: device.label, manufacturer: device.manufacturer, model: device.model,
    present: entry.present, loggedIn: entry.present && entry.loggedIn,
    pin: pinStateOf(reading, pinMaxTries, entry.failures),
  };
}
