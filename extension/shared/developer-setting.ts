/**
 * The developer setting that lets loopback sites (127.0.0.1, localhost) get the API, for site developers
 * testing locally. It lives in managed storage, which only an administrator's policy can write (Chrome
 * `3rdparty` extension policy, Firefox policies.json): no web page and no extension page can switch it
 * on, and a release package ships no policy. Off whenever it cannot be read.
 */
import browser from "webextension-polyfill";

export const DEVELOPER_LOOPBACK_KEY = "developerLoopback";

export async function developerLoopbackEnabled(): Promise<boolean> {
  try {
    return (await browser.storage.managed.get(DEVELOPER_LOOPBACK_KEY))[DEVELOPER_LOOPBACK_KEY] === true;
  } catch {
    // No managed storage schema or no policy (the normal case): off.
    return false;
  }
}
