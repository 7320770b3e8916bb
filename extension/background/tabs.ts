/**
 * The tabs that talk to us: one runtime port per allowed top-level page, the calls each is waiting on and
 * the submissions it has marked. A submission uses the keys the page named (tokenSerials) and every key a
 * call made while it runs touched. When a key is pulled out, only the submissions that used it are
 * aborted: their pending calls on that key fail with TOKEN_REMOVED, the page rejects them, and the in-page
 * warning names the company whose key went. Every tab gets the event.
 */
import type { Runtime } from "webextension-polyfill";
import type { ErrorBody } from "../../protocol/errors.js";
import type { BackgroundToContent } from "../shared/page-protocol.js";

export interface Submission {
  label: string;
  tokenSerials: Set<string>;
}

export interface PageTab {
  port: Runtime.Port;
  origin: string;
  tabId: number;
  /** Call id → the serial of the key it uses (null: no key, e.g. status). */
  pendingCalls: Map<number, string | null>;
  submissions: Map<number, Submission>;
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

  /** A call of this tab is about to use this key: every submission running in the tab now uses it too. */
  noteKeyUse(tab: PageTab, tokenSerial: string): void {
    for (const submission of tab.submissions.values()) submission.tokenSerials.add(tokenSerial);
  }

  /**
   * The key went: abort the submissions that used it (all of them when the host could not say which key),
   * fail their calls on it now and show the warning. Returns the tabs hit.
   */
  interruptSubmissions(tokenSerial: string | undefined, company: string | undefined): PageTab[] {
    const hitTabs: PageTab[] = [];
    for (const tab of this.tabs) {
      const aborted = [...tab.submissions].filter(([, submission]) => tokenSerial === undefined || submission.tokenSerials.has(tokenSerial));
      if (aborted.length === 0) continue;
      hitTabs.push(tab);
      // Aborted once: the event that may follow a call's own TOKEN_REMOVED warns and notifies no second time.
      for (const [id] of aborted) tab.submissions.delete(id);
      const error: ErrorBody = { code: "TOKEN_REMOVED", message: "证书已拔出，请重新插入证书后再提交 (the token was removed)", ...(tokenSerial ? { data: { tokenSerial } } : {}) };
      for (const [id, serial] of [...tab.pendingCalls]) {
        if (tokenSerial === undefined || serial === tokenSerial) this.reply(tab, id, { error });
      }
      this.post(tab, { type: "event", event: "submissionaborted", data: { ...(tokenSerial ? { tokenSerial } : {}), submissionIds: aborted.map(([id]) => id) } });
      const label = aborted.at(-1)![1].label;
      this.post(tab, { type: "warning", show: true, ...(tokenSerial ? { tokenSerial } : {}), ...(label ? { label } : {}), ...(company ? { company } : {}) });
    }
    return hitTabs;
  }
}
