/**
 * What a user does on the demo 一证通服务平台 (the issuer's site) once the tax-hall walk is done, as the headless
 * demo does it: insert the key whose certificate expires in ten days, renew it (an extension consent window
 * before each write, the PIN typed in the first), log into the tax hall with the new certificate, then unlock
 * the key after its PIN was locked, choosing the new PIN in the extension's window. Screenshots are the evidence.
 */
import { join } from "node:path";
import type { Browser, Page } from "puppeteer-core";
import { insertToken, removeToken, serialOf, setRetries } from "../test/virtual-token/state.js";
import { press, waitForDialog } from "./launch-browser.js";

export interface IssuerWalk {
  browser: Browser;
  /** The tab the tax-hall walk used. */
  taxHall: Page;
  taxHallUrl: string;
  issuerUrl: string;
  /** The virtual token's home: the walk inserts its expiring key and locks its PIN there. */
  home: string;
  pin: string;
  shots: string;
}

const RENEWING_KEY = "expiring";
/** A renewal is four consent windows and a CA round trip; a machine under load may take a while for each. */
const STEP_TIMEOUT_MS = 60_000;

/** Answers every consent window the page opens until `finished` shows on it; how many there were. */
async function answerConsents(browser: Browser, page: Page, finished: string, answer: (dialog: Page) => Promise<void>): Promise<number> {
  const answered = new Set<Page>();
  const deadline = Date.now() + 4 * STEP_TIMEOUT_MS;
  while (!(await page.$(finished))) {
    if (Date.now() > deadline) throw new Error(`${page.url()}: no ${finished} after ${answered.size} consent windows`);
    // A short wait per round: the page may finish instead of opening another window.
    const dialog = await waitForDialog(browser, "consent", 1_000, answered).catch(() => null);
    if (!dialog) continue;
    answered.add(dialog);
    await answer(dialog);
    await press(dialog, "button[type=submit]");
  }
  return answered.size;
}

/** The page's #result, failing the walk when the page says the operation failed. */
async function resultOf(page: Page, what: string): Promise<string> {
  const result = await page.$eval("#result", (element) => ({ failed: (element as HTMLElement).dataset.failed, text: element.textContent ?? "" }));
  if (result.failed) throw new Error(`${what} failed (${result.failed}): ${result.text}`);
  return result.text;
}

async function renew(walk: IssuerWalk, issuer: Page, serial: string): Promise<void> {
  await issuer.goto(new URL("/renew.html", walk.issuerUrl).href);
  const button = `[data-renew^="${serial}:"]:not([disabled])`;
  await issuer.waitForSelector(button, { timeout: STEP_TIMEOUT_MS });
  await issuer.click(button);
  let first = true;
  const windows = await answerConsents(walk.browser, issuer, "#result[data-renewed], #result[data-failed]", async (dialog) => {
    if (first) await dialog.screenshot({ path: join(walk.shots, "consent.png") });
    first = false;
    if (await dialog.$("#pin-field:not([hidden])")) await dialog.type("input[name=pin]", walk.pin);
  });
  const text = await resultOf(issuer, "renewal");
  await issuer.screenshot({ path: join(walk.shots, "renewed.png") });
  console.log(`证书更新成功 renewed (${windows} consent windows): ${text} — screenshots ${join(walk.shots, "consent.png")}, ${join(walk.shots, "renewed.png")}`);
}

/** Logs into the tax hall choosing the renewed key's certificate in the picker, the PIN in the PIN window. */
async function logInWithRenewed(walk: IssuerWalk, serial: string): Promise<void> {
  const page = walk.taxHall;
  await page.bringToFront();
  await page.goto(walk.taxHallUrl);
  await page.waitForSelector("#login:not([disabled])", { timeout: STEP_TIMEOUT_MS });
  await page.click("#login");
  const picker = await waitForDialog(walk.browser, "picker", STEP_TIMEOUT_MS);
  const renewed = `[data-certificate-id^="${serial}:"]`;
  await picker.waitForSelector(renewed, { timeout: STEP_TIMEOUT_MS });
  await press(picker, `${renewed} .holder`);
  await press(picker, "button[type=submit]");
  // This site holds no session on the renewed key yet: its PIN window comes next.
  const dialog = await waitForDialog(walk.browser, "pin", STEP_TIMEOUT_MS);
  await dialog.type("input[name=pin]", walk.pin);
  await press(dialog, "button[type=submit]");
  await page.waitForSelector(`#result[data-logged-in=true][data-certificate-id^="${serial}:"]`, { timeout: STEP_TIMEOUT_MS });
  await page.screenshot({ path: join(walk.shots, "renewed-login.png") });
  console.log(`已用新证书登录 logged in with the renewed certificate — screenshot ${join(walk.shots, "renewed-login.png")}`);
}

/** Locks the key's PIN as ten wrong tries do, then unlocks it online with the demo PIN as the new one. */
async function unlock(walk: IssuerWalk, issuer: Page, serial: string): Promise<void> {
  setRetries(walk.home, RENEWING_KEY, 0);
  await issuer.bringToFront();
  await issuer.goto(new URL("/unlock.html", walk.issuerUrl).href);
  await issuer.waitForSelector(`[data-unlock="${serial}"]`, { timeout: STEP_TIMEOUT_MS });
  await issuer.click(`[data-unlock="${serial}"]`);
  await answerConsents(walk.browser, issuer, "#result[data-unlocked], #result[data-failed]", async (dialog) => {
    await dialog.type("input[name=newPin]", walk.pin);
    await dialog.type("input[name=confirmPin]", walk.pin);
  });
  const text = await resultOf(issuer, "unlock");
  await issuer.screenshot({ path: join(walk.shots, "unlocked.png") });
  console.log(`证书解锁成功 unlocked: ${text} — screenshot ${join(walk.shots, "unlocked.png")}`);
}

export async function walkThroughIssuer(walk: IssuerWalk): Promise<void> {
  const serial = serialOf(walk.home, RENEWING_KEY);
  insertToken(walk.home, RENEWING_KEY);
  console.log(`插入即将到期的证书 inserted the key whose certificate expires soon (${serial})`);
  const issuer = await walk.browser.newPage();
  try {
    await renew(walk, issuer, serial);
    await logInWithRenewed(walk, serial);
    await unlock(walk, issuer, serial);
  } finally {
    // The demo starts with the demo key alone inserted; a renewed key stays renewed.
    removeToken(walk.home, RENEWING_KEY);
  }
}
