/**
 * SM2 on the virtual token, as Chinese vendor PKCS#11 libraries expose it: vendor key type and mechanisms,
 * signatures as r‖s checked by the OpenSSL 3 CLI (never by Node: crypto.sign on SM2 keys is plain ECDSA),
 * private keys usable only after login and never readable, removal and PIN locking as for other keys.
 * Uses its own small token: one vendor-typed SM2 key, one CKK_EC key on the SM2 curve, an RSA and a P-256 key.
 */
import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyType, Module, ObjectClass, SessionFlag, UserType, type Session, type SessionObject, type Slot } from "graphene-pk11";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildShim } from "../virtual-token/build.js";
import {
  CKK_VTOKEN_SM2, CKM_VTOKEN_SM2, CKM_VTOKEN_SM2_SM3, generateSm2KeyPair, importSm2KeyPair, SM2_CURVE_OID_DER, SM2_DEFAULT_ID,
  type Sm2ImportResult,
} from "../virtual-token/sm2-import.js";

const PIN = "12345678";
const SO_PIN = "87654321";
const LABEL = "BJ-YZT SM2";
const SERIAL = "YZT00000000SM201";
const VENDOR_ID = "0101";
const EC_ID = "0202";

// PKCS#11 return values used below.
const CKR_ATTRIBUTE_SENSITIVE = 0x11;
const CKR_DATA_LEN_RANGE = 0x21;
const CKR_DEVICE_REMOVED = 0x32;
const CKR_KEY_TYPE_INCONSISTENT = 0x63;
const CKR_KEY_UNEXTRACTABLE = 0x6a;
const CKR_OBJECT_HANDLE_INVALID = 0x82;
const CKR_PIN_INCORRECT = 0xa0;
const CKR_PIN_LOCKED = 0xa4;
const CKR_SESSION_HANDLE_INVALID = 0xb3;
const CKR_USER_NOT_LOGGED_IN = 0x101;
const CKR_BUFFER_TOO_SMALL = 0x150;
const CKA_EC_PARAMS = 0x180;
const CKM_ECDSA = 0x1041;
const CKM_AES_KEY_WRAP = 0x2109;

let home: string;
let work: string;
let shimPath: string;
let env: NodeJS.ProcessEnv;
let module: Module;
const keys: { vendor?: Sm2ImportResult; ec?: Sm2ImportResult } = {};

function codeOf(action: () => unknown): number | null {
  try {
    action();
    return null;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "number" ? code : -1;
  }
}

// ---------- SM2 arithmetic the test does itself, independent of the shim ----------

const SM2_CURVE = {
  a: "fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc",
  b: "28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93",
  gx: "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7",
  gy: "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0",
};

/** Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA), GM/T 0003.2 §5.5. */
function sm2Z(point: Buffer, id: Buffer): Buffer {
  const entl = Buffer.alloc(2);
  entl.writeUInt16BE(id.length * 8);
  const curve = Buffer.from(SM2_CURVE.a + SM2_CURVE.b + SM2_CURVE.gx + SM2_CURVE.gy, "hex");
  return createHash("sm3").update(Buffer.concat([entl, id, curve, point.subarray(1)])).digest();
}

function sm2E(point: Buffer, id: Buffer, message: Buffer): Buffer {
  return createHash("sm3").update(Buffer.concat([sm2Z(point, id), message])).digest();
}

