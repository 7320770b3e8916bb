/**
 * Loads a vendor SKF library with koffi and binds the GM/T 0016 functions the adapter uses into one table.
 * Everything here is declared `__stdcall`: that is what the standard's Windows libraries export (koffi looks
 * up the decorated `_SKF_X@N` name first on 32-bit Windows and ignores the convention elsewhere). A library
 * that lacks a required export (what every key needs: devices, applications, PIN, containers, certificates,
 * ECC signing) is refused at load time with the function's name, so `yzt doctor` and the popup can say which
 * one; without an optional one, the operations that need it say so, and device events fall back to polling.
 * Prototypes are written for GM/T 0016's 32-bit ULONG; a library built with a 64-bit one is bound with every
 * ULONG (and the ULONG fields of BLOCKCIPHERPARAM) 64 bits wide.
 *
 * koffi itself is loaded on the first SKF library only: a host that drives only PKCS#11 keys never pays for it.
 */
import { createRequire } from "node:module";
import { YztError } from "../../../protocol/errors.js";
import { BLOCK_CIPHER_IV_BYTES, type UlongBytes } from "./abi.js";
import { check } from "./errors.js";
import { WorkerCalls } from "./worker-calls.js";

type Koffi = typeof import("koffi");
type KoffiFunction = ReturnType<ReturnType<Koffi["load"]>["func"]>;

/** An opaque handle (DEVHANDLE, HAPPLICATION, HCONTAINER, HANDLE) as koffi returns it. */
export type SkfHandle = unknown;

/** A ULONG out/in-out parameter: koffi reads and writes element 0. */
export type UlongRef = [number];
export type HandleRef = [SkfHandle];

const REQUIRED = {
  SKF_EnumDev: "uint32_t __stdcall SKF_EnumDev(int bPresent, _Out_ uint8_t *szNameList, _Inout_ uint32_t *pulSize)",
  SKF_ConnectDev: "uint32_t __stdcall SKF_ConnectDev(const uint8_t *szName, _Out_ SKF_HANDLE *phDev)",
  SKF_DisConnectDev: "uint32_t __stdcall SKF_DisConnectDev(SKF_HANDLE hDev)",
  SKF_GetDevInfo: "uint32_t __stdcall SKF_GetDevInfo(SKF_HANDLE hDev, _Out_ uint8_t *pDevInfo)",
  SKF_EnumApplication: "uint32_t __stdcall SKF_EnumApplication(SKF_HANDLE hDev, _Out_ uint8_t *szAppName, _Inout_ uint32_t *pulSize)",
  SKF_OpenApplication: "uint32_t __stdcall SKF_OpenApplication(SKF_HANDLE hDev, const uint8_t *szAppName, _Out_ SKF_HANDLE *phApplication)",
  SKF_CloseApplication: "uint32_t __stdcall SKF_CloseApplication(SKF_HANDLE hApplication)",
  SKF_GetPINInfo: "uint32_t __stdcall SKF_GetPINInfo(SKF_HANDLE hApplication, uint32_t ulPINType, _Out_ uint32_t *pulMaxRetryCount, _Out_ uint32_t *pulRemainRetryCount, _Out_ int *pbDefaultPin)",
  SKF_VerifyPIN: "uint32_t __stdcall SKF_VerifyPIN(SKF_HANDLE hApplication, uint32_t ulPINType, const char *szPIN, _Out_ uint32_t *pulRetryCount)",
  SKF_ChangePIN: "uint32_t __stdcall SKF_ChangePIN(SKF_HANDLE hApplication, uint32_t ulPINType, const char *szOldPin, const char *szNewPin, _Out_ uint32_t *pulRetryCount)",
  SKF_UnblockPIN: "uint32_t __stdcall SKF_UnblockPIN(SKF_HANDLE hApplication, const char *szAdminPIN, const char *szNewUserPIN, _Out_ uint32_t *pulRetryCount)",
  SKF_ClearSecureState: "uint32_t __stdcall SKF_ClearSecureState(SKF_HANDLE hApplication)",
  SKF_EnumContainer: "uint32_t __stdcall SKF_EnumContainer(SKF_HANDLE hApplication, _Out_ uint8_t *szContainerName, _Inout_ uint32_t *pulSize)",
  SKF_OpenContainer: "uint32_t __stdcall SKF_OpenContainer(SKF_HANDLE hApplication, const uint8_t *szContainerName, _Out_ SKF_HANDLE *phContainer)",
  SKF_CloseContainer: "uint32_t __stdcall SKF_CloseContainer(SKF_HANDLE hContainer)",
  SKF_GetContainerType: "uint32_t __stdcall SKF_GetContainerType(SKF_HANDLE hContainer, _Out_ uint32_t *pulContainerType)",
  SKF_ExportCertificate: "uint32_t __stdcall SKF_ExportCertificate(SKF_HANDLE hContainer, int bSignFlag, _Out_ uint8_t *pbCert, _Inout_ uint32_t *pulCertLen)",
  SKF_ECCSignData: "uint32_t __stdcall SKF_ECCSignData(SKF_HANDLE hContainer, const uint8_t *pbData, uint32_t ulDataLen, _Out_ uint8_t *pSignature)",
} as const;

