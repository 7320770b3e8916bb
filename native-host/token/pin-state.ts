/**
 * PIN retry state from the PKCS#11 token flags. PKCS#11 has no field for "tries left"; it only says
 * COUNT_LOW (a wrong PIN since the last good one), FINAL_TRY and LOCKED. Knowing the token's maximum and
 * counting the failures this host saw, the exact number can still be given most of the time; otherwise null.
 */
import type { PinState } from "../../protocol/types.js";

export const CKF_USER_PIN_COUNT_LOW = 0x10000;
export const CKF_USER_PIN_FINAL_TRY = 0x20000;
export const CKF_USER_PIN_LOCKED = 0x40000;
export const CKF_USER_PIN_TO_BE_CHANGED = 0x80000;

/** Beijing 一证通 keys lock after 10 wrong PINs; configurable for other tokens. */
export const DEFAULT_PIN_MAX_TRIES = 10;

export function pinStateFrom(tokenFlags: number, maxTries: number, observedFailures: number | null): PinState {
  const countLow = (tokenFlags & CKF_USER_PIN_COUNT_LOW) !== 0;
  const finalTry = (tokenFlags & CKF_USER_PIN_FINAL_TRY) !== 0;
  const locked = (tokenFlags & CKF_USER_PIN_LOCKED) !== 0;
  let retriesLeft: number | null;
  if (locked) retriesLeft = 0;
  else if (finalTry) retriesLeft = 1;
  else if (!countLow) retriesLeft = maxTries;
  else if (observedFailures !== null && observedFailures > 0 && observedFailures < maxTries) {
    retriesLeft = maxTries - observedFailures;
  } else retriesLeft = null;
  return { retriesLeft, countLow, finalTry, locked, mustChange: (tokenFlags & CKF_USER_PIN_TO_BE_CHANGED) !== 0 };
}
