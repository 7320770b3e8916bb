/**
 * Launches real Chromium or Firefox ESR with the built extension and the real native host registered in
 * a throw-away profile (Chromium: <user-data-dir>/NativeMessagingHosts; Firefox: a temporary HOME's
 * ~/.mozilla/native-messaging-hosts). Nothing touches the user's own profiles. Used by the demo
 * (`npm start`), the end-to-end tests and the benchmark.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { chromeExtensionId, writeRegistration, type BrowserFamily } from "../native-host/install/host-manifest.js";
import { hostEntry, packageRoot } from "../native-host/install/paths.js";

const REPO_ROOT = packageRoot();

export const CHROMIUM = "/usr/bin/chromium";
export const FIREFOX = "/usr/bin/firefox-esr";

export interface BrowserSession {
  family: BrowserFamily;
  browser: Browser;
  dir: string;
  close(): Promise<void>;
}

export function extensionDir(family: BrowserFamily): string {
  return join(REPO_ROOT, "dist", family === "firefox" ? "extension-firefox" : "extension-chrome");
}

const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-dev-shm-usage",
];

export interface LaunchOptions {
  /** Show a window (needs a display); default headless. */
  headed?: boolean;
  /** Keep the profile here instead of a temporary directory that is deleted on close. */
  profileDir?: string;
  /** Register the native host (default). False simulates a machine where it was never installed. */
  registerHost?: boolean;
}

export async function launchBrowser(family: BrowserFamily, hostEnv: Record<string, string>, options: LaunchOptions = {}): Promise<BrowserSession> {
  if (!existsSync(extensionDir(family))) throw new Error(`${extensionDir(family)} is missing: run "npm run build" first`);
  const dir = options.profileDir ?? mkdtempSync(join(tmpdir(), `yzt-${family}-`));
  mkdirSync(dir, { recursive: true });
  const headless = !options.headed;
  const registration = {
    launcherPath: join(dir, "yzt-host.sh"),
    node: process.execPath,
    entry: hostEntry(),
    env: { YZT_LOG_FILE: join(dir, "host.log"), YZT_LOG_LEVEL: "debug", ...hostEnv },
    chromeId: chromeExtensionId(join(REPO_ROOT, "manifest.json")),
  };
  let browser: Browser;
  if (family === "chromium") {
    const profile = join(dir, "profile");
    if (options.registerHost !== false) writeRegistration({ ...registration, family, manifestDir: join(profile, "NativeMessagingHosts") });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless,
      defaultViewport: headless ? { width: 1200, height: 900 } : null,
      userDataDir: profile,
      pipe: true,
      enableExtensions: [extensionDir(family)],
      args: CHROMIUM_ARGS,
    });
  } else {
    const home = join(dir, "home");
    if (options.registerHost !== false) writeRegistration({ ...registration, family, manifestDir: join(home, ".mozilla", "native-messaging-hosts") });
    browser = await puppeteer.launch({
      browser: "firefox",
      executablePath: FIREFOX,
      headless,
      userDataDir: join(dir, "profile"),
      env: { ...process.env, HOME: home } as Record<string, string>,
      extraPrefsFirefox: {
        "extensions.autoDisableScopes": 0,
        "datareporting.policy.dataSubmissionEnabled": false,
        "browser.shell.checkDefaultBrowser": false,
        "network.captive-portal-service.enabled": false,
        "app.update.enabled": false,
      },
    });
    await browser.installExtension(extensionDir(family));
  }
  return {
    family,
    browser,
    dir,
    async close() {
      await browser.close().catch(() => undefined);
      if (!options.profileDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits for an extension dialog window (picker / pin / change-pin) and returns its page. Pages are asked
 * for their own location: over WebDriver BiDi, Firefox reports extension popups as about:blank.
 */
export async function waitForDialog(browser: Browser, name: "picker" | "pin" | "change-pin", timeout = 10_000): Promise<Page> {
  const page = await waitForExtensionPage(browser, `/extension/ui/${name}.html`, timeout);
  // Typing before the dialog's script is ready would go nowhere: wait for its form to say so.
  await page.waitForSelector("form[data-ready=true]", { timeout });
  return page;
}

/** Any open extension page whose location contains `wanted`. */
export async function waitForExtensionPage(browser: Browser, wanted: string, timeout = 10_000): Promise<Page> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    // Newest first: an older dialog that is still closing must not be mistaken for the new one.
    for (const page of (await browser.pages()).reverse()) {
      const href = page.url().includes(wanted) ? page.url() : await page.evaluate(() => location.href).catch(() => "");
      if (href.includes(wanted)) return page;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no page ${wanted} within ${timeout} ms`);
}

/**
 * Clicks a dialog button that may close the dialog window: the window can vanish between the mouse-down
 * and mouse-up the driver sends, which is success, not failure.
 */
export async function press(dialog: Page, selector: string): Promise<void> {
  try {
    await dialog.click(selector);
  } catch (error) {
    if (!/Target closed|TargetCloseError|No target with given id|Session closed|browsing context|no such frame/i.test(String(error))) throw error;
  }
}
