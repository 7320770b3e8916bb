/**
 * What a user does on the demo tax hall, done by the headless demo and by the package test: log in with
 * the PIN typed into the extension's window, then sign a declaration; screenshots are the evidence.
 */
import { join } from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { press, waitForDialog } from "./launch-browser.js";

/** Headless run: do what a user would, and keep screenshots as evidence. */
export async function walkThrough(page: Page, browser: Browser, pin: string, shots: string): Promise<void> {
  if (!(await page.evaluate(() => window.isSecureContext))) throw new Error(`${page.url()} is not a secure context`);
  await page.waitForSelector("#login:not([disabled])", { timeout: 15_000 });
  await page.click("#login");
  const dialog = await waitForDialog(browser, "pin", 15_000);
  await dialog.waitForSelector("input[name=pin]");
  await dialog.type("input[name=pin]", pin);
  await press(dialog, "button[type=submit]");
  await page.waitForSelector("#result[data-logged-in=true]", { timeout: 15_000 });
  await page.screenshot({ path: join(shots, "logged-in.png") });
  console.log(`已登录 logged in — screenshot ${join(shots, "logged-in.png")}`);
  await page.waitForSelector("#declaration", { timeout: 15_000 });
  await page.waitForFunction(() => document.getElementById("who")?.textContent?.includes("纳税人"), { timeout: 15_000 });
  await page.click("#submit");
  await page.waitForSelector("#result.ok", { timeout: 15_000 });
  await page.screenshot({ path: join(shots, "declared.png") });
  console.log(`申报已签名并验证 declaration signed and verified — screenshot ${join(shots, "declared.png")}`);
}