/**
 * Optional: what only some keys need — RSA signing, and the session-key functions that open envelopes
 * inside the key (an SM2-only key's library may lack them: the operations that need one answer
 * UNSUPPORTED_ALGORITHM naming it); device events (used only with their cancel; else polling); and the vendor
 * extension for SM2 private-key decryption of raw data. GM/T 0016-2012 has none; SKF_ECCPrvKeyDecrypt has the
 * same four arguments wherever it is exported. SKF_ECCDecrypt is deliberately not used: SDKs disagree on its
 * arguments (some add a BOOL bSignFlag), and a wrong guess writes through a bogus pointer inside the library.
 */
const OPTIONAL = {
  SKF_RSASignData: "uint32_t __stdcall SKF_RSASignData(SKF_HANDLE hContainer, const uint8_t *pbData, uint32_t ulDataLen, _Out_ uint8_t *pbSignature, _Inout_ uint32_t *pulSignLen)",
  SKF_ImportSessionKey: "uint32_t __stdcall SKF_ImportSessionKey(SKF_HANDLE hContainer, uint32_t ulAlgId, const uint8_t *pbWrapedData, uint32_t ulWrapedLen, _Out_ SKF_HANDLE *phKey)",
  SKF_DecryptInit: "uint32_t __stdcall SKF_DecryptInit(SKF_HANDLE hKey, SKF_BLOCKCIPHERPARAM DecryptParam)",
  SKF_Decrypt: "uint32_t __stdcall SKF_Decrypt(SKF_HANDLE hKey, const uint8_t *pbEncryptedData, uint32_t ulEncryptedLen, _Out_ uint8_t *pbData, _Inout_ uint32_t *pulDataLen)",
  SKF_CloseHandle: "uint32_t __stdcall SKF_CloseHandle(SKF_HANDLE hHandle)",
  SKF_ECCPrvKeyDecrypt: "uint32_t __stdcall SKF_ECCPrvKeyDecrypt(SKF_HANDLE hContainer, const uint8_t *pCipherText, _Out_ uint8_t *pbData, _Inout_ uint32_t *pulDataLen)",
  // Key writing (certificate renewal from the issuer's site): only an issuer origin's consented calls need them.
  SKF_CreateContainer: "uint32_t __stdcall SKF_CreateContainer(SKF_HANDLE hApplication, const uint8_t *szContainerName, _Out_ SKF_HANDLE *phContainer)",
  SKF_DeleteContainer: "uint32_t __stdcall SKF_DeleteContainer(SKF_HANDLE hApplication, const uint8_t *szContainerName)",
  SKF_GenECCKeyPair: "uint32_t __stdcall SKF_GenECCKeyPair(SKF_HANDLE hContainer, uint32_t ulAlgId, _Out_ uint8_t *pBlob)",
  SKF_GenRSAKeyPair: "uint32_t __stdcall SKF_GenRSAKeyPair(SKF_HANDLE hContainer, uint32_t ulBitsLen, _Out_ uint8_t *pBlob)",
  SKF_ExportPublicKey: "uint32_t __stdcall SKF_ExportPublicKey(SKF_HANDLE hContainer, int bSignFlag, _Out_ uint8_t *pbBlob, _Inout_ uint32_t *pulBlobLen)",
  SKF_ImportCertificate: "uint32_t __stdcall SKF_ImportCertificate(SKF_HANDLE hContainer, int bSignFlag, const uint8_t *pbCert, uint32_t ulCertLen)",
  SKF_ImportECCKeyPair: "uint32_t __stdcall SKF_ImportECCKeyPair(SKF_HANDLE hContainer, const uint8_t *pEnvelopedKeyBlob)",
  SKF_WaitForDevEvent: "uint32_t __stdcall SKF_WaitForDevEvent(_Out_ uint8_t *szDevName, _Inout_ uint32_t *pulDevNameLen, _Out_ uint32_t *pulEvent)",
  SKF_CancelWaitForDevEvent: "uint32_t __stdcall SKF_CancelWaitForDevEvent()",
} as const;

