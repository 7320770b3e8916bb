/**
 * `yzt doctor --system`'s per-browser checks for the Linux package: a browser found installed is checked for
 * its host manifest and for the extension's delivery (external-extension file, Firefox policy naming the
 * extension); absent browsers are not mentioned. A fake file system stands for the machine.
 */
import { describe, expect, it } from "vitest";
import { browserDeliveryChecks, type DeliveryProbe } from "../../native-host/install/browser-delivery.js";
import { FIREFOX_EXTENSION_ID } from "../../native-host/install/host-manifest.js";

const CHROME_ID = "b".repeat(32);
const HOST = "org.yztbridge.host.json";
const OUR_POLICY = JSON.stringify({ policies: { ExtensionSettings: { [FIREFOX_EXTENSION_ID]: { installation_mode: "force_installed", install_url: "file:///etc/firefox/policies/yzt-bridge-firefox.xpi" } } } });

function machine(files: Record<string, string>, profiles: string[] = []): DeliveryProbe {
  return { exists: (path) => path in files, read: (path) => files[path] ?? null, profiles: (name) => profiles.filter((dir) => dir.endsWith(`/.config/${name}`)) };
}

describe("per-browser delivery checks", () => {
  it("say ok for a browser that sees the host and gets the extension, and nothing of browsers not installed", () => {
    const checks = browserDeliveryChecks(CHROME_ID, machine({
      "/usr/bin/chromium": "",
      [`/etc/chromium/native-messaging-hosts/${HOST}`]: "{}",
      [`/usr/share/chromium/extensions/${CHROME_ID}.json`]: "{}",
    }));
    expect(checks).toEqual([expect.objectContaining({ id: "browser", status: "ok", detail: { browser: "Chromium", installed: true, hostRegistered: true, extensionDelivered: true } })]);
  });

  it("check snap Firefox against /etc/firefox/policies, and take an administrator's policy without our entry as not delivered", () => {
    const base = { "/snap/bin/firefox": "", [`/usr/lib/mozilla/native-messaging-hosts/${HOST}`]: "{}" };
    expect(browserDeliveryChecks(CHROME_ID, machine({ ...base, "/etc/firefox/policies/policies.json": OUR_POLICY }))).toEqual([expect.objectContaining({ status: "ok", detail: expect.objectContaining({ browser: "Firefox (snap)" }) })]);
    const [foreign] = browserDeliveryChecks(CHROME_ID, machine({ ...base, "/etc/firefox/policies/policies.json": '{"policies":{"DisableTelemetry":true}}' }));
    expect(foreign).toMatchObject({ status: "warning", detail: { hostRegistered: true, extensionDelivered: false } });
    expect(foreign!.message).toContain("扩展未送达");
    expect(foreign!.message).toContain("extension not delivered");
  });

  it("name the UOS browser's missing host and extension, each with its repair", () => {
    const [uos] = browserDeliveryChecks(CHROME_ID, machine({ "/usr/share/applications/org.deepin.browser.desktop": "" }));
    expect(uos).toMatchObject({ status: "warning", detail: { browser: "统信 UOS 浏览器 (org.deepin.browser)", hostRegistered: false, extensionDelivered: false } });
    expect(uos!.message).toContain("sudo yzt doctor --system --fix");
    expect(uos!.message).toContain("apt install --reinstall yzt-bridge");
  });

  it("check 360安全浏览器 in every user's profile: ok when each holds the manifest and the external extension, the count when some do not", () => {
    const binary = { "/opt/apps/com.360.browser-stable/files/browser360": "" };
    const profiles = ["/root/.config/com.360.browser", "/home/zhang/.config/com.360.browser"];
    const filesOf = (profile: string) => ({ [`${profile}/NativeMessagingHosts/${HOST}`]: "{}", [`${profile}/External Extensions/${CHROME_ID}.json`]: "{}" });
    const both = browserDeliveryChecks(CHROME_ID, machine({ ...binary, ...filesOf(profiles[0]!), ...filesOf(profiles[1]!) }, profiles));
    expect(both).toEqual([expect.objectContaining({ status: "ok", detail: expect.objectContaining({ profiles: 2, hostRegistered: 2, extensionOffered: 2 }) })]);
    const [one] = browserDeliveryChecks(CHROME_ID, machine({ ...binary, ...filesOf(profiles[0]!) }, profiles));
    expect(one).toMatchObject({ status: "warning", detail: { hostRegistered: 1, extensionOffered: 1 } });
    expect(one!.message).toContain("yzt install");
    const [none] = browserDeliveryChecks(CHROME_ID, machine(binary));
    expect(none).toMatchObject({ status: "warning", detail: { profiles: 0 } });
    expect(none!.message).toContain("尚无用户配置");
  });

  it("take a broken policies.json as not delivered, never as an error of the check", () => {
    const [firefox] = browserDeliveryChecks(CHROME_ID, machine({ "/usr/lib/firefox-esr/firefox-esr": "", [`/usr/lib/mozilla/native-messaging-hosts/${HOST}`]: "{}", "/usr/lib/firefox-esr/distribution/policies.json": "{not json" }));
    expect(firefox).toMatchObject({ status: "warning", detail: { extensionDelivered: false } });
  });
});
