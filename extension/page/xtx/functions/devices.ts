/**
 * Device functions: which keys are inserted and what they are. Every PKCS#11 token is a hardware key to
 * BJCA's libraries ("HARD" for GetDeviceInfo type 7, which pages use to sort keys from soft certificates).
 * A container is one signing certificate's CKA_ID, as in the certIDs of SOF_GetUserList.
 */
import type { TokenInfo, YztCertificate } from "../../../../protocol/types.js";
import { YztError } from "../../bridge.js";
import { tokenSerialOf } from "../cert-id.js";
import type { XtxContext, XtxFunction } from "../service.js";

async function device(context: XtxContext, snOrCertId: unknown): Promise<{ token: TokenInfo; certificates: YztCertificate[] }> {
  const token = await context.token(snOrCertId);
  return { token, certificates: (await context.certificates()).filter((certificate) => certificate.tokenSerial === token.serial) };
}

function containers(certificates: YztCertificate[]): string[] {
  return certificates.filter((certificate) => certificate.purpose !== "encrypt").map((certificate) => certificate.id.slice(certificate.id.lastIndexOf(":") + 1));
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
  GetContainerCount: { keepsError: true, kind: "number", run: async (context, sn) => containers((await device(context, sn)).certificates).length },
  SOF_GetAllContainerName: {
    kind: "string",
    keepsError: true,
    run: async (context, sn) => containers((await device(context, sn)).certificates).map((name) => `${name}&&&`).join(""),
  },
};
