/**
 * The host runs without V8's optimising compiler until curve arithmetic runs (native-host/support/v8-settings.ts).
 * Loading code must not count as running it: the host's and the drivers' key layers import the SM2 modules for
 * checks they seldom make, and a host told at its start kept TurboFan on for its whole life.
 */
import { describe, expect, it } from "vitest";
import { onHeavyCompute } from "../../crypto/heavy-compute.js";

describe("heavy compute", () => {
  it("is announced by the first curve multiplication, not by loading the host's, the drivers' or crypto's code", async () => {
    let told = 0;
    onHeavyCompute(() => told++);
    await import("../../native-host/host-main.js");
    await import("../../native-host/driver/child.js");
    await import("../../crypto/public-key.js");
    const { sm2PublicFromPrivate, sm2Sign, sm2Verify } = await import("../../crypto/sm2.js");
    expect(told).toBe(0);
    const privateKey = 0x3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8n;
    const e = Buffer.alloc(32, 7);
    expect(sm2Verify(sm2PublicFromPrivate(privateKey), e, sm2Sign(privateKey, e))).toBe(true);
    expect(told).toBe(1);
  });
});
