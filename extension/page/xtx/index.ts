/**
 * XTXApp compatibility: pages written for BJCA's 证书应用环境 (xtxasyn.js, XTXSAB.js and their variants)
 * open a WebSocket to ws://127.0.0.1:21051/xtxapp/ (wss://…:21061 on https pages). On sites where
 * compatibility is on (the tax-hall domains by default, others by the user's choice) those sockets are
 * answered here through yzt-bridge, with no local port at all; elsewhere they go to the network unchanged.
 *
 * Legacy behaviour, kept on purpose: SOF_Login and SOF_ChangePassWd take the PIN from the page, because
 * that is how these pages work (the host rations such PINs). New pages should use window.yzt, where the
 * PIN is only ever typed into the extension's own dialog.
 */
import type { PageBridge } from "../bridge.js";
import { certificateFunctions } from "./functions/certificates.js";
import { deviceFunctions } from "./functions/devices.js";
import { envelopeFunctions } from "./functions/envelopes.js";
import { lifecycleFunctions } from "./functions/lifecycle.js";
import { pinFunctions } from "./functions/pin.js";
import { signingFunctions } from "./functions/signing.js";
import { utilityFunctions } from "./functions/utilities.js";
import { xmlFunctions } from "./functions/xml.js";
import { XtxService } from "./service.js";
import { XtxSocket } from "./socket.js";
import { detectSyncLibrary } from "./sync-detector.js";

const XTX_URL = /^wss?:\/\/(?:127\.0\.0\.1|localhost):(?:21051|21061)\/xtxapp\/?$/i;

export function createXtxService(bridge: PageBridge): XtxService {
  const service: XtxService = new XtxService(bridge, {
    ...certificateFunctions, ...pinFunctions, ...signingFunctions, ...envelopeFunctions, ...deviceFunctions, ...xmlFunctions, ...lifecycleFunctions,
    ...utilityFunctions(() => service),
  });
  return service;
}

export function installXtxCompatibility(bridge: PageBridge): void {
  const NativeWebSocket = window.WebSocket;
  const sockets = new Set<XtxSocket>();
  let service: XtxService | null = null;
  const shared = () => (service ??= createXtxService(bridge));
  bridge.onEvent((type) => {
    if (type === "tokeninserted" || type === "tokenremoved") for (const socket of sockets) socket.notifyKeyChange();
  });
  const Replacement = function WebSocket(this: unknown, url: string | URL, protocols?: string | string[]) {
    if (!new.target) throw new TypeError("Failed to construct 'WebSocket': Please use the 'new' operator");
    const href = String(url);
    if (!XTX_URL.test(href)) return new NativeWebSocket(url, protocols);
    return new XtxSocket(href, bridge, shared, () => new NativeWebSocket(url, protocols), sockets);
  } as unknown as typeof WebSocket;
  Object.assign(Replacement, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  Replacement.prototype = NativeWebSocket.prototype;
  Object.defineProperty(window, "WebSocket", { value: Replacement, writable: true, configurable: true });
  detectSyncLibrary(bridge);
}
