/**
 * Which vendor function a driver call runs, per backend: what a crash or hang report names, so a help desk
 * (and the vendor) can tell where the library failed. The driver is not asked while it runs a call — a
 * crashed or hung driver cannot answer — so the host names the call from what it had asked.
 */
import type { BackendKind } from "../token/device.js";
import type { DriverCall } from "./wire.js";

type Activity = DriverCall | "load" | "scan";

const CALLS: Record<BackendKind, Record<Activity, string>> = {
  skf: {
    // Loading calls SKF_EnumDev once (the ULONG width probe, skf/binding.ts).
    load: "SKF_EnumDev (loading the library)",
    scan: "SKF_EnumDev",
    ping: "SKF_EnumDev",
    pinReading: "SKF_GetPINInfo",
    readCertificates: "SKF_ExportCertificate",
    login: "SKF_VerifyPIN",
    logout: "SKF_ClearSecureState",
    closeKey: "SKF_DisConnectDev",
    sign: "SKF_ECCSignData",
    decrypt: "SKF_ECCPrvKeyDecrypt",
    openEnvelope: "SKF_Decrypt",
    changePin: "SKF_ChangePIN",
    unlock: "SKF_UnblockPIN",
    containers: "SKF_ExportPublicKey",
    generateKeyPair: "SKF_GenECCKeyPair",
    importCertificate: "SKF_ImportCertificate",
    importEncryptionKeyPair: "SKF_ImportECCKeyPair",
    deleteContainer: "SKF_DeleteContainer",
  },
  pkcs11: {
    load: "C_Initialize",
    scan: "C_GetSlotList",
    ping: "C_GetSlotList",
    pinReading: "C_GetTokenInfo",
    readCertificates: "C_FindObjects",
    login: "C_Login",
    logout: "C_Logout",
    closeKey: "C_CloseSession",
    sign: "C_Sign",
    decrypt: "C_Decrypt",
    openEnvelope: "C_Decrypt",
    changePin: "C_SetPIN",
    unlock: "C_InitPIN",
    containers: "C_FindObjects",
    generateKeyPair: "C_GenerateKeyPair",
    importCertificate: "C_CreateObject",
    importEncryptionKeyPair: "C_UnwrapKey",
    deleteContainer: "C_DestroyObject",
  },
};

/** The vendor function behind a driver activity; an RSA signature on an SKF key is SKF_RSASignData. */
export function vendorCall(kind: BackendKind, activity: string, keyAlgorithm?: string): string {
  if (kind === "skf" && activity === "sign" && keyAlgorithm === "RSA") return "SKF_RSASignData";
  return (CALLS[kind] as Record<string, string>)[activity] ?? activity;
}
