/**
 * The virtual token behaves like a real USB key: it passes pkcs11-tool's self test, can be pulled out
 * (sessions die, slots empty, events fire), locks its PIN after 10 wrong tries, and can be slow.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Module, ObjectClass, SessionFlag, UserType, type Session } from "graphene-pk11";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CKR, pkcs11CodeOf } from "../../native-host/token/pkcs11/errors.js";
import { CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED } from "../../native-host/token/pkcs11/pin-flags.js";
import { smCryptoVerifiesSm2Certificate } from "../support/independent-verify.js";
import { cloneVirtualToken, type VirtualToken } from "../support/virtual-token.js";
import { insertToken, removeToken, setLatency, untilBusy } from "../virtual-token/state.js";

let vtoken: VirtualToken;
let module: Module;
const PIN = "12345678";

function codeOf(action: () => unknown): number | null {
  try {
    action();
    return null;
  } catch (error) {
    return pkcs11CodeOf(error);
  }
}

function demoSlot() {
  const slots = module.getSlots(true);
  for (let i = 0; i < slots.length; i++) {
    const slot = slots.items(i);
    if (slot.getToken().serialNumber === "YZT0000000000001") return slot;
  }
  return null;
}

function openDemo(): Session {
  const slot = demoSlot();
  if (!slot) throw new Error("demo token not present");
  return slot.open(SessionFlag.SERIAL_SESSION);
}

beforeAll(async () => {
  vtoken = await cloneVirtualToken();
  process.env.YZT_VTOKEN_HOME = vtoken.home;
  module = Module.load(vtoken.module);
  module.initialize({ flags: 2 });
});

afterAll(() => {
  module?.finalize();
  vtoken?.dispose();
});

describe("virtual token", () => {
  it("passes pkcs11-tool --test with a login", () => {
    const output = execFileSync("pkcs11-tool", ["--module", vtoken.module, "--token-label", "BJ-YZT DEMO", "--test", "--login", "--pin", PIN], {
      env: { ...process.env, ...vtoken.env },
      encoding: "utf8",
    });
    expect(output).toContain("No errors");
  });

  it("shows only the inserted demo key, with its fixed serial and the virtual-token manufacturer", () => {
    const present = module.getSlots(true);
    expect(present.length).toBe(1);
    const token = present.items(0).getToken();
    expect(token).toMatchObject({ serialNumber: "YZT0000000000001", label: "BJ-YZT DEMO", manufacturerID: "yzt-bridge virtual token" });
    // demo, ec, expired, rsa, mixed, expiring, and the template's office keys (pulled out: office01, office02)
    expect(vtoken.manifest.tokens.map((t) => t.alias)).toEqual(["demo", "ec", "expired", "rsa", "mixed", "expiring", "office01", "office02"]);
    expect(module.getSlots(false).length).toBe(8);
  });

  it("holds a signing and an encryption certificate with key pairs under the same CKA_ID", () => {
    const session = openDemo();
    const certs = session.find({ class: ObjectClass.CERTIFICATE });
    const publicKeys = session.find({ class: ObjectClass.PUBLIC_KEY });
    const ids = (collection: typeof certs) => Array.from({ length: collection.length }, (_, i) => (collection.items(i).getAttribute({ id: null }).id as Buffer).toString("hex")).sort();
    expect(ids(certs)).toEqual(["0101", "0202"]);
    expect(ids(publicKeys)).toEqual(["0101", "0202"]);
    session.close();
  });

  it("issues SM2 certificates (demo key) that chain to the SM2 demo root, checked by sm-crypto", () => {
    const leaf = vtoken.manifest.tokens.find((t) => t.alias === "demo")!.certificates[0]!.pem;
    const intermediate = readFileSync(vtoken.manifest.pki.sm2Intermediate, "utf8");
    const root = readFileSync(vtoken.manifest.pki.sm2Root, "utf8");
    expect(smCryptoVerifiesSm2Certificate(leaf, intermediate)).toBe(true);
    expect(smCryptoVerifiesSm2Certificate(intermediate, root)).toBe(true);
    expect(smCryptoVerifiesSm2Certificate(root, root)).toBe(true);
    expect(smCryptoVerifiesSm2Certificate(leaf, root)).toBe(false); // signed by the sub CA, not the root
  });

  it("issues RSA certificates that chain to the RSA demo root, checked by OpenSSL", () => {
    const work = mkdtempSync(join(tmpdir(), "yzt-vt-"));
    try {
      const leaf = join(work, "leaf.pem");
      writeFileSync(leaf, vtoken.manifest.tokens.find((t) => t.alias === "rsa")!.certificates[0]!.pem);
      const out = execFileSync("openssl", ["verify", "-CAfile", vtoken.manifest.pki.root, "-untrusted", vtoken.manifest.pki.intermediate, leaf], { encoding: "utf8" });
      expect(out).toContain("OK");
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it("kills a logged-in session when pulled out, reports the event, and needs a new login after reinsertion", () => {
    while (module.lib.C_WaitForSlotEvent(1) !== null) {
      // drain earlier events
    }
    const session = openDemo();
    session.login(PIN, UserType.USER);
    removeToken(vtoken.home, "demo");
    expect(codeOf(() => session.find({ class: ObjectClass.PRIVATE_KEY }))).toBe(CKR.DEVICE_REMOVED);
    expect(module.getSlots(true).length).toBe(0);
    expect(module.lib.C_WaitForSlotEvent(1)).not.toBeNull();
    expect(module.lib.C_WaitForSlotEvent(1)).toBeNull();
    insertToken(vtoken.home, "demo");
    expect(module.lib.C_WaitForSlotEvent(1)).not.toBeNull();
    expect(codeOf(() => session.find({ class: ObjectClass.PRIVATE_KEY }))).toBe(CKR.SESSION_HANDLE_INVALID);
    const fresh = openDemo();
    expect(fresh.find({ class: ObjectClass.PRIVATE_KEY }).length).toBe(0);
    fresh.login(PIN, UserType.USER);
    expect(fresh.find({ class: ObjectClass.PRIVATE_KEY }).length).toBe(2);
    fresh.logout();
    fresh.close();
  });

  it("counts wrong PINs persistently, locks after 10 and unlocks by SO + InitPIN", () => {
    const flags = () => demoSlot()!.getToken().flags;
    const session = openDemo();
    expect(codeOf(() => session.login("00000000", UserType.USER))).toBe(CKR.PIN_INCORRECT);
    expect(flags() & CKF_USER_PIN_COUNT_LOW).toBeTruthy();
    for (let i = 2; i <= 9; i++) expect(codeOf(() => session.login("00000000", UserType.USER))).toBe(CKR.PIN_INCORRECT);
    expect(flags() & CKF_USER_PIN_FINAL_TRY).toBeTruthy();
    expect(codeOf(() => session.login("00000000", UserType.USER))).toBe(CKR.PIN_LOCKED);
    expect(flags() & CKF_USER_PIN_LOCKED).toBeTruthy();
    expect(codeOf(() => session.login(PIN, UserType.USER))).toBe(CKR.PIN_LOCKED);
    session.close();
    vtoken.unlock("demo");
    const after = openDemo();
    expect(flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED)).toBe(0);
    after.login(PIN, UserType.USER);
    after.logout();
    after.close();
  });

  it("gives up a slow signature with CKR_DEVICE_REMOVED within a second of removal", async () => {
    const session = openDemo();
    session.login(PIN, UserType.USER);
    const key = session.find({ class: ObjectClass.PRIVATE_KEY, id: Buffer.from("0101", "hex") }).items(0).toType();
    const latencyMs = 20_000;
    setLatency(vtoken.home, "demo", latencyMs);
    const result = new Promise<number | null>((resolve) => {
      session.createSign("SHA256_RSA_PKCS", key as never).once(Buffer.from("data"), (error: Error | null) => resolve(error ? pkcs11CodeOf(error) : null));
    });
    await untilBusy(vtoken.home, "demo");
    const pulledAt = Date.now();
    removeToken(vtoken.home, "demo");
    expect(await result).toBe(CKR.DEVICE_REMOVED);
    // Cut short by the removal, not waited out.
    expect(Date.now() - pulledAt).toBeLessThan(latencyMs);
    setLatency(vtoken.home, "demo", 0);
    insertToken(vtoken.home, "demo");
  });
});
