/**
 * The PIN state a page sees (TokenInfo.pin), from what the key's backend reports. An SKF key says exactly how
 * many tries are left; PKCS#11 only has flags (COUNT_LOW: a wrong PIN since the last good one, FINAL_TRY,
 * LOCKED). Knowing the key's maximum and counting the failures this host saw, the exact number can still be
 * given most of the time; otherwise null.
 */
import type { PinState } from "../../protocol/types.js";
import type { PinReading } from "./device.js";

/** Beijing 一证通 keys lock after 10 wrong PINs; configurable for other tokens. */
export const DEFAULT_PIN_MAX_TRIES = 10;

export function pinStateOf(reading: PinReading, maxTries: number, observedFailures: number | null): PinState {
  const { countLow, finalTry, locked, mustChange } = reading;
  let retriesLeft: number | null;
  if (locked) retriesLeft = 0;
  else if (reading.retriesLeft !== null) retriesLeft = reading.retriesLeft;
  else if (finalTry) retriesLeft = 1;
  else if (!countLow) retriesLeft = maxTries;
  else if (observedFailures !== null && observedFailures > 0 && observedFailures < maxTries) {
    retriesLeft = maxTries - observedFailures;
  } else retriesLeft = null;
  return { retriesLeft, countLow, finalTry, locked, mustChange };
}
