/**
 * Requests from the "证书助手" popup: state for display, environment check and repair, change PIN,
 * and editing the allowed sites. Only extension pages can send these (checked in index.ts).
 */
import { YztError } from "../../protocol/errors.js";
import type { TokenInfo, YztCertificate } from "../../protocol/types.js";
import { addUserSite, DEFAULT_SITE_PATTERNS, removeUserSite, setXtxSite, syncPages, userSites, xtxSites } from "./allow-list.js";
import { issuerOrigins, type IssuerOrigin } from "./issuer-origins.js";
import type { NativeHostClient } from "./native-host-client.js";
import { changePinDialog } from "./page-calls.js";

export interface PopupState {
  host: "ok" | "missing" | "error";
  hostVersion?: string;
  problem?: string;
  tokens: TokenInfo[];
  certificates: YztCertificate[];
  defaultSites: string[];
  userSites: string[];
  /** User sites with XTXApp compatibility on (default sites always have it). */
  xtxSites: string[];
  /** Sites seen calling BJCA's synchronous library (xtxsync), which no extension can answer. */
  syncPages: string[];
  /** Sites that may renew and unlock keys, and where each comes from. */
  issuerSites: IssuerOrigin[];
}

async function state(host: NativeHostClient): Promise<PopupState> {
  const sites = {
    defaultSites: DEFAULT_SITE_PATTERNS, userSites: await userSites(), xtxSites: await xtxSites(), syncPages: await syncPages(), issuerSites: await issuerOrigins(host),
  };
  try {
    const hello = await host.request("hello", {});
    const [tokens, certificates] = await Promise.all([host.request("listTokens", {}), host.request("listCertificates", {})]);
    return { host: "ok", hostVersion: hello.host, tokens, certificates, ...sites };
  } catch (error) {
    const failure = YztError.from(error);
    return { host: failure.code === "HOST_MISSING" ? "missing" : "error", problem: failure.message, tokens: [], certificates: [], ...sites };
  }
}

export async function handlePopupMessage(host: NativeHostClient, message: { type?: unknown; tokenSerial?: unknown; origin?: unknown; enabled?: unknown }): Promise<unknown> {
  try {
    switch (message.type) {
      case "popup:state":
        return { ok: true, value: await state(host) };
      case "popup:diagnose":
        return { ok: true, value: await host.request("diagnose", {}) };
      case "popup:repair":
        return { ok: true, value: await host.request("repair", {}) };
      case "popup:changePin": {
        const token = (await host.request("listTokens", {})).find((t) => t.serial === message.tokenSerial && t.present);
        if (!token) throw new YztError("NO_TOKEN", "请插入证书 (insert the USB key)");
        // Not awaited: the popup may close while the dialog window is open.
        void changePinDialog(host, token, null).catch(() => undefined);
        return { ok: true, value: null };
      }
      case "popup:addSite":
        if (typeof message.origin !== "string") throw new YztError("BAD_REQUEST", "origin: expected a string");
        return { ok: true, value: await addUserSite(message.origin) };
      case "popup:setXtx":
        if (typeof message.origin !== "string" || typeof message.enabled !== "boolean") throw new YztError("BAD_REQUEST", "origin and enabled are required");
        return { ok: true, value: await setXtxSite(message.origin, message.enabled) };
      case "popup:removeSite":
        if (typeof message.origin !== "string") throw new YztError("BAD_REQUEST", "origin: expected a string");
        return { ok: true, value: await removeUserSite(message.origin) };
      default:
        return { ok: false, error: { code: "BAD_REQUEST", message: `unknown popup request ${String(message.type)}` } };
    }
  } catch (error) {
    return { ok: false, error: YztError.from(error).toJSON() };
  }
}
