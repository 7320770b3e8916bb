/**
 * BJCA's synchronous library (xtxsync) blocks on an XMLHttpRequest to 127.0.0.1:21051/synctl (21061 on
 * https). No extension can answer a synchronous request, so instead of failing silently the page shows a
 * notice saying so, the extension remembers the site for its popup, and the console tells the site's
 * developers what to use instead. The request itself goes on unchanged (and fails, as without a service).
 */
import type { PageBridge } from "../bridge.js";

const SYNC_URL = /^https?:\/\/(?:127\.0\.0\.1|localhost):(?:21051|21061)\/synctl\b/i;

function showNotice(message: string): void {
  if (document.querySelector("[data-yzt-notice=xtx-sync]")) return;
  const host = document.createElement("div");
  host.dataset.yztNotice = "xtx-sync";
  host.style.cssText = "position:fixed;left:0;right:0;top:0;z-index:2147483647";
  const shadow = host.attachShadow({ mode: "closed" });
  const box = document.createElement("div");
  box.setAttribute("role", "alert");
  box.style.cssText = "margin:8px auto;max-width:720px;padding:12px 16px;background:#fff4e5;border:2px solid #e67e22;border-radius:6px;font:14px/1.5 sans-serif;color:#333";
  box.textContent = message;
  const close = document.createElement("button");
  close.textContent = "×";
  close.setAttribute("aria-label", "close");
  close.style.cssText = "float:right;border:0;background:none;font-size:18px;cursor:pointer";
  close.addEventListener("click", () => host.remove());
  box.prepend(close);
  shadow.append(box);
  (document.body ?? document.documentElement).append(host);
}

export function detectSyncLibrary(bridge: PageBridge): void {
  if (typeof XMLHttpRequest === "undefined") return;
  const open = XMLHttpRequest.prototype.open;
  let reported = false;
  XMLHttpRequest.prototype.open = function (this: XMLHttpRequest, ...args: Parameters<typeof open>) {
    if (!reported && SYNC_URL.test(String(args[1]))) {
      reported = true;
      console.warn("yzt-bridge: this page uses BJCA's synchronous XTXApp library (xtxsync, /synctl), which a browser extension cannot answer. Use xtxasyn.js (WebSocket) or window.yzt.");
      void bridge
        .call<{ message: string }>("xtxSyncDetected")
        .then((answer) => showNotice(answer.message))
        .catch(() => undefined);
    }
    return open.apply(this, args);
  } as typeof open;
}
