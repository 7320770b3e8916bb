/**
 * Background (Chrome service worker / Firefox event page): wires page ports, dialogs, the popup and the
 * native host together. Every page call is checked here: top frame of an allowed origin, known method,
 * valid parameters; the origin handed to the host is the one the browser reports for the port.
 */
import browser from "webextension-polyfill";
import type { Runtime } from "webextension-polyfill";
import { YztError } from "../../protocol/errors.js";
import { tokenSerialOfCertificate, type HostEvent } from "../../protocol/messages.js";
import { isPageMethod, pageMethodParams, type ContentToBackground, type PageParams } from "../shared/page-protocol.js";
import { isAllowed, syncUserScripts } from "./allow-list.js";
import { badgeStateFor } from "./badge-state.js";
import { showBadge } from "./badge.js";
import { NativeHostClient } from "./native-host-client.js";
import { createPageHandlers, type Caller } from "./page-calls.js";
import { handlePopupMessage } from "./popup-api.js";
import { applySettings, watchSettings } from "./settings.js";
import { cancelPromptsForToken, handlePromptMessage } from "./prompts.js";
import { TabRegistry, type PageTab } from "./tabs.js";

const host = new NativeHostClient();
const tabs = new TabRegistry();
const handlers = createPageHandlers(host);

function senderOrigin(sender: Runtime.MessageSender | undefined): string | null {
  const reported = (sender as { origin?: string } | undefined)?.origin;
  if (reported && reported !== "null") return reported;
  try {
    return sender?.url ? new URL(sender.url).origin : null;
  } catch {
    return null;
  }
}

/**
 * The company on each key seen, by serial: kept after the key goes, since that is when the removal
 * warning needs to name it.
 */
const companies = new Map<string, string>();

async function refreshBadge(): Promise<void> {
  try {
    const [tokens, certificates] = await Promise.all([host.request("listTokens", {}), host.request("listCertificates", {})]);
    for (const certificate of certificates) if (certificate.holderName) companies.set(tokenSerialOfCertificate(certificate.id), certificate.holderName);
    await showBadge(badgeStateFor(tokens, certificates, true));
  } catch {
    await showBadge("warning").catch(() => undefined);
  }
}

/**
 * A key went: its prompts close, and the submissions that used it fail with the in-page warning and a system
 * notification. Called for the host's tokenremoved event, and for a call of a running submission that the
 * host answered TOKEN_REMOVED: that answer can come first (the call itself found the key gone), and the
 * page's submission ends on it before the event arrives.
 */
function onKeyRemoved(tokenSerial: string | undefined): void {
  if (tokenSerial) cancelPromptsForToken(tokenSerial);
  const company = tokenSerial ? companies.get(tokenSerial) : undefined;
  const interrupted = tabs.interruptSubmissions(tokenSerial, company);
  if (interrupted.length > 0) {
    void browser.notifications
      .create(`yzt-removed-${Date.now()}`, {
        type: "basic",
        iconUrl: browser.runtime.getURL("icons/icon-128.png"),
        title: browser.i18n.getMessage("notificationRemovedTitle") || "证书已拔出",
        message: (company ? `${company}: ` : "") + (browser.i18n.getMessage("notificationRemovedMessage") || "证书已拔出，请重新插入证书后再提交"),
        priority: 2,
      })
      .catch(() => undefined);
  }
}

function onHostEvent(event: HostEvent): void {
  const tokenSerial = event.data.tokenSerial;
  if (event.event === "tokenremoved") onKeyRemoved(tokenSerial);
  if (event.event === "tokeninserted") tabs.broadcast({ type: "warning", show: false, ...(tokenSerial ? { tokenSerial } : {}) });
  tabs.broadcast({ type: "event", event: event.event, data: tokenSerial ? { tokenSerial } : {} });
  if (event.event !== "sessionended") void refreshBadge();
}

