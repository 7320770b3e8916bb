/**
 * Driving `window.yzt` in a browser page from a test: start a call without awaiting it (a dialog may have
 * to be answered first), collect its outcome later, and log in by typing the PIN into the extension's own
 * dialog, as a user would.
 */
import type { Browser, Page } from "puppeteer-core";
import { press, waitForDialog } from "../../scripts/launch-browser.js";

declare global {
  interface Window {
    yzt: any;
    __calls: Record<string, Promise<unknown>>;
    __events: string[];
    /** Lets a test hold a page's work open and release it later. */
    __release: ((value?: unknown) => void) | undefined;
    /** Set by a test's submission work once it has asked for its signature. */
    __signAsked: boolean | undefined;
    /** Names of submissions whose work has started. */
    __started: string[];
  }
}

export interface CallOutcome<T = unknown> {
  ok: boolean;
  value?: T;
  code?: string;
  message?: string;
  data?: Record<string, unknown>;
}

export async function startCall(page: Page, name: string, expression: string): Promise<void> {
  await page.evaluate(
    (callName, code) => {
      window.__calls ??= {};
      // eslint-disable-next-line no-new-func
      window.__calls[callName] = (new Function(`return (${code});`)() as Promise<unknown>).then(
        (value) => ({ ok: true, value }),
        (error: { code?: string; message?: string; data?: unknown }) => ({ ok: false, code: error.code, message: error.message, data: error.data }),
      );
    },
    name,
    expression,
  );
}

export async function callResult<T = unknown>(page: Page, name: string): Promise<CallOutcome<T>> {
  return page.evaluate((callName) => window.__calls[callName], name) as Promise<CallOutcome<T>>;
}

/** Replaces an input's value, as a user selecting the old text and typing over it would. */
export async function fill(page: Page, selector: string, value: string): Promise<void> {
  await page.$eval(selector, (input) => {
    (input as HTMLInputElement).value = "";
  });
  await page.type(selector, value);
}

/** yzt.login with the PIN typed into the extension's PIN window; resolves to the call's outcome. */
export async function loginWithPin<T = unknown>(browser: Browser, page: Page, certificateId: string, pin: string, challenge = `challenge-${Date.now()}-0123456789`): Promise<CallOutcome<T>> {
  await startCall(page, "loginWithPin", `window.yzt.login({ certificateId: ${JSON.stringify(certificateId)}, challenge: ${JSON.stringify(challenge)} })`);
  const prompt = await waitForDialog(browser, "pin");
  await prompt.waitForSelector("form input[type=password][name=pin]");
  await prompt.type("input[name=pin]", pin);
  await press(prompt, "button[type=submit]");
  return callResult<T>(page, "loginWithPin");
}

/** Opens an allowed page in a new tab, waits for window.yzt, and records every event in window.__events. */
export async function openApiPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => typeof window.yzt === "object", { timeout: 10_000 });
  await page.evaluate(() => {
    window.__events = [];
    for (const type of ["tokeninserted", "tokenremoved", "sessionended", "certificateschanged"]) {
      window.yzt.addEventListener(type, (e: { tokenSerial?: string }) => window.__events.push(`${type}:${e.tokenSerial ?? ""}`));
    }
  });
  return page;
}