export type SkfFunctionName = keyof typeof REQUIRED | keyof typeof OPTIONAL;

/** A bound SKF function: synchronous call, or `async` on koffi's worker threads. */
export interface SkfFunction {
  (...args: unknown[]): number;
  async(...args: unknown[]): void;
}

export type SkfFunctions = { [K in keyof typeof REQUIRED]: SkfFunction } & { [K in keyof typeof OPTIONAL]?: SkfFunction };

export interface SkfBinding {
  path: string;
  /** The library's ULONG: 4 bytes (GM/T 0016) or 8 (LP64 builds); the struct layouts follow it. */
  ulongBytes: UlongBytes;
  fn: SkfFunctions;
  /** Runs an SKF function on a worker thread (a slow key or a blocking wait must not freeze the host). */
  callAsync(name: SkfFunctionName, ...args: unknown[]): Promise<number>;
  /** Unloads the library, once no call runs on a worker any more (unloading under one would crash the host). */
  close(): void;
}

/** Why a library is not a usable SKF library: the message names the library and, where it is one, the export. */
export class SkfLoadError extends Error {}

let koffiModule: Koffi | null = null;

function koffi(): Koffi {
  if (!koffiModule) {
    try {
      koffiModule = createRequire(import.meta.url)("koffi") as Koffi;
    } catch (error) {
      throw new SkfLoadError(`this installation has no FFI for SKF libraries (koffi): ${error instanceof Error ? error.message : String(error)}`);
    }
    // Types are registered by name once per process; every library shares them.
    koffiModule.pointer("SKF_HANDLE", koffiModule.opaque());
    for (const [name, ulong] of [["SKF_BLOCKCIPHERPARAM", "uint32_t"], ["SKF_BLOCKCIPHERPARAM64", "uint64_t"]] as const) {
      koffiModule.pack(name, { IV: koffiModule.array("uint8_t", BLOCK_CIPHER_IV_BYTES, "Array"), IVLen: ulong, PaddingType: ulong, FeedBitLen: ulong });
    }
  }
  return koffiModule;
}

function bind(library: ReturnType<Koffi["load"]>, prototype: string, ulongBytes: UlongBytes = 4): SkfFunction {
  const declared = ulongBytes === 4 ? prototype : prototype.replace(/\buint32_t\b/g, "uint64_t").replace(/\bSKF_BLOCKCIPHERPARAM\b/g, "SKF_BLOCKCIPHERPARAM64");
  return library.func(declared) as KoffiFunction as unknown as SkfFunction;
}

/**
 * GM/T 0016 makes ULONG 32 bits, but some vendors' Linux headers say `unsigned long` (64 bits there). Such a
 * library writes 8 bytes through every ULONG pointer and lays its structs out differently, so the host must
 * not talk to it with 32-bit prototypes: SKF_EnumDev's size query, given 8 bytes set to 0xFF, tells them
 * apart (a 32-bit library leaves the upper four untouched).
 */
function writesWideUlong(library: ReturnType<Koffi["load"]>): boolean {
  let probe: SkfFunction;
  try {
    probe = bind(library, "uint32_t __stdcall SKF_EnumDev(int bPresent, void *szNameList, void *pulSize)");
  } catch {
    return false; // not an SKF library at all: the binding below names the missing export
  }
  const size = Buffer.alloc(8, 0xff);
  if (probe(1, null, size) >>> 0 !== 0) return false;
  return size.readUInt32LE(4) !== 0xffffffff;
}