/** r‖s → DER ECDSA-Sig-Value, what OpenSSL verifies. */
function rsToDer(rs: Buffer): Buffer {
  const integer = (bytes: Buffer) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    const body = bytes[i]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes.subarray(i)]) : bytes.subarray(i);
    return Buffer.concat([Buffer.from([0x02, body.length]), body]);
  };
  const body = Buffer.concat([integer(rs.subarray(0, 32)), integer(rs.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

let verifications = 0;
/** Verifies with the OpenSSL 3 CLI (SM2 with SM3 and the given distinguishing ID). */
function opensslVerifies(publicKeyPem: string, message: Buffer, rs: Buffer, id: string = SM2_DEFAULT_ID): boolean {
  const n = verifications++;
  const [pub, msg, sig] = ["pub.pem", "msg.bin", "sig.der"].map((name) => join(work, `${n}-${name}`)) as [string, string, string];
  writeFileSync(pub, publicKeyPem);
  writeFileSync(msg, message);
  writeFileSync(sig, rsToDer(rs));
  try {
    execFileSync("openssl", ["pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", pub, "-in", msg, "-sigfile", sig, "-pkeyopt", `distid:${id}`], {
      stdio: "pipe",
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * pkcs11js sizes attributes before reading them, so from Node one cannot see whether the shim lets SoftHSM
 * write the private scalar into the caller's CKA_VALUE buffer before answering "sensitive". This C probe can:
 * it offers a filled buffer for each private key and reports what came back.
 */
const VALUE_PROBE_C = String.raw`
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <p11-kit/pkcs11.h>
int main(int argc, char **argv) {
  void *lib = dlopen(argv[1], RTLD_NOW);
  CK_C_GetFunctionList get = lib ? (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList") : NULL;
  CK_FUNCTION_LIST_PTR f;
  if (!get || get(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK) return 2;
  CK_SLOT_ID slot;
  CK_ULONG n = 1;
  CK_SESSION_HANDLE h;
  if (f->C_GetSlotList(CK_TRUE, &slot, &n) != CKR_OK || n != 1 || f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK) return 3;
  if (f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)argv[2], strlen(argv[2])) != CKR_OK) return 4;
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE find = {CKA_CLASS, &cls, sizeof cls};
  CK_OBJECT_HANDLE keys[8];
  CK_ULONG count = 0;
  f->C_FindObjectsInit(h, &find, 1);
  f->C_FindObjects(h, keys, 8, &count);
  f->C_FindObjectsFinal(h);
  for (CK_ULONG i = 0; i < count; i++) {
    CK_BYTE id[8] = {0}, value[512];
    memset(value, 0xA5, sizeof value);
    CK_ATTRIBUTE attrs[] = {{CKA_ID, id, sizeof id}, {CKA_VALUE, value, sizeof value}};
    CK_RV rv = f->C_GetAttributeValue(h, keys[i], attrs, 2);
    int untouched = 1;
    for (size_t j = 0; j < sizeof value; j++) untouched &= value[j] == 0xA5;
    printf("%02x%02x rv=%lu unavailable=%d untouched=%d\n", id[0], id[1], rv, attrs[1].ulValueLen == CK_UNAVAILABLE_INFORMATION, untouched);
  }
  f->C_Finalize(NULL);
  return 0;
}
`;

// ---------- token access ----------

function tokenSlot(): Slot | null {
  const slots = module.getSlots(true);
  for (let i = 0; i < slots.length; i++) if (slots.items(i).getToken().serialNumber === SERIAL) return slots.items(i);
  return null;
}

function openSession(): Session {
  const slot = tokenSlot();
  if (!slot) throw new Error("SM2 test token not present");
  return slot.open(SessionFlag.SERIAL_SESSION | SessionFlag.RW_SESSION);
}

/** Runs fn in a fresh read-write session (logged in as the user if asked), closed afterwards whatever happens:
 * closing the last session also logs out, so one failing test does not leave the next one logged in. */
function withSession<T>(login: boolean, fn: (session: Session) => T): T {
  const session = openSession();
  try {
    if (login) session.login(PIN, UserType.USER);
    return fn(session);
  } finally {
    module.lib.C_CloseAllSessions(tokenSlot()?.handle ?? session.slot.handle);
  }
}

function findOne(session: Session, template: Record<string, unknown>): SessionObject {
  const found = session.find(template as never);
  expect(found.length).toBe(1);
  return found.items(0);
}

function privateKey(session: Session, ckaId: string): SessionObject {
  return findOne(session, { class: ObjectClass.PRIVATE_KEY, id: Buffer.from(ckaId, "hex") });
}

function sign(session: Session, key: SessionObject, mechanism: number, data: Buffer, parameter?: Buffer): Buffer {
  module.lib.C_SignInit(session.handle, parameter ? { mechanism, parameter } : { mechanism }, key.handle);
  return module.lib.C_Sign(session.handle, data, Buffer.alloc(64));
}

function removedFile(): string {
  return join(home, "state", SERIAL, "removed");
}

function setRemoved(removed: boolean): void {
  mkdirSync(join(home, "state", SERIAL), { recursive: true });
  if (removed) writeFileSync(removedFile(), "");
  else rmSync(removedFile(), { force: true });
}

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "yzt-vtoken-sm2-"));
  work = join(home, "work");
  mkdirSync(join(home, "tokens"), { recursive: true });
  mkdirSync(work);
  shimPath = buildShim(home);
  const conf = join(home, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${join(home, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = true\n`);
  env = { ...process.env, SOFTHSM2_CONF: conf, YZT_VTOKEN_HOME: home };
  const run = (command: string, args: string[]) => execFileSync(command, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

  run("softhsm2-util", ["--init-token", "--free", "--label", LABEL, "--pin", PIN, "--so-pin", SO_PIN]);
  const softhsmSerial = /Serial number:\s*(\S+)/.exec(run("softhsm2-util", ["--show-slots"]).split(/\n(?=Slot )/).find((b) => b.includes(LABEL))!)![1];
  writeFileSync(join(home, "serial-map"), `${softhsmSerial} ${SERIAL}\n`);

  // An RSA key the way provisioning imports them, so pkcs11-tool --test has its usual company.
  const rsaFile = join(work, "rsa.key.pem");
  writeFileSync(rsaFile, generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  run("softhsm2-util", ["--import", rsaFile, "--token", LABEL, "--label", "rsa", "--id", "0303", "--pin", PIN]);
  // And a P-256 key: ECDSA must keep working on EC keys that are not SM2.
  const p256File = join(work, "p256.key.pem");
  writeFileSync(p256File, generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  run("softhsm2-util", ["--import", p256File, "--token", LABEL, "--label", "p256", "--id", "0404", "--pin", PIN]);

  keys.vendor = importSm2KeyPair(shimPath, home, LABEL, PIN, { ckaId: VENDOR_ID, label: "sm2-vendor", key: generateSm2KeyPair().privateKey, vendorKeyType: true });
  keys.ec = importSm2KeyPair(shimPath, home, LABEL, PIN, { ckaId: EC_ID, label: "sm2-ec", key: generateSm2KeyPair().privateKey, vendorKeyType: false });

  process.env.YZT_VTOKEN_HOME = home;
  module = Module.load(shimPath);
  module.initialize({ flags: 2 });
});

afterAll(() => {
  try {
    module?.finalize();
  } finally {
    if (home) rmSync(home, { recursive: true, force: true });
  }
});

describe("SM2 on the virtual token", () => {
  it("lists the two vendor SM2 mechanisms for signing with 256-bit keys", () => {
    const slot = tokenSlot()!.handle;
    const mechanisms = module.lib.C_GetMechanismList(slot);
    expect(mechanisms).toContain(CKM_VTOKEN_SM2);
    expect(mechanisms).toContain(CKM_VTOKEN_SM2_SM3);
    expect(mechanisms).toContain(CKM_ECDSA); // SoftHSM's own are still there
    for (const mechanism of [CKM_VTOKEN_SM2, CKM_VTOKEN_SM2_SM3]) {
      expect(module.lib.C_GetMechanismInfo(slot, mechanism)).toMatchObject({ minKeySize: 256, maxKeySize: 256 });
    }
  });

  it("keeps SM2 private keys invisible and unusable before login", () => {
    withSession(false, (session) => {
      expect(session.find({ class: ObjectClass.PRIVATE_KEY }).length).toBe(0);
      expect(session.find({ class: ObjectClass.PUBLIC_KEY }).length).toBe(4);
      session.login(PIN, UserType.USER);
      const key = privateKey(session, VENDOR_ID);
      session.logout();
      const code = codeOf(() => module.lib.C_SignInit(session.handle, { mechanism: CKM_VTOKEN_SM2_SM3 }, key.handle));
      expect([CKR_USER_NOT_LOGGED_IN, CKR_OBJECT_HANDLE_INVALID]).toContain(code);
    });
  });

  it("reports key types, refuses CKA_VALUE and claims sensitive, unextractable private keys", () => {
    withSession(true, (session) => {
      for (const [ckaId, keyType] of [[VENDOR_ID, CKK_VTOKEN_SM2], [EC_ID, KeyType.EC]] as const) {
        const key = privateKey(session, ckaId);
        expect(key.getAttribute({ keyType: null, sensitive: null, extractable: null, alwaysSensitive: null, neverExtractable: null })).toEqual({
          keyType, sensitive: true, extractable: false, alwaysSensitive: true, neverExtractable: true,
        });
        const [curve] = module.lib.C_GetAttributeValue(session.handle, key.handle, [{ type: CKA_EC_PARAMS }]);
        expect(curve!.value).toEqual(SM2_CURVE_OID_DER);
        expect(codeOf(() => key.getAttribute({ value: null }))).toBe(CKR_ATTRIBUTE_SENSITIVE);
        const publicKey = findOne(session, { class: ObjectClass.PUBLIC_KEY, id: Buffer.from(ckaId, "hex") });
        expect(publicKey.getAttribute({ keyType: null }).keyType).toBe(keyType);
      }
      // Searching by key type finds each kind of key under the type it reports.
      const ids = (template: Record<string, unknown>) => {
        const found = session.find(template as never);
        return Array.from({ length: found.length }, (_, i) => (found.items(i).getAttribute({ id: null }).id as Buffer).toString("hex")).sort();
      };
      expect(ids({ keyType: CKK_VTOKEN_SM2 })).toEqual([VENDOR_ID, VENDOR_ID]);
      expect(ids({ class: ObjectClass.PRIVATE_KEY, keyType: CKK_VTOKEN_SM2 })).toEqual([VENDOR_ID]);
      expect(ids({ class: ObjectClass.PRIVATE_KEY, keyType: KeyType.EC })).toEqual([EC_ID, "0404"]);
      expect(ids({ class: ObjectClass.PRIVATE_KEY })).toEqual([VENDOR_ID, EC_ID, "0303", "0404"]);
      // Nor can the scalar leave by wrapping.
      const wrapping = session.generateKey("AES_KEY_GEN", { class: ObjectClass.SECRET_KEY, keyType: KeyType.AES, valueLen: 32, wrap: true, token: false });
      expect(
        codeOf(() => module.lib.C_WrapKey(session.handle, { mechanism: CKM_AES_KEY_WRAP }, wrapping.handle, privateKey(session, EC_ID).handle, Buffer.alloc(256))),
      ).toBe(CKR_KEY_UNEXTRACTABLE);
    });
  });

  it("never writes the private scalar into a caller's CKA_VALUE buffer (C probe)", () => {
    const source = join(work, "value-probe.c");
    const probe = join(work, "value-probe");
    writeFileSync(source, VALUE_PROBE_C);
    execFileSync("cc", ["-I/usr/include/p11-kit-1", "-o", probe, source, "-ldl"], { stdio: "pipe" });
    const lines = execFileSync(probe, [shimPath, PIN], { env, encoding: "utf8" }).trim().split("\n").sort();
    const sensitive = `rv=${CKR_ATTRIBUTE_SENSITIVE} unavailable=1 untouched=1`;
    // (The RSA and P-256 keys are SoftHSM's own business: it answers for them.)
    expect(lines.filter((line) => line.startsWith(VENDOR_ID) || line.startsWith(EC_ID))).toEqual([`${VENDOR_ID} ${sensitive}`, `${EC_ID} ${sensitive}`]);
  });

  it("signs e with CKM_VTOKEN_SM2 and messages with CKM_VTOKEN_SM2_SM3, verified by OpenSSL", () => {
    withSession(true, (session) => {
      const message = Buffer.from("增值税发票 2024-0001: 1234.56 元");
      const tampered = Buffer.from("增值税发票 2024-0001: 9234.56 元");
      for (const [ckaId, result] of [[VENDOR_ID, keys.vendor!], [EC_ID, keys.ec!]] as const) {
        const key = privateKey(session, ckaId);
        const pem = result.publicKeyPem;

        // e-mechanism: the caller computes e = SM3(Z‖M) with the default ID.
        const fromE = sign(session, key, CKM_VTOKEN_SM2, sm2E(result.point, Buffer.from(SM2_DEFAULT_ID), message));
        expect(fromE.length).toBe(64);
        expect(opensslVerifies(pem, message, fromE)).toBe(true);
        expect(opensslVerifies(pem, tampered, fromE)).toBe(false);

        // Message mechanism, single part, default ID (no parameter).
        const single = sign(session, key, CKM_VTOKEN_SM2_SM3, message);
        expect(single.length).toBe(64);
        expect(opensslVerifies(pem, message, single)).toBe(true);
        expect(opensslVerifies(pem, tampered, single)).toBe(false);
        expect(opensslVerifies(pem, message, single, "8765432187654321")).toBe(false);

        // Message mechanism, multi-part, custom ID.
        const id = "zhangsan@example.cn";
        module.lib.C_SignInit(session.handle, { mechanism: CKM_VTOKEN_SM2_SM3, parameter: Buffer.from(id) }, key.handle);
        module.lib.C_SignUpdate(session.handle, message.subarray(0, 7));
        module.lib.C_SignUpdate(session.handle, message.subarray(7));
        const multi = module.lib.C_SignFinal(session.handle, Buffer.alloc(64));
        expect(opensslVerifies(pem, message, multi, id)).toBe(true);
        expect(opensslVerifies(pem, message, multi)).toBe(false);
      }
      // A signature by one key does not verify under the other.
      const other = sign(session, privateKey(session, VENDOR_ID), CKM_VTOKEN_SM2_SM3, message);
      expect(opensslVerifies(keys.ec!.publicKeyPem, message, other)).toBe(false);
    });
  });

  it("follows PKCS#11 conventions: short buffers keep the operation, bad e lengths and wrong key types are refused", () => {
    withSession(true, (session) => {
      const key = privateKey(session, VENDOR_ID);
      const message = Buffer.from("two calls");
      module.lib.C_SignInit(session.handle, { mechanism: CKM_VTOKEN_SM2_SM3 }, key.handle);
      expect(codeOf(() => module.lib.C_Sign(session.handle, message, Buffer.alloc(10)))).toBe(CKR_BUFFER_TOO_SMALL);
      expect(opensslVerifies(keys.vendor!.publicKeyPem, message, module.lib.C_Sign(session.handle, message, Buffer.alloc(64)))).toBe(true);

      module.lib.C_SignInit(session.handle, { mechanism: CKM_VTOKEN_SM2 }, key.handle);
      expect(codeOf(() => module.lib.C_Sign(session.handle, Buffer.alloc(31, 1), Buffer.alloc(64)))).toBe(CKR_DATA_LEN_RANGE);
      expect(sign(session, key, CKM_VTOKEN_SM2, Buffer.alloc(32, 1)).length).toBe(64); // the failure ended that operation

      expect(codeOf(() => module.lib.C_SignInit(session.handle, { mechanism: CKM_ECDSA }, key.handle))).toBe(CKR_KEY_TYPE_INCONSISTENT);
      expect(codeOf(() => module.lib.C_SignInit(session.handle, { mechanism: CKM_ECDSA }, privateKey(session, EC_ID).handle))).toBe(CKR_KEY_TYPE_INCONSISTENT);
      expect(codeOf(() => module.lib.C_SignInit(session.handle, { mechanism: CKM_VTOKEN_SM2_SM3 }, privateKey(session, "0303").handle))).toBe(
        CKR_KEY_TYPE_INCONSISTENT,
      );
      const publicKey = findOne(session, { class: ObjectClass.PUBLIC_KEY, id: Buffer.from(VENDOR_ID, "hex") });
      expect(codeOf(() => module.lib.C_SignInit(session.handle, { mechanism: CKM_VTOKEN_SM2 }, publicKey.handle))).toBe(CKR_KEY_TYPE_INCONSISTENT);
      // RSA and ECDSA on other curves still sign through SoftHSM.
      expect(session.createSign("SHA256_RSA_PKCS", privateKey(session, "0303") as never).once(message).length).toBe(256);
      expect(session.createSign("ECDSA", privateKey(session, "0404") as never).once(createHash("sha256").update(message).digest()).length).toBe(64);
      expect(codeOf(() => module.lib.C_SignInit(session.handle, { mechanism: CKM_VTOKEN_SM2 }, privateKey(session, "0404").handle))).toBe(
        CKR_KEY_TYPE_INCONSISTENT,
      );
    });
  });

  it("stops signing when the key is pulled out, and needs a new session after reinsertion", () => {
    withSession(true, (session) => {
      const key = privateKey(session, VENDOR_ID);
      module.lib.C_SignInit(session.handle, { mechanism: CKM_VTOKEN_SM2_SM3 }, key.handle);
      module.lib.C_SignUpdate(session.handle, Buffer.from("half"));
      setRemoved(true);
      try {
        expect(codeOf(() => module.lib.C_SignFinal(session.handle, Buffer.alloc(64)))).toBe(CKR_DEVICE_REMOVED);
        expect(codeOf(() => module.lib.C_SignInit(session.handle, { mechanism: CKM_VTOKEN_SM2 }, key.handle))).toBe(CKR_DEVICE_REMOVED);
      } finally {
        setRemoved(false);
      }
      expect(codeOf(() => module.lib.C_SignInit(session.handle, { mechanism: CKM_VTOKEN_SM2 }, key.handle))).toBe(CKR_SESSION_HANDLE_INVALID);
    });
    withSession(true, (fresh) => {
      expect(sign(fresh, privateKey(fresh, VENDOR_ID), CKM_VTOKEN_SM2, Buffer.alloc(32, 7)).length).toBe(64);
    });
  });

  it("simulates latency for SM2 signatures like for any other", () => {
    withSession(true, (session) => {
      const key = privateKey(session, EC_ID);
      writeFileSync(join(home, "state", SERIAL, "latency-ms"), "200\n");
      try {
        let started = Date.now();
        sign(session, key, CKM_VTOKEN_SM2_SM3, Buffer.from("slow"));
        expect(Date.now() - started).toBeGreaterThanOrEqual(200);
        started = Date.now();
        module.lib.C_SignInit(session.handle, { mechanism: CKM_VTOKEN_SM2_SM3 }, key.handle);
        module.lib.C_SignUpdate(session.handle, Buffer.from("slow"));
        module.lib.C_SignFinal(session.handle, Buffer.alloc(64));
        expect(Date.now() - started).toBeGreaterThanOrEqual(200);
      } finally {
        writeFileSync(join(home, "state", SERIAL, "latency-ms"), "0\n");
      }
    });
  });

  it("locks the PIN after 10 wrong tries as before; SM2 signing works again after SO unlock", () => {
    withSession(false, (session) => {
      for (let i = 1; i <= 9; i++) expect(codeOf(() => session.login("00000000", UserType.USER))).toBe(CKR_PIN_INCORRECT);
      expect(codeOf(() => session.login("00000000", UserType.USER))).toBe(CKR_PIN_LOCKED);
      expect(codeOf(() => session.login(PIN, UserType.USER))).toBe(CKR_PIN_LOCKED);
    });
    execFileSync("pkcs11-tool", ["--module", shimPath, "--token-label", LABEL, "--login", "--login-type", "so", "--so-pin", SO_PIN, "--init-pin", "--pin", PIN], {
      env,
      stdio: "pipe",
    });
    withSession(true, (session) => {
      const signature = sign(session, privateKey(session, VENDOR_ID), CKM_VTOKEN_SM2_SM3, Buffer.from("unlocked"));
      expect(opensslVerifies(keys.vendor!.publicKeyPem, Buffer.from("unlocked"), signature)).toBe(true);
    });
  });

  it("passes pkcs11-tool --test with a login on a token holding SM2, RSA and P-256 keys", () => {
    const output = execFileSync("pkcs11-tool", ["--module", shimPath, "--token-label", LABEL, "--test", "--login", "--pin", PIN], { env, encoding: "utf8", stdio: "pipe" });
    expect(output).toContain("No errors");
  });
});
