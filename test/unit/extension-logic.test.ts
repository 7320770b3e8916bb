/** The extension's pure decisions: which origins get window.yzt, which badge to show, page call validation. */
import { describe, expect, it } from "vitest";
import type { TokenInfo, YztCertificate } from "../../protocol/types.js";
import { badgeStateFor } from "../../extension/background/badge-state.js";
import { isLoopbackOrigin, originAllowed, originMatchesPattern, siteRefusal } from "../../protocol/origin.js";
import { pageMethodParams } from "../../extension/shared/page-protocol.js";

describe("who gets the API (API.md section 4)", () => {
  it("gives it to https tax-hall origins only, never to http ones on the same names", () => {
    expect(originAllowed("https://etax.beijing.chinatax.gov.cn", [], false)).toBe(true);
    expect(originAllowed("https://tpass.beijing.gov.cn:8443", [], false)).toBe(true);
    expect(originAllowed("http://etax.beijing.chinatax.gov.cn", [], false)).toBe(false);
    expect(originAllowed("http://etax.beijing.chinatax.gov.cn", ["http://etax.beijing.chinatax.gov.cn"], false)).toBe(false);
    expect(originAllowed("https://etax-phish.example.com", [], false)).toBe(false);
  });

  it("gives it to https sites the user added, and to loopback ones only with the developer setting", () => {
    expect(originAllowed("https://tax.example.cn", ["https://tax.example.cn"], false)).toBe(true);
    for (const loopback of ["http://127.0.0.1:8930", "https://127.0.0.1", "https://localhost:8443", "http://[::1]:8080", "https://a.localhost"]) {
      expect(isLoopbackOrigin(loopback)).toBe(true);
      expect(originAllowed(loopback, [loopback], false)).toBe(false);
      expect(siteRefusal(loopback, false)).toBe("loopback");
      expect(originAllowed(loopback, [loopback], true)).toBe(true);
      expect(originAllowed(loopback, [], true)).toBe(false); // the setting allows adding them, not every one
    }
  });

  it("says why a site cannot be added", () => {
    expect(siteRefusal("http://tax.example.cn", false)).toBe("notHttps");
    expect(siteRefusal("https://tax.example.cn", false)).toBeNull();
    expect(siteRefusal("ftp://tax.example.cn", false)).toBe("notHttps");
    expect(siteRefusal("https://tax.example.cn/path", false)).toBe("malformed");
  });
});

describe("allow-list patterns", () => {
  it("matches the tax-hall domains and their subdomains on any scheme and port", () => {
    expect(originMatchesPattern("https://etax.beijing.chinatax.gov.cn", "*://*.chinatax.gov.cn/*")).toBe(true);
    expect(originMatchesPattern("http://chinatax.gov.cn:8080", "*://*.chinatax.gov.cn/*")).toBe(true);
    expect(originMatchesPattern("http://127.0.0.1:8930", "http://127.0.0.1/*")).toBe(true);
  });

  it("refuses look-alikes, other schemes and other hosts", () => {
    expect(originMatchesPattern("https://chinatax.gov.cn.evil.example", "*://*.chinatax.gov.cn/*")).toBe(false);
    expect(originMatchesPattern("https://evilchinatax.gov.cn", "*://*.chinatax.gov.cn/*")).toBe(false);
    expect(originMatchesPattern("https://127.0.0.1:8930", "http://127.0.0.1/*")).toBe(false);
    expect(originMatchesPattern("http://localhost:8930", "http://127.0.0.1/*")).toBe(false);
    expect(originMatchesPattern("file://", "*://*.chinatax.gov.cn/*")).toBe(false);
    expect(originMatchesPattern("not a url", "*://*.chinatax.gov.cn/*")).toBe(false);
  });
});

const token = (pin: Partial<TokenInfo["pin"]> = {}, present = true): TokenInfo => ({
  serial: "S", label: "L", manufacturer: "M", model: "X", present, loggedIn: false,
  pin: { retriesLeft: 10, countLow: false, finalTry: false, locked: false, mustChange: false, ...pin },
});
const cert = (status: YztCertificate["status"]) => ({ status }) as YztCertificate;

describe("toolbar badge", () => {
  it("shows none without a key, present when all is well, warning for trouble", () => {
    expect(badgeStateFor([], [], true)).toBe("none");
    expect(badgeStateFor([token({}, false)], [], true)).toBe("none");
    expect(badgeStateFor([token()], [cert("valid")], true)).toBe("present");
    expect(badgeStateFor([token({ countLow: true })], [cert("valid")], true)).toBe("warning");
    expect(badgeStateFor([token()], [cert("expiring")], true)).toBe("warning");
    expect(badgeStateFor([token({ mustChange: true })], [cert("valid")], true)).toBe("warning");
    expect(badgeStateFor([token()], [cert("valid")], false)).toBe("warning");
  });
});

describe("page call validation", () => {
  const id = "YZT0000000000001:0101";
  it("accepts the API's shapes and refuses the rest with BAD_REQUEST", () => {
    expect(pageMethodParams.login.parse({ certificateId: id, challenge: "x".repeat(16) })).toEqual({ certificateId: id, challenge: "x".repeat(16) });
    expect(() => pageMethodParams.login.parse({ certificateId: id, challenge: "short" }, "params")).toThrowError(/params\.challenge/);
    expect(() => pageMethodParams.login.parse({ certificateId: id, challenge: "x".repeat(16), origin: "https://evil" }, "params")).toThrowError(/params\.origin: unknown field/);
    expect(() => pageMethodParams.sign.parse({ certificateId: id, format: "raw" }, "params")).toThrowError(/exactly one of data or digest/);
    expect(() => pageMethodParams.sign.parse({ certificateId: id, format: "pkcs7-attached", digest: Buffer.alloc(32).toString("base64") }, "params")).toThrowError(/raw" and "pkcs7-detached" only/);
  });
});
