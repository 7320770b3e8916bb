/**
 * The blocking in-page warning shown when the USB key is pulled out during a submission (API.md section 3:
 * `[data-yzt-warning=token-removed]`). It lives in a closed shadow root so page styles and scripts cannot
 * restyle or fake its content; it stays until the key is back or the user dismisses it.
 */
import browser from "webextension-polyfill";

const HOST_ATTRIBUTE = "data-yzt-warning";
let current: HTMLElement | null = null;
/** The key the shown warning is about: only its return (or a dismissal) takes the warning away. */
let currentSerial: string | undefined;

export interface RemovalWarning {
  label?: string | undefined;
  /** Whose key went: with many keys in the hub, the user must know which one to put back. */
  company?: string | undefined;
  tokenSerial?: string | undefined;
}

function text(key: string, fallback: string): string {
  return browser.i18n.getMessage(key) || fallback;
}

export function showRemovalWarning({ label, company, tokenSerial }: RemovalWarning): void {
  hideRemovalWarning();
  currentSerial = tokenSerial;
  const host = document.createElement("yzt-warning");
  host.setAttribute(HOST_ATTRIBUTE, "token-removed");
  host.setAttribute("role", "alertdialog");
  host.setAttribute("aria-modal", "true");
  host.style.cssText = "all: initial; position: fixed; inset: 0; z-index: 2147483647; display: block;";
  const root = host.attachShadow({ mode: "closed" });
  const removed = text("warningTokenRemovedTitle", "证书已拔出，请重新插入证书后再提交");
  const title = company ? `${company}: ${removed}` : removed;
  // Also the dialog's accessible name: screen readers (and tests) read which company's key it is.
  host.setAttribute("aria-label", title);
  const detail = text("warningTokenRemovedDetail", "The certificate key was removed. Insert it again, then submit.");
  root.innerHTML = `
    <style>
      .backdrop { position: fixed; inset: 0; background: rgba(0,0,0,.55); display: flex; align-items: center; justify-content: center; }
      .box { background: #fff; border-top: 6px solid #c0392b; max-width: 460px; padding: 24px 28px; border-radius: 6px;
             font: 16px/1.6 "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; color: #222; box-shadow: 0 8px 30px rgba(0,0,0,.4); }
      h2 { margin: 0 0 8px; color: #c0392b; font-size: 20px; }
      p { margin: 0 0 6px; } .label { color: #555; font-size: 14px; }
      button { margin-top: 14px; padding: 6px 18px; font-size: 15px; cursor: pointer; }
    </style>
    <div class="backdrop"><div class="box">
      <h2></h2><p class="detail"></p><p class="label"></p>
      <button type="button" data-action="dismiss"></button>
    </div></div>`;
  root.querySelector("h2")!.textContent = `⚠ ${title}`;
  root.querySelector(".detail")!.textContent = detail;
  root.querySelector(".label")!.textContent = label ? `${text("warningSubmissionLabel", "正在进行的业务")}: ${label}` : "";
  const dismiss = root.querySelector("button")!;
  dismiss.textContent = text("warningDismiss", "我知道了");
  dismiss.addEventListener("click", () => hideRemovalWarning());
  (document.body ?? document.documentElement).appendChild(host);
  current = host;
  dismiss.focus();
}

/** Hides the warning; with a serial, only when the warning is about that key. */
export function hideRemovalWarning(tokenSerial?: string): void {
  if (tokenSerial !== undefined && currentSerial !== undefined && tokenSerial !== currentSerial) return;
  current?.remove();
  current = null;
  currentSerial = undefined;
}
