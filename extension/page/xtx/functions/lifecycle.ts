/**
 * The key life-cycle functions BJCA's issuer pages (一证通服务平台「证书更新」「证书解锁」) call: key pair,
 * public key, PKCS#10, certificate imports, containers, unlock. They run only for issuer sites; the background
 * refuses every other site, and such a page then gets exactly the refusal it always got (SOF_NOT_SUPPORTED,
 * the same message), with nothing written. Containers are named as the key names them, or by the key id of a
 * pair (the part of a certID before "/"), which is what tax-hall pages know.
 */
import type { ContainerInfo } from "../../../../protocol/key-writing.js";
import { YztError } from "../../bridge.js";
import { SOF_BAD_PARAMETER, SOF_NOT_SUPPORTED } from "../codes.js";
import { tokenSerialOf } from "../cert-id.js";
import { XtxFailure, type XtxContext, type XtxFunction, type XtxValue } from "../service.js";

/** A refusal for a site that is not an issuer site reads as it always did: "<function>: <reason>". */
function refusable(name: string, kind: XtxFunction["kind"], run: (context: XtxContext, ...params: unknown[]) => Promise<XtxValue>): XtxFunction {
  return {
    kind,
    run: async (context, ...params) => {
      try {
        return await run(context, ...params);
      } catch (error) {
        if (error instanceof YztError && error.code === "NOT_ALLOWED" && error.data?.refusal === true) throw new XtxFailure(SOF_NOT_SUPPORTED, `${name}: ${error.message}`);
        throw error;
      }
    },
  };
}

/** BJCA pages name the algorithm as text ("SM2", "RSA") or number (1 RSA, 2 SM2); 一证通 keys are SM2 today. */
function keyAlgorithmOf(value: unknown): "SM2" | "RSA" {
  const text = String(value ?? "").trim().toUpperCase();
  if (text === "" || text === "2" || text.includes("SM2") || text.includes("ECC")) return "SM2";
  if (text === "1" || text.includes("RSA") || text === "1024" || text === "2048") return "RSA";
  throw new XtxFailure(SOF_BAD_PARAMETER, `未知的密钥算法 ${String(value)}：应为 SM2 或 RSA (unknown key algorithm)`);
}

/** bSign as pages pass it: true/false, 1/0, "true"/"false"; absent means the signing pair. */
function signFlag(value: unknown): boolean {
  return !(value === false || value === 0 || value === "0" || String(value).toLowerCase() === "false");
}

function requireSigningPair(value: unknown): void {
  // The encryption pair is made by the CA's key-management centre and comes with ImportEncCert.
  if (!signFlag(value)) throw new XtxFailure(SOF_BAD_PARAMETER, "加密密钥对由密钥管理中心生成，请用 ImportEncCert 导入 (the encryption pair comes from the KMC with ImportEncCert)");
}

function keyOf(sn: unknown): { tokenSerial: string } {
  return { tokenSerial: tokenSerialOf(sn) };
}

function containerArgs(sn: unknown, container: unknown): { tokenSerial: string; container: string } {
  return { ...keyOf(sn), container: String(container ?? "") };
}

export function listContainers(context: XtxContext, sn: unknown): Promise<ContainerInfo[]> {
  return context.bridge.call<ContainerInfo[]>("listContainers", keyOf(sn));
}

function findContainer(containers: ContainerInfo[], reference: string): ContainerInfo | undefined {
  return containers.find((container) => container.name === reference) ?? containers.find((container) => container.signKeyId === reference || container.encryptKeyId === reference);
}

async function unlock(context: XtxContext, sn: unknown, adminPin: unknown, newPin: unknown): Promise<boolean> {
  // An empty new PIN: the user chooses it in the consent window.
  const chosenBySite = newPin === undefined || newPin === null || newPin === "" ? {} : { newPin: String(newPin) };
  await context.bridge.call("unlockPin", { ...keyOf(sn), adminPin: String(adminPin ?? ""), ...chosenBySite });
  return true;
}

async function importEncryption(context: XtxContext, sn: unknown, container: unknown, certificate: unknown, encryptedKeyPair: unknown): Promise<boolean> {
  await context.bridge.call("importCertificate", { ...containerArgs(sn, container), certificate: String(certificate ?? ""), encryptedKeyPair: String(encryptedKeyPair ?? "") });
  return true;
}

export const lifecycleFunctions: Record<string, XtxFunction> = {
  GenerateKeyPair: refusable("GenerateKeyPair", "bool", async (context, sn, container, keyType, bSign) => {
    requireSigningPair(bSign);
    await context.bridge.call("generateKeyPair", { ...containerArgs(sn, container), keyAlgorithm: keyAlgorithmOf(keyType) });
    return true;
  }),
  ExportPubKey: refusable("ExportPubKey", "string", async (context, sn, container, bSign) => {
    const found = findContainer(await listContainers(context, sn), String(container ?? ""));
    const publicKey = signFlag(bSign) ? found?.signPublicKey : found?.encryptPublicKey;
    if (!publicKey) throw new YztError("NO_CERTIFICATE", `no ${signFlag(bSign) ? "signing" : "encryption"} key pair in container ${String(container)}`);
    return publicKey;
  }),
  ExportPKCS10: refusable("ExportPKCS10", "string", async (context, sn, container, dn, bSign) => {
    requireSigningPair(bSign);
    return context.bridge.call<string>("createCertificateRequest", { ...containerArgs(sn, container), subject: String(dn ?? "") });
  }),
  ImportSignCert: refusable("ImportSignCert", "bool", async (context, sn, container, certificate) => {
    await context.bridge.call("importCertificate", { ...containerArgs(sn, container), certificate: String(certificate ?? "") });
    return true;
  }),
  ImportEncCert: refusable("ImportEncCert", "bool", importEncryption),
  // The Ex form adds the symmetric algorithm of the wrapped key, which both forms we take (GM/T 0016's blob,
  // GM/T 0009's DER) carry themselves: the pair's own field is the one that counts.
  ImportEncCertEx: refusable("ImportEncCertEx", "bool", importEncryption),
  IsContainerExist: refusable("IsContainerExist", "bool", async (context, sn, container) => findContainer(await listContainers(context, sn), String(container ?? "")) !== undefined),
  DeleteContainer: refusable("DeleteContainer", "bool", async (context, sn, container) => {
    await context.bridge.call("deleteContainer", containerArgs(sn, container));
    return true;
  }),
  UnlockUserPass: refusable("UnlockUserPass", "bool", (context, sn, adminPin, newPin) => unlock(context, sn, adminPin, newPin)),
  UnlockUserPassEx: refusable("UnlockUserPassEx", "bool", (context, sn, adminPin, newPin) => unlock(context, sn, adminPin, newPin)),
};