export function loadSkfBinding(path: string): SkfBinding {
  let ffi: Koffi;
  try {
    ffi = koffi();
  } catch (error) {
    throw error instanceof SkfLoadError ? new SkfLoadError(`cannot load the SKF library ${path}: ${error.message}`) : error;
  }
  let library: ReturnType<Koffi["load"]>;
  try {
    library = ffi.load(path);
  } catch (error) {
    throw new SkfLoadError(`cannot load the SKF library ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  // Windows is LLP64: its `unsigned long` is 32 bits whatever the header says.
  const ulongBytes: UlongBytes = process.platform !== "win32" && writesWideUlong(library) ? 8 : 4;
  const fn: Partial<Record<SkfFunctionName, SkfFunction>> = {};
  for (const [name, prototype] of Object.entries(REQUIRED)) {
    try {
      fn[name as SkfFunctionName] = bind(library, prototype, ulongBytes);
    } catch {
      library.unload();
      throw new SkfLoadError(`${path} is not an SKF (GM/T 0016) library: it does not export ${name}`);
    }
  }
  for (const [name, prototype] of Object.entries(OPTIONAL)) {
    try {
      fn[name as SkfFunctionName] = bind(library, prototype, ulongBytes);
    } catch {
      // Optional: the operations that need it answer UNSUPPORTED_ALGORITHM naming it (requireFunctions).
    }
  }
  const functions = fn as SkfFunctions;
  const calls = new WorkerCalls();
  return {
    path,
    ulongBytes,
    fn: functions,
    callAsync: (name, ...args) =>
      calls.run(
        () =>
          new Promise<number>((resolve, reject) => {
            const target = functions[name];
            if (!target) {
              reject(new SkfLoadError(`${path} does not export ${name}`));
              return;
            }
            target.async(...args, (error: unknown, result: number) => (error ? reject(error) : resolve(result >>> 0)));
          }),
      ),
    close: () => calls.whenIdle(() => library.unload()),
  };
}

/** The optional exports an operation needs, all of them; UNSUPPORTED_ALGORITHM naming the first one missing. */
export function requireFunctions<const N extends keyof typeof OPTIONAL>(binding: SkfBinding, names: readonly N[], what: string): Record<N, SkfFunction> {
  const found = {} as Record<N, SkfFunction>;
  for (const name of names) {
    const bound = binding.fn[name];
    if (!bound) throw new YztError("UNSUPPORTED_ALGORITHM", `${binding.path} does not export ${name}: it cannot ${what}`, { call: name });
    found[name] = bound;
  }
  return found;
}

/** Largest length a size query may ask for before the library is taken to be answering garbage. */
export const MAX_SKF_BUFFER_BYTES = 1024 * 1024;

/**
 * The standard's two-step read: a NULL buffer asks for the length, a second call fills it. Lengths a real
 * library cannot mean (over MAX_SKF_BUFFER_BYTES, or longer than the buffer it was given) are refused with
 * INTERNAL naming the library and the call, instead of being trusted.
 */
export function readSized(binding: SkfBinding, call: SkfFunctionName, invoke: (buffer: Buffer | null, length: UlongRef) => number): Buffer {
  const length: UlongRef = [0];
  check(invoke(null, length) >>> 0, call);
  const wanted = length[0];
  if (!Number.isInteger(wanted) || wanted < 0 || wanted > MAX_SKF_BUFFER_BYTES) throw garbageLength(binding, call, wanted);
  const buffer = Buffer.alloc(Math.max(wanted, 1));
  length[0] = buffer.length;
  check(invoke(buffer, length) >>> 0, call);
  if (!Number.isInteger(length[0]) || length[0] > buffer.length) throw garbageLength(binding, call, length[0]);
  return buffer.subarray(0, length[0]);
}

export function garbageLength(binding: SkfBinding, call: string, length: number): YztError {
  return new YztError("INTERNAL", `${call} of ${binding.path} returned an impossible length (${length} bytes): the library is faulty`, { call });
}
