/** The PKCS#11 token flags that describe the user PIN, read into the backend-neutral PinReading. */
import type { PinState } from "../../../protocol/types.js";
import type { AdminPinCounter, PinReading } from "../device.js";
import { pinStateOf } from "../pin-state.js";

export const CKF_USER_PIN_COUNT_LOW = 0x10000;
export const CKF_USER_PIN_FINAL_TRY = 0x20000;
export const CKF_USER_PIN_LOCKED = 0x40000;
export const CKF_USER_PIN_TO_BE_CHANGED = 0x80000;
export const CKF_SO_PIN_COUNT_LOW = 0x100000;
export const CKF_SO_PIN_FINAL_TRY = 0x200000;
export const CKF_SO_PIN_LOCKED = 0x400000;

export function pinReadingFromFlags(tokenFlags: number): PinReading {
  return {
    retriesLeft: null,
    countLow: (tokenFlags & CKF_USER_PIN_COUNT_LOW) !== 0,
    finalTry: (tokenFlags & CKF_USER_PIN_FINAL_TRY) !== 0,
    locked: (tokenFlags & CKF_USER_PIN_LOCKED) !== 0,
    mustChange: (tokenFlags & CKF_USER_PIN_TO_BE_CHANGED) !== 0,
  };
}

/** The administrator (SO) PIN's counter as PKCS#11 tells it: flags only, never a number. */
export function adminPinFromFlags(tokenFlags: number): AdminPinCounter {
  return {
    retriesLeft: null,
    finalTry: (tokenFlags & CKF_SO_PIN_FINAL_TRY) !== 0,
    locked: (tokenFlags & CKF_SO_PIN_LOCKED) !== 0,
    countLow: (tokenFlags & CKF_SO_PIN_COUNT_LOW) !== 0,
  };
}

/** The page's PinState straight from token flags (tests, and the CLI's view of a PKCS#11 key). */
export function pinStateFrom(tokenFlags: number, maxTries: number, observedFailures: number | null): PinState {
  return pinStateOf(pinReadingFromFlags(tokenFlags), maxTries, observedFailures);
}