/** The key a validated call works on: named by a certificate id or a token serial. */
function keyOfCall(params: unknown): string | null {
  const { certificateId, tokenSerial } = params as { certificateId?: unknown; tokenSerial?: unknown };
  if (typeof certificateId === "string") return tokenSerialOfCertificate(certificateId);
  return typeof tokenSerial === "string" ? tokenSerial : null;
}

async function onPageCall(tab: PageTab, message: ContentToBackground): Promise<void> {
  const { id, method } = message;
  tab.pendingCalls.set(id, null);
  try {
    if (!isPageMethod(method)) throw new YztError("BAD_REQUEST", `unknown method "${String(method)}"`);
    const params = pageMethodParams[method].parse(message.params ?? {}, "params");
    const serial = keyOfCall(params);
    if (serial !== null) {
      tab.pendingCalls.set(id, serial);
      tabs.noteKeyUse(tab, serial);
    }
    if (method === "submissionBegin") {
      const { submissionId, label, tokenSerials } = params as PageParams<"submissionBegin">;
      tab.submissions.set(submissionId, { label, tokenSerials: new Set(tokenSerials ?? []) });
    } else if (method === "submissionEnd") {
      tab.submissions.delete((params as { submissionId: number }).submissionId);
    }
    const caller: Caller = { origin: tab.origin, tabId: tab.tabId };
    const result = await (handlers[method] as (p: unknown, c: Caller) => Promise<unknown>)(params, caller);
    tabs.reply(tab, id, { result: result ?? null });
  } catch (error) {
    const failure = YztError.from(error);
    const serial = tab.pendingCalls.get(id);
    if (failure.code === "TOKEN_REMOVED" && serial) onKeyRemoved(serial);
    tabs.reply(tab, id, { error: failure.toJSON() });
  }
}

browser.runtime.onConnect.addListener((port) => {
  if (port.name !== "yzt-page") return;
  const origin = senderOrigin(port.sender);
  const tabId = port.sender?.tab?.id;
  // Only the top frame of a tab, and only the extension's own content script, may use the API.
  const trusted = port.sender?.id === browser.runtime.id && tabId !== undefined && (port.sender?.frameId ?? 0) === 0 && origin !== null;
  const ready = trusted ? isAllowed(origin) : Promise.resolve(false);
  const queued: ContentToBackground[] = [];
  let tab: PageTab | null = null;
  let refused = false;
  port.onMessage.addListener((raw: unknown) => {
    const message = raw as ContentToBackground;
    if (typeof message !== "object" || message === null || message.type !== "call" || typeof message.id !== "number") return;
    if (refused) {
      port.postMessage({ type: "error", id: message.id, error: { code: "NOT_ALLOWED", message: "this site is not allowed to use the certificate API" } });
    } else if (tab) void onPageCall(tab, message);
    else queued.push(message);
  });
  void ready.then((allowed) => {
    if (!allowed) {
      refused = true;
      for (const message of queued) port.postMessage({ type: "error", id: message.id, error: { code: "NOT_ALLOWED", message: "this site is not allowed to use the certificate API" } });
      return;
    }
    tab = { port, origin: origin!, tabId: tabId!, pendingCalls: new Map(), submissions: new Map() };
    tabs.add(tab);
    for (const message of queued.splice(0)) void onPageCall(tab, message);
  });
});

browser.runtime.onMessage.addListener((raw: unknown, sender: Runtime.MessageSender) => {
  // Dialogs and the popup are extension pages; content scripts have the same id but a web page URL.
  if (sender.id !== browser.runtime.id || !sender.url?.startsWith(browser.runtime.getURL(""))) return undefined;
  const message = (raw ?? {}) as { type?: unknown };
  if (typeof message.type !== "string") return undefined;
  if (message.type.startsWith("prompt:")) return handlePromptMessage(message as Parameters<typeof handlePromptMessage>[0]);
  if (message.type.startsWith("popup:")) return handlePopupMessage(host, message as Parameters<typeof handlePopupMessage>[1]);
  return undefined;
});

host.onEvent(onHostEvent);
host.onOpen(() => void applySettings(host));
watchSettings(host);
host.connect();
void refreshBadge();
void syncUserScripts().catch(() => undefined);
