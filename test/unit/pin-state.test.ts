import { describe, expect, it } from "vitest";
import { pinStateOf } from "../../native-host/token/pin-state.js";
import { CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED, CKF_USER_PIN_TO_BE_CHANGED, pinStateFrom } from "../../native-host/token/pkcs11/pin-flags.js";

describe("PIN retry state from token flags", () => {
  it("reports the maximum when no wrong PIN was typed", () => {
    expect(pinStateFrom(0, 10, null)).toEqual({ retriesLeft: 10, countLow: false, finalTry: false, locked: false, mustChange: false });
  });
  it("subtracts the failures this host observed", () => {
    expect(pinStateFrom(CKF_USER_PIN_COUNT_LOW, 10, 3).retriesLeft).toBe(7);
  });
  it("says unknown when the token reports failures the host did not see", () => {
    expect(pinStateFrom(CKF_USER_PIN_COUNT_LOW, 10, null).retriesLeft).toBeNull();
  });
  it("knows exactly one try is left on FINAL_TRY and none when LOCKED", () => {
    expect(pinStateFrom(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY, 10, null)).toMatchObject({ retriesLeft: 1, finalTry: true });
    expect(pinStateFrom(CKF_USER_PIN_LOCKED, 10, 10)).toMatchObject({ retriesLeft: 0, locked: true });
  });
  it("says the PIN must be changed while it is the initial one (CKF_USER_PIN_TO_BE_CHANGED)", () => {
    expect(pinStateFrom(CKF_USER_PIN_TO_BE_CHANGED, 10, null)).toMatchObject({ mustChange: true, retriesLeft: 10, locked: false });
  });
});

describe("PIN state from an exact counter (SKF_GetPINInfo)", () => {
  it("takes the tries left as the key reports them, whatever this host counted", () => {
    const reading = { retriesLeft: 7, countLow: true, finalTry: false, locked: false, mustChange: false };
    expect(pinStateOf(reading, 10, null)).toMatchObject({ retriesLeft: 7, countLow: true });
    expect(pinStateOf(reading, 10, 1).retriesLeft).toBe(7);
  });
  it("reports a locked key as 0 tries left", () => {
    expect(pinStateOf({ retriesLeft: 0, countLow: true, finalTry: false, locked: true, mustChange: false }, 10, 3)).toMatchObject({ retriesLeft: 0, locked: true });
  });
});
