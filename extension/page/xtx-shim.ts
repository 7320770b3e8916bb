/**
 * XTXApp compatibility: pages written for BJCA's 证书应用环境 (xtxasyn.js / XTXSAB.js) open a WebSocket to
 * ws://127.0.0.1:21051/xtxapp/ (wss://…:21061 on https pages) and exchange JSON
 * {call_cmd_id, xtx_func_name, param_1..n} → {call_cmd_id, retVal}. On sites where the user (or the
 * default list) enabled compatibility, those sockets are answered here through yzt-bridge, with no local
 * port at all; elsewhere they go to the real network as before.
 *
 * Legacy behaviour, kept on purpose: SOF_Login / VerifyUserPIN and SOF_ChangePassWd take the PIN from
 * the page, because that is how these pages work. New pages should use window.yzt, where the PIN is only
 * ever typed into the extension's own dialog.
 */
import { rawSignatureToDer } from "../../protocol/der.js";
import { base64ToBytes, bytesToBase64 } from "../shared/base64.js";
import { signFromPage } from "./large-sign.js";
import type { TokenInfo, YztCertificate as Certificate } from "../../protocol/types.js";
import type { CertificateInfo } from "../../protocol/messages.js";
import type { PageBridge } from "./bridge.js";
import { YztError } from "./bridge.js";

const XTX_URL = /^wss?:\/\/(?:127\.0\.0\.1|localhost):(?:21051|21061)\/xtxapp\/?$/i;

/** GM/T 0006 algorithm identifiers returned by SOF_GetSignMethod. */
const SGD_SHA256_RSA = 0x00010004;
const SGD_SM3_SM2 = 0x00020201;

/** SOF error codes (GM/T 0020 style) reported through SOF_GetLastError. */
const SOF_ERRORS: Record<string, number> = {
  PIN_INCORRECT: 0x0b000202,
  PIN_LOCKED: 0x0b000203,
  NO_TOKEN: 0x0b000101,
  TOKEN_REMOVED: 0x0b000101,
  NO_CERTIFICATE: 0x0b000110,
  USER_CANCELLED: 0x0b000301,
  CERT_EXPIRED: 0x0b000411,
  BAD_REQUEST: 0x0b000002,
};
const SOF_UNKNOWN_ERROR = 0x0b000001;

function utf8Base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** YYYYMMDDHHMMSS in Beijing time, as BJCA returns validity dates. */
function beijingTime(iso: string): string {
  const shifted = new Date(new Date(iso).getTime() + 8 * 3_600_000).toISOString();
  return shifted.slice(0, 19).replace(/[-T:]/g, "");
}

function tokenSerialOf(certificateId: string): string {
  return certificateId.slice(0, certificateId.lastIndexOf(":"));
}

/** One XTXApp "session": the functions, backed by the bridge, plus the last error. */
class XtxService {
  lastError = 0;

  constructor(private readonly bridge: PageBridge) {}

  private async certificates(purpose?: "sign" | "encrypt"): Promise<Certificate[]> {
    return this.bridge.call<Certificate[]>("listCertificates", purpose ? { purpose } : {});
  }

  private async certificate(certificateId: unknown, purpose: "sign" | "encrypt"): Promise<Certificate | undefined> {
    const all = await this.certificates(purpose);
    if (purpose === "sign") return all.find((c) => c.id === certificateId);
    return all.find((c) => c.tokenSerial === tokenSerialOf(String(certificateId)));
  }

  private async info(certificate: unknown): Promise<CertificateInfo> {
    return this.bridge.call<CertificateInfo>("xtxCertInfo", { certificate: String(certificate) });
  }

  /** Runs one function; failures become the function's "false"/"" answer plus SOF_GetLastError. */
  async run(name: string, params: unknown[]): Promise<unknown> {
    const handler = this.functions[name];
    if (!handler) {
      this.lastError = SOF_UNKNOWN_ERROR;
      return "";
    }
    try {
      const value = await handler(...params);
      this.lastError = 0;
      return value;
    } catch (error) {
      const code = error instanceof YztError ? error.code : "INTERNAL";
      this.lastError = SOF_ERRORS[code] ?? SOF_UNKNOWN_ERROR;
      return FAILURE_VALUES[name] ?? "";
    }
  }

