/**
 * BJCA XTXApp functions yzt-bridge deliberately does not serve, grouped by why. Each answers the failure
 * value of its kind and explains itself through SOF_GetLastErrMsg. The README carries the same table.
 */
import { ADMIN_PIN_REFUSAL, KEY_WRITE_REFUSAL } from "../../shared/refusals.js";
import type { ReturnKind } from "./codes.js";

interface RefusalGroup {
  reason: string;
  functions: Record<string, ReturnKind>;
}

const GROUPS: RefusalGroup[] = [
  {
    reason: "网页不能读写本机文件，请改用数据接口 (web pages cannot name local files; use the data functions)",
    functions: {
      SOF_SignFile: "string", SOF_VerifySignedFile: "bool", SOF_EncryptFile: "bool", SOF_DecryptFile: "bool", SOF_HashFile: "string",
      SOF_HashFileEx: "string", SOF_SymEncryptFile: "bool", SOF_SymDecryptFile: "bool", SOF_SymDecryptFileToData: "string",
      Base64EncodeFile: "string", Base64DecodeFile: "bool", SelectFile: "string", OpenSpecifiedFolder: "string",
      SOF_SignEnvelopeFile: "bool", SOF_UnSignEnvelopeFile: "bool", SOFX_EncryptFile: "bool", SOFX_DecryptFile: "bool",
      SOFX_MultiEncryptFile: "string", SOFX_SignMessageFile: "bool", SOFX_VerifySignedMessageFile: "bool", SOFX_ParseSignedFile: "bool",
      SOFX_DecryptFileEx: "bool", ExportPfxToFile: "string",
    },
  },
  {
    // GenerateKeyPair, ExportPubKey, ExportPKCS10, ImportSignCert, ImportEncCert(Ex), IsContainerExist and DeleteContainer
    // are served to issuer sites (functions/lifecycle.ts), which refuses them to every other site with this reason.
    reason: KEY_WRITE_REFUSAL,
    functions: {
      WriteFile: "bool", WriteFileEx: "bool", WriteFileBase64: "bool", ReadFile: "string", ReadFileEx: "string",
      DeleteFile: "bool", EnumFilesInDevice: "string", DeleteOldContainer: "bool",
      InitDevice: "bool", InitDeviceEx: "bool", InitDeviceWithAppName: "bool", GetENVSN: "string", SetENVSN: "bool", AddSignInfo: "bool",
      ImportPfxToDevice: "bool", ExportPfxFromDevice: "string", SOF_UpdateCert: "number", SOF_UpdateCertEx: "number", SetUserConfig: "bool",
      YZT_GenerateKeyPair: "bool", YZT_ExportPubKey: "string", YZT_ImportSignCert: "bool", YZT_ImportEncCert: "bool",
      BIO_MAKExportPKCS10: "string", BIO_MAKImportSignEncCert: "bool", BIO_IssueDAKCert: "bool", BIO_InfoCollect: "string",
      BIO_GetBioInfo: "string", BIO_SetUserConfig: "bool", BIO_InvokeCommand: "string", SOF_ImportSymmKey: "bool",
      SOF_WriteESealData: "bool", SOF_EPS_WriteESealData: "bool",
    },
  },
  {
    // UnlockUserPass(Ex) are served to issuer sites (functions/lifecycle.ts), refused elsewhere with this reason.
    reason: ADMIN_PIN_REFUSAL,
    functions: { ChangeAdminPass: "bool", RemoteUnblockPIN: "bool" },
  },
  {
    reason: "yzt-bridge 只使用硬件证书介质，没有软证书设备 (yzt-bridge uses hardware keys only; there are no soft devices)",
    functions: {
      CreateSoftDevice: "bool", DeleteSoftDevice: "bool", EnableSoftDevice: "bool", SoftDeviceBackup: "string", SoftDeviceRestore: "bool",
      ImportKeyCertToSoftDevice: "bool", CheckSoftDeviceEnv: "bool", GetDeviceCountEx: "number", GetAllDeviceSNEx: "string",
    },
  },
  {
    reason: "此接口依赖 BJCA 专有硬件或服务，yzt-bridge 不提供 (needs BJCA-specific hardware or services)",
    functions: {
      SOF_SymEncryptData: "string", SOF_SymDecryptData: "string", SOF_SecertSegment: "string", SOF_SecertRecovery: "string",
      SOF_SignDataByPriKey: "string", SOF_HMAC: "string", OTP_GetChallengeCode: "string", OTP_GetChallengeCodeEx: "string",
      OTP_Halt: "bool", OTP_GetState: "string", OTP_GetSyncCode: "string", SOF_TSGenREQ: "string", SOF_TSCompareNonce: "bool",
      SOF_TSGenPDFSignature: "string", SOF_TSVerifyPDFSignature: "bool", SOF_TSGetPDFSignatureInfo: "string", SOF_SignAPK: "string",
      SOF_ReadESealData: "string", SOF_ReadKFXESealData: "string", SOF_EPS_ReadESealData: "string", SOF_EPS_Encrypt: "string",
      SOF_EPS_Decrypt: "string", SOF_EPS_Mac: "string", EnumESeal: "string", GetPicture: "string", GetPic: "string", GetPic1: "string",
      Hash: "string", ConvertPicFormat: "string", ConvertGif2Jpg: "string", ConvertPicSize: "string", SOF_ListenUKey: "string",
      SOF_EnableLoginWindow: "string", SOF_SignEnvelope: "string", SOF_UnSignEnvelope: "string", SOF_SignByteData: "string",
      SOF_VerifySignedByteData: "bool", SOF_HashDataEx: "string", SOF_HashDataExBase64: "string",
    },
  },
];

export const REFUSED_FUNCTIONS: Record<string, { kind: ReturnKind; reason: string }> = Object.fromEntries(
  GROUPS.flatMap((group) => Object.entries(group.functions).map(([name, kind]) => [name, { kind, reason: group.reason }])),
);
