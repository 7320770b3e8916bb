/**
 * PKCS#11 containers against a scripted session (the real module's behaviour is the integration suite's):
 * how objects group into containers when a vendor's middleware reuses CKA_IDs or leaves CKA_EC_PARAMS out,
 * which SM2 generation mechanism a token's list selects, and that a delete touches its own container only.
 */
import { ObjectClass, type Session } from "graphene-pk11";
import { describe, expect, it } from "vitest";
import { sm2PublicKeyInfo } from "../../crypto/public-key.js";
import { sm2PublicFromPrivate } from "../../crypto/sm2.js";
import { deleteContainer, generateKeyPair, listContainers } from "../../native-host/token/pkcs11/containers.js";
import { YztError } from "../../protocol/errors.js";

const SANSEC_SM2_KEY_TYPE = 0x80000004;
const SANSEC_SM2_KEY_PAIR_GEN = 0x80008001;

type Attributes = Record<string, unknown>;

/** A token's objects; find() matches templates as a module does, destroy() removes. */
class ScriptedSession {
  readonly objects: Attributes[] = [];
  readonly generated: Array<{ mechanism: unknown; publicTemplate: Attributes; privateTemplate: Attributes }> = [];

  add(attributes: Attributes): void {
    this.objects.push(attributes);
  }

  find(template: Attributes) {
    const matching = this.objects.filter((object) => Object.entries(template).every(([name, value]) => sameValue(object[name], value)));
    return { length: matching.length, items: (index: number) => this.handle(matching[index]!) };
  }

  generateKeyPair(mechanism: unknown, publicTemplate: Attributes, privateTemplate: Attributes) {
    this.generated.push({ mechanism, publicTemplate, privateTemplate });
    const point = sm2PublicFromPrivate(7n);
    const publicKey = { ...publicTemplate, pointEC: Buffer.concat([Buffer.from([0x04, 65]), point]) };
    this.add(publicKey);
    this.add(privateTemplate);
    return { publicKey: this.handle(publicKey), privateKey: this.handle(privateTemplate) };
  }

  private handle(object: Attributes) {
    return {
      getAttribute: (template: Attributes) => Object.fromEntries(Object.keys(template).map((name) => [name, object[name]])),
      destroy: () => this.objects.splice(this.objects.indexOf(object), 1),
    };
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  return Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : a === b;
}

const asSession = (scripted: ScriptedSession) => scripted as unknown as Session;
const point = (scalar: bigint) => sm2PublicFromPrivate(scalar);
const ecPoint = (scalar: bigint) => Buffer.concat([Buffer.from([0x04, 65]), point(scalar)]);

/** An SM2 pair as Sansec / Koal middleware writes it: vendor key type, no CKA_EC_PARAMS. */
function vendorPair(session: ScriptedSession, label: string, id: string, scalar: bigint): void {
  const common = { label, id: Buffer.from(id, "hex"), keyType: SANSEC_SM2_KEY_TYPE };
  session.add({ ...common, class: ObjectClass.PUBLIC_KEY, verify: true, pointEC: ecPoint(scalar) });
  session.add({ ...common, class: ObjectClass.PRIVATE_KEY, sign: true });
}

describe("PKCS#11 containers", () => {
  it("lists a vendor-typed SM2 pair without CKA_EC_PARAMS as an SM2 container with its public key", async () => {
    const session = new ScriptedSession();
    vendorPair(session, "SIGN-A", "0a", 11n);
    const [container] = await listContainers(asSession(session));
    expect(container).toMatchObject({ name: "SIGN-A", keyAlgorithm: "SM2", signKeyId: "0a" });
    expect(Buffer.from(container!.signPublicKey!).equals(Buffer.from(sm2PublicKeyInfo(point(11n))))).toBe(true);
  });

  it("keeps two containers apart when their middleware reuses a CKA_ID, and deletes one without touching the other", async () => {
    const session = new ScriptedSession();
    vendorPair(session, "OLD", "01", 21n);
    vendorPair(session, "NEW", "01", 22n);
    const containers = await listContainers(asSession(session));
    expect(containers.map((container) => container.name).sort()).toEqual(["NEW", "OLD"]);
    deleteContainer(asSession(session), containers.find((container) => container.name === "OLD")!);
    expect(session.objects.map((object) => object.label)).toEqual(["NEW", "NEW"]);
    const [left] = await listContainers(asSession(session));
    expect(Buffer.from(left!.signPublicKey!).equals(Buffer.from(sm2PublicKeyInfo(point(22n))))).toBe(true);
  });

  it("refuses to delete a container none of whose pairs it can read, deleting nothing", () => {
    const session = new ScriptedSession();
    session.add({ class: ObjectClass.DATA, label: "ODD" });
    const odd = { name: "ODD", keyAlgorithm: null, signKeyId: null, encryptKeyId: null, signPublicKey: null, encryptPublicKey: null, signCertificate: null, encryptCertificate: null };
    expect(() => deleteContainer(asSession(session), odd)).toThrow(YztError);
    expect(session.objects).toHaveLength(1);
  });

  it("generates SM2 pairs with the Sansec / Koal mechanism and key type when the token lists that mechanism", () => {
    const session = new ScriptedSession();
    const spki = generateKeyPair(asSession(session), "RENEWED", "SM2", new Set([SANSEC_SM2_KEY_PAIR_GEN]), "/usr/lib/libswpkcs11.so");
    expect(Buffer.from(spki).equals(Buffer.from(sm2PublicKeyInfo(point(7n))))).toBe(true);
    const [call] = session.generated;
    expect(call!.mechanism).toMatchObject({ name: SANSEC_SM2_KEY_PAIR_GEN });
    expect([call!.publicTemplate.keyType, call!.privateTemplate.keyType]).toEqual([SANSEC_SM2_KEY_TYPE, SANSEC_SM2_KEY_TYPE]);
    expect(call!.privateTemplate).toMatchObject({ label: "RENEWED", token: true, private: true, sensitive: true, extractable: false });
  });

  it("answers UNSUPPORTED_ALGORITHM, generating nothing, when the token lists no SM2 generation mechanism it knows", () => {
    const session = new ScriptedSession();
    let caught: unknown;
    try {
      generateKeyPair(asSession(session), "RENEWED", "SM2", new Set([0x1040]), "/usr/lib/other.so");
    } catch (error) {
      caught = error;
    }
    expect((caught as YztError).code).toBe("UNSUPPORTED_ALGORITHM");
    expect(session.generated).toHaveLength(0);
  });
});