  private readonly functions: Record<string, (...params: unknown[]) => Promise<unknown>> = (() => {
    const getUserList = async () =>
      (await this.certificates("sign")).map((c) => `${c.subject.CN ?? c.holderName}||${c.id}&&&`).join("");
    const exportSign = async (id: unknown) => {
      const cert = await this.certificate(id, "sign");
      if (!cert) throw new YztError("NO_CERTIFICATE", "no such certificate");
      return cert.der;
    };
    const exportExchange = async (id: unknown) => {
      const cert = await this.certificate(id, "encrypt");
      if (!cert) throw new YztError("NO_CERTIFICATE", "no encryption certificate");
      return cert.der;
    };
    const login = async (id: unknown, pin: unknown) => {
      await this.bridge.call("xtxLogin", { certificateId: String(id), pin: String(pin) });
      return true;
    };
    const changePin = async (id: unknown, oldPin: unknown, newPin: unknown) => {
      await this.bridge.call("xtxChangePin", { tokenSerial: tokenSerialOf(String(id)), oldPin: String(oldPin), newPin: String(newPin) });
      return true;
    };
    const retryCount = async (id: unknown) => {
      const status = await this.bridge.call<{ tokens: TokenInfo[] }>("status");
      return status.tokens.find((t) => t.serial === tokenSerialOf(String(id)))?.pin.retriesLeft ?? -1;
    };
    const certInfo = async (certificate: unknown, type: unknown) => {
      const info = await this.info(certificate);
      const byType: Record<number, string | undefined> = {
        1: `V${info.version}`,
        2: info.serialNumber.toUpperCase(),
        3: info.signatureAlgorithm,
        11: beijingTime(info.notBefore),
        12: beijingTime(info.notAfter),
        14: info.subject.O,
        15: info.subject.OU,
        17: info.subject.CN,
        33: info.subjectDn,
        34: info.issuerDn,
        35: info.uniqueId,
      };
      return byType[Number(type)] ?? "";
    };
    const sign = async (format: string, id: unknown, data: unknown) => {
      const result = (await signFromPage(this.bridge, { certificateId: String(id), data: utf8Base64(String(data)), format })) as { signature: string };
      // BJCA's service answers SM2 signatures as base64 DER SEQUENCE{r, s}; window.yzt's raw format is r‖s.
      if (format === "raw" && (await this.certificate(id, "sign"))?.keyAlgorithm === "SM2") {
        return bytesToBase64(rawSignatureToDer(base64ToBytes(result.signature)));
      }
      return result.signature;
    };
    return {
      SOF_GetUserList: getUserList,
      GetUserList: getUserList,
      SOF_ExportUserCert: exportSign,
      GetSignCert: exportSign,
      SOF_ExportExChangeUserCert: exportExchange,
      GetExchCert: exportExchange,
      SOF_Login: login,
      VerifyUserPIN: login,
      SOF_GetPinRetryCount: retryCount,
      GetUserPINRetryCount: retryCount,
      SOF_ChangePassWd: changePin,
      ChangeUserPassword: changePin,
      SOF_GetCertInfo: certInfo,
      GetCertBasicinfo: certInfo,
      SOF_GetCertInfoByOid: async (certificate, oid) => (await this.info(certificate)).extensionTexts[String(oid)] ?? "",
      SOF_SignData: (id, data) => sign("raw", id, data),
      SOF_SignMessage: (flag, id, data) => sign(Number(flag) === 1 ? "pkcs7-detached" : "pkcs7-attached", id, data),
      SOF_VerifySignedData: async (certificate, data, signature) =>
        (await this.bridge.call<{ valid: boolean }>("xtxVerify", { certificate: String(certificate), data: utf8Base64(String(data)), signature: String(signature) })).valid,
      SOF_GenRandom: async (length) => {
        const bytes = crypto.getRandomValues(new Uint8Array(Math.max(1, Math.min(1024, Number(length) || 16))));
        return btoa(String.fromCharCode(...bytes));
      },
      SOF_IsLogin: async (id) => (await this.bridge.call<{ active: boolean }>("xtxIsLogin", { tokenSerial: tokenSerialOf(String(id)) })).active,
      SOF_Logout: async () => {
        await this.bridge.call("logout");
        return true;
      },
      SOF_GetLastError: async () => this.lastError,
      SOF_GetSignMethod: async () => ((await this.certificates("sign"))[0]?.keyAlgorithm === "SM2" ? SGD_SM3_SM2 : SGD_SHA256_RSA),
      SOF_SetSignMethod: async () => true,
      SOF_GetVersion: async () => "yzt-bridge XTXApp compatibility 1.0",
    };
  })();
}

