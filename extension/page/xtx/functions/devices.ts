/**
 * Device functions: which keys are inserted and what they are. Every PKCS#11 token is a hardware key to
 * BJCA's libraries ("HARD" for GetDeviceInfo type 7, which pages use to sort keys from soft certificates).
 * A container is one signing certificate's CKA_ID, as in the certIDs of SOF_GetUserList (issuer sites: the
 * key's own containers).
 */
import type { TokenInfo, YztCertificate } from "../../../../protocol/types.js";
import { YztError } from "../../bridge.js";
import { tokenSerialOf } from "../cert-id.js";
import type { XtxContext, XtxFunction } from "../service.js";
import { listContainers } from "./lifecycle.js";

async function device(context: XtxContext, snOrCertId: unknown): Promise<{ token: TokenInfo; certificates: YztCertificate[] }> {
  const token = await context.token(snOrCertId);
  return { token, certificates: (await context.certificates()).filter((certificate) => certificate.tokenSerial === token.serial) };
}

function signingKeyIds(certificates: YztCertificate[]): string[] {
  return certificates.filter((certificate) => certificate.purpose !== "encrypt").map((certificate) => certificate.id.slice(certificate.id.lastIndexOf(":") + 1));
}

/**
 * An issuer site sees the key's containers by name, empty ones included (renewal creates and deletes them);
 * every other site, as before, one "container" per signing certificate, named by its key id.
 */
async function containers(context: XtxContext, sn: unknown): Promise<string[]> {
  try {
    return (await listContainers(context, sn)).map((container) => container.name);
  } catch (error) {
    if (!(error instanceof YztError) || error.code !== "NOT_ALLOWED") throw error;
    return signingKeyIds((await device(context, sn)).certificates);
  }
}

/** GetDeviceInfo type codes; what PKCS#11 cannot tell (free space, admin PIN tries) is not made up. */
function deviceField(token: TokenInfo, certificates: YztCertificate[], type: number): string | undefined {
  const algorithm = certificates.some((certificate) => certificate.keyAlgorithm === "SM2") ? "SM2" : certificates[0]?.keyAlgorithm;
  const byType: Record<number, () => string | undefined> = {
    1: () => token.label,
    3: () => token.serial,
    4: () => algorithm,
    7: () => "HARD",
    8: () => `${token.manufacturer} ${token.model}`.trim(),
    115: () => (algorithm === "SM2" ? "20" : algorithm ? "10" : undefined),
  };
  return byType[type]?.();
}

export const deviceFunctions: Record<string, XtxFunction> = {
  GetDeviceCount: { keepsError: true, kind: "number", run: async (context) => (await context.presentTokens()).length },
  GetAllDeviceSN: { keepsError: true, kind: "string", run: async (context) => (await context.presentTokens()).map((token) => `${token.serial};`).join("") },
  GetDeviceSNByIndex: {
    kind: "string",
    keepsError: true,
    run: async (context, index) => {
      const token = (await context.presentTokens())[Number(index)];
      if (!token) throw new YztError("NO_TOKEN", `no key at index ${String(index)}`);
      return token.serial;
    },
  },
  GetDeviceInfo: {
    kind: "string",
    keepsError: true,
    run: async (context, sn, type) => {
      const { token, certificates } = await device(context, sn);
      const value = deviceField(token, certificates, Number(type));
      if (value === undefined) throw new YztError("BAD_REQUEST", `type ${String(type)}: not known for PKCS#11 keys`);
      return value;
    },
  },
  IsDeviceExist: { keepsError: true, kind: "bool", run: async (context, sn) => (await context.presentTokens()).some((token) => token.serial === tokenSerialOf(sn)) },
  GetContainerCount: { keepsError: true, kind: "number", run: async (context, sn) => (await containers(context, sn)).length },
  SOF_GetAllContainerName: {
    kind: "string",
    keepsError: true,
    aliases: ["GetAllContainerName"],
    run: async (context, sn) => (await containers(context, sn)).map((name) => `${name}&&&`).join(""),
  },
};
