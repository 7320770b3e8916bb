/**
 * The tabs that talk to us: one runtime port per allowed top-level page, the calls each is waiting on and
 * the submissions it has marked. When a key is pulled out, tabs in a submission get their pending calls
 * rejected with TOKEN_REMOVED and the in-page warning; every tab gets the event.
 */
import type { Runtime } from "webextension-polyfill";
import type { ErrorBody } from "../../protocol/errors.js";
import type { BackgroundToContent } from "../shared/page-protocol.js";

export interface PageTab {
  port: Runtime.Port;
  origin: string;
  tabId: number;
  pendingCalls: Set<number>;
  submissions: Map<number, string>;
}

export class TabRegistry {
  private readonly tabs = new Set<PageTab>();

  add(tab: PageTab): void {
    this.tabs.add(tab);
    tab.port.onDisconnect.addListener(() => this.tabs.delete(tab));
  }

  post(tab: PageTab, message: BackgroundToContent): void {
    try {
      tab.port.postMessage(message);
    } catch {
      // The tab navigated away; its port is being torn down.
      this.tabs.delete(tab);
    }
  }

  reply(tab: PageTab, id: number, outcome: { result: unknown } | { error: ErrorBody }): void {
    if (!tab.pendingCalls.delete(id)) return; // already answered (e.g. rejected on removal)
    this.post(tab, "error" in outcome ? { type: "error", id, error: outcome.error } : { type: "result", id, result: outcome.result });
  }

  broadcast(message: BackgroundToContent): void {
    for (const tab of this.tabs) this.post(tab, message);
  }

  /** Tabs in a submission when the key went: fail their calls now and show the warning. Returns them. */
  interruptSubmissions(tokenSerial: string | undefined): PageTab[] {
    const hit = [...this.tabs].filter((tab) => tab.submissions.size > 0);
    for (const tab of hit) {
      const error: ErrorBody = { code: "TOKEN_REMOVED", message: "证书已拔出，请重新插入证书后再提交 (the token was removed)", ...(tokenSerial ? { data: { tokenSerial } } : {}) };
      for (const id of [...tab.pendingCalls]) this.reply(tab, id, { error });
      const label = [...tab.submissions.values()].at(-1);
      this.post(tab, { type: "warning", show: true, ...(tokenSerial ? { tokenSerial } : {}), ...(label ? { label } : {}) });
    }
    return hit;
  }
}