/** What each function answers when it fails, as BJCA's service does. */
const FAILURE_VALUES: Record<string, unknown> = {
  SOF_Login: false, VerifyUserPIN: false, SOF_ChangePassWd: false, ChangeUserPassword: false,
  SOF_VerifySignedData: false, SOF_IsLogin: false, SOF_Logout: false, SOF_SetSignMethod: false,
  SOF_GetPinRetryCount: -1, GetUserPINRetryCount: -1, SOF_GetSignMethod: 0,
};

type Handler = ((event: Event) => void) | null;

/** A WebSocket look-alike answered by XtxService, or relaying to the real socket where compatibility is off. */
class XtxSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readyState = 0;
  readonly protocol = "";
  readonly extensions = "";
  bufferedAmount = 0;
  binaryType: BinaryType = "blob";
  onopen: Handler = null;
  onmessage: Handler = null;
  onerror: Handler = null;
  onclose: Handler = null;
  private service: XtxService | null = null;
  private relay: WebSocket | null = null;

  constructor(readonly url: string, bridge: PageBridge, openReal: () => WebSocket, sockets: Set<XtxSocket>) {
    super();
    bridge
      .call<boolean>("xtxEnabled")
      .catch(() => false)
      .then((enabled) => {
        if (this.readyState === 3) return;
        if (!enabled) return this.relayTo(openReal());
        this.service = new XtxService(bridge);
        sockets.add(this);
        this.readyState = 1;
        this.fire(new Event("open"));
      });
  }

  send(text: unknown): void {
    if (this.relay) return this.relay.send(text as string);
    if (this.readyState !== 1 || !this.service) throw new DOMException("WebSocket is not open", "InvalidStateError");
    let request: Record<string, unknown>;
    try {
      request = JSON.parse(String(text)) as Record<string, unknown>;
    } catch {
      return;
    }
    const params: unknown[] = [];
    for (let i = 1; Object.hasOwn(request, `param_${i}`); i++) params.push(request[`param_${i}`]);
    void this.service.run(String(request.xtx_func_name ?? ""), params).then((retVal) => this.deliver({ call_cmd_id: request.call_cmd_id, retVal }));
  }

  close(): void {
    if (this.relay) return this.relay.close();
    if (this.readyState >= 2) return;
    this.readyState = 3;
    this.fire(new CloseEvent("close", { code: 1000, wasClean: true }));
  }

  /** Unsolicited key-change notice, as the BJCA service sends it. */
  notifyKeyChange(): void {
    if (this.readyState === 1 && this.service) this.deliver({ call_cmd_id: "onUsbkeyChange", retVal: "" });
  }

  private deliver(message: unknown): void {
    if (this.readyState === 1) this.fire(new MessageEvent("message", { data: JSON.stringify(message) }));
  }

  private fire(event: Event): void {
    const handler = (this as unknown as Record<string, Handler>)[`on${event.type}`];
    if (typeof handler === "function") handler.call(this, event);
    this.dispatchEvent(event);
  }

  private relayTo(socket: WebSocket): void {
    this.relay = socket;
    for (const type of ["open", "message", "error", "close"]) {
      socket.addEventListener(type, (event) => {
        this.readyState = socket.readyState;
        const copy = type === "message" ? new MessageEvent("message", { data: (event as MessageEvent).data }) : type === "close" ? new CloseEvent("close", event as CloseEvent) : new Event(type);
        this.fire(copy);
      });
    }
  }
}

export function installXtxCompatibility(bridge: PageBridge): void {
  const NativeWebSocket = window.WebSocket;
  const sockets = new Set<XtxSocket>();
  bridge.onEvent((type) => {
    if (type === "tokeninserted" || type === "tokenremoved") for (const socket of sockets) socket.notifyKeyChange();
  });
  const Replacement = function WebSocket(this: unknown, url: string | URL, protocols?: string | string[]) {
    if (!new.target) throw new TypeError("Failed to construct 'WebSocket': Please use the 'new' operator");
    const href = String(url);
    if (!XTX_URL.test(href)) return new NativeWebSocket(url, protocols);
    return new XtxSocket(href, bridge, () => new NativeWebSocket(url, protocols), sockets);
  } as unknown as typeof WebSocket;
  Object.assign(Replacement, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  Replacement.prototype = NativeWebSocket.prototype;
  Object.defineProperty(window, "WebSocket", { value: Replacement, writable: true, configurable: true });
}
