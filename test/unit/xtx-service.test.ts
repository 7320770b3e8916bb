/**
 * The XTXApp layer without a browser: every wire variant BJCA's libraries send parses to the same call,
 * replies carry strings the old libraries can compare, and the service answers each kind of function with
 * its value or BJCA's failure value plus an explanation — with a fake bridge standing in for the extension.
 * (Browser tests in test/e2e/xtx.test.ts drive the same code against the real token.)
 */
import { describe, expect, it } from "vitest";
import type { PageBridge } from "../../extension/page/bridge.js";
import { YztError } from "../../extension/page/bridge.js";
import { tokenSerialOf, xtxCertId, yztCertId } from "../../extension/page/xtx/cert-id.js";
import { createXtxService } from "../../extension/page/xtx/index.js";
import { encodeReply, parseCall } from "../../extension/page/xtx/wire.js";
import { REFUSED_FUNCTIONS } from "../../extension/page/xtx/refused.js";
import { ADMIN_PIN_REFUSAL, KEY_WRITE_REFUSAL } from "../../extension/shared/refusals.js";

describe("XTXApp wire format", () => {
  const expected = { id: "i_7", name: "SOF_Login", params: ["0101/S1", "12345678"] };

  it("reads param_1..n only (TypeScript clients), param only (XTXSAB), and both (xtxasyn, _BJCAWebSign)", () => {
    expect(parseCall(JSON.stringify({ xtx_func_name: "SOF_Login", call_cmd_id: "i_7", param_1: "0101/S1", param_2: "12345678" }))).toEqual(expected);
    expect(parseCall(JSON.stringify({ xtx_func_name: "SOF_Login", call_cmd_id: "i_7", param: ["0101/S1", "12345678"] }))).toEqual(expected);
    expect(parseCall(JSON.stringify({ xtx_func_name: "SOF_Login", call_cmd_id: "i_7", param: ["0101/S1", "12345678"], param_1: "0101/S1", param_2: "12345678" }))).toEqual(expected);
  });

  it("ignores the extra fields libraries add (cookie, URL, CLSID, func, token, count)", () => {
    const frame = { xtx_func_name: "SOF_Login", call_cmd_id: "i_7", param: ["0101/S1", "12345678"], cookie: "a=b", URL: "https://etax/x", CLSID: "3F367B74-92D9-4C5E-AB93-234F8A91D5E6", func: "SOF_Login", token: "t", count: 2 };
    expect(parseCall(JSON.stringify(frame))).toEqual(expected);
  });

  it("keeps argument types, takes numbered fields over an empty list, and accepts numeric ids and `func`", () => {
    expect(parseCall(JSON.stringify({ xtx_func_name: "GetDeviceInfo", call_cmd_id: 3, param: ["0101/S1", 7] }))).toEqual({ id: 3, name: "GetDeviceInfo", params: ["0101/S1", 7] });
    expect(parseCall(JSON.stringify({ func: "SOF_GetVersion", call_cmd_id: "i_1", param: [] }))).toEqual({ id: "i_1", name: "SOF_GetVersion", params: [] });
    expect(parseCall(JSON.stringify({ xtx_func_name: "SOF_IsLogin", call_cmd_id: "i_2", param: [], param_1: "0101/S1" }))!.params).toEqual(["0101/S1"]);
  });

  it("treats heartbeats, malformed JSON and frames without a call id as no call", () => {
    for (const frame of ["", "  ", "{", "[1,2]", "null", JSON.stringify({ xtx_func_name: "SOF_GetVersion" }), JSON.stringify({ call_cmd_id: {}, xtx_func_name: "x" }), 42]) {
      expect(parseCall(frame)).toBeNull();
    }
  });

  it("sends booleans and numbers as strings, which every library parses (== \"true\", Number())", () => {
    expect(JSON.parse(encodeReply("i_1", true))).toEqual({ call_cmd_id: "i_1", retVal: "true" });
    expect(JSON.parse(encodeReply("i_2", false))).toEqual({ call_cmd_id: "i_2", retVal: "false" });
    expect(JSON.parse(encodeReply(5, -1))).toEqual({ call_cmd_id: 5, retVal: "-1" });
    expect(JSON.parse(encodeReply("i_3", "abc"))).toEqual({ call_cmd_id: "i_3", retVal: "abc" });
  });

  it("maps BJCA certIDs (container/SN) and yzt ids onto each other", () => {
    expect(xtxCertId({ id: "YZT01:0101", tokenSerial: "YZT01" })).toBe("0101/YZT01");
    expect(yztCertId("0101/YZT01")).toBe("YZT01:0101");
    expect(yztCertId("YZT01:0101")).toBe("YZT01:0101");
    expect(yztCertId("YZT01")).toBeNull();
    expect(["0101/YZT01", "YZT01:0101", "YZT01"].map(tokenSerialOf)).toEqual(["YZT01", "YZT01", "YZT01"]);
  });
});

const SIGN = { id: "S1:0101", tokenSerial: "S1", der: "MIIBAA==", holderName: "北京甲公司", subject: { CN: "北京甲公司" }, purpose: "sign", keyAlgorithm: "SM2" };
const ENC = { ...SIGN, id: "S1:0202", der: "MIICAA==", purpose: "encrypt" };

function refusedWith(message: string): () => never {
  return () => {
    throw new YztError("NOT_ALLOWED", message, { refusal: true });
  };
}

function fakeBridge(answers: Record<string, (params: Record<string, unknown>) => unknown> = {}): PageBridge & { calls: Array<[string, unknown]> } {
  const calls: Array<[string, unknown]> = [];
  const defaults: Record<string, (params: Record<string, unknown>) => unknown> = {
    listCertificates: (params) => [SIGN, ENC].filter((c) => !params.purpose || c.purpose === params.purpose),
    status: () => ({ host: "ok", tokens: [{ serial: "S1", label: "BJ-YZT", manufacturer: "BJCA", model: "UKey", present: true, pin: { retriesLeft: 10, locked: false } }] }),
    sign: () => ({ signature: Buffer.alloc(64, 1).toString("base64") }),
    // The background's answer to a site that is not an issuer site (extension/background/lifecycle-calls.ts).
    ...Object.fromEntries(
      ["listContainers", "generateKeyPair", "createCertificateRequest", "importCertificate", "deleteContainer"].map((method) => [method, refusedWith(KEY_WRITE_REFUSAL)]),
    ),
    unlockPin: refusedWith(ADMIN_PIN_REFUSAL),
  };
  return {
    calls,
    async call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      calls.push([method, params]);
      const answer = answers[method] ?? defaults[method];
      if (!answer) throw new YztError("INTERNAL", `unexpected ${method}`);
      return answer(params) as T;
    },
    onEvent() {},
    onReady() {},
  };
}

describe("XTXApp service", () => {
  it("answers the user list, device queries and certificate exports in BJCA's formats", async () => {
    const service = createXtxService(fakeBridge());
    expect(await service.run("GetUserList", [])).toBe("北京甲公司||0101/S1&&&");
    expect(await service.run("GetDeviceInfo", ["0101/S1", 7])).toBe("HARD");
    expect(await service.run("GetDeviceInfo", ["S1", 4])).toBe("SM2");
    expect(await service.run("GetDeviceInfo", ["S1", 115])).toBe("20");
    expect(await service.run("GetDeviceCount", [])).toBe(1);
    expect(await service.run("GetAllDeviceSN", [])).toBe("S1;");
    expect(await service.run("GetDeviceSNByIndex", [0])).toBe("S1");
    expect(await service.run("IsDeviceExist", ["S1"])).toBe(true);
    expect(await service.run("IsDeviceExist", ["S2"])).toBe(false);
    expect(await service.run("GetContainerCount", ["S1"])).toBe(1);
    expect(await service.run("SOF_GetAllContainerName", ["S1"])).toBe("0101&&&");
    expect(await service.run("GetSignCert", ["0101/S1"])).toBe(SIGN.der);
    expect(await service.run("GetExchCert", ["0101/S1"])).toBe(ENC.der);
  });

  it("answers the failure value of each kind, with SOF_GetLastError / SOF_GetLastErrMsg saying why", async () => {
    const bridge = fakeBridge({ xtxLogin: () => Promise.reject(new YztError("PIN_INCORRECT", "wrong", { retriesLeft: 8 })) });
    const service = createXtxService(bridge);
    expect(await service.run("SOF_Login", ["0101/S1", "0000"])).toBe(false);
    expect(await service.run("SOF_GetLastError", [])).toBe(0x0b000202);
    expect(await service.run("SOF_GetLastErrMsg", [])).toMatch(/^证书口令错误.*还可以尝试 8 次/);
    expect(await service.run("SOF_GetVersion", [])).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await service.run("SOF_GetLastError", [])).toBe(0x0b000202); // heartbeats do not clear it
    expect(await service.run("SOF_ExportUserCert", ["0909/S9"])).toBe("");
    expect(await service.run("SOF_GetCertInfo", ["not base64!", 1])).toBe("");
    expect(bridge.calls.some(([method]) => method === "xtxCertInfo")).toBe(false);
    expect(await service.run("SOF_SetSignMethod", [0x00010002])).toBe(-1); // SHA-1 with RSA is refused
    expect(await service.run("SOF_SetSignMethod", [0x00020101])).toBe(0);
    expect(await service.run("SOF_GetSignMethod", [])).toBe(0x00020101);
    expect(await service.run("SOF_GetLastError", [])).toBe(0);
  });

  it("refuses file, key-writing, admin-PIN and soft-device functions with an explanation, and guesses the kind of unknown ones", async () => {
    const service = createXtxService(fakeBridge());
    expect(await service.run("SOF_SignFile", ["0101/S1", "C:\\a.txt"])).toBe("");
    expect(await service.run("SOF_GetLastErrMsg", [])).toContain("本机文件");
    expect(await service.run("UnlockUserPass", ["S1", "admin", "1234"])).toBe(false);
    expect(await service.run("SOF_GetLastErrMsg", [])).toContain("yzt unlock");
    expect(await service.run("SOF_UpdateCert", ["0101/S1", 1])).toBe(-1);
    expect(await service.run("CreateSoftDevice", ["S9", "x"])).toBe(false);
    expect(await service.run("SOF_NoSuchThing", [])).toBe("");
    expect(await service.run("SOF_IsSomethingNew", [])).toBe(false);
    expect(await service.run("GetWidgetCount", [])).toBe(-1);
    expect(await service.run("__proto__", [])).toBe("");
    expect(await service.run("SOF_GetLastError", [])).toBe(0x0b000004);
    expect(Object.keys(REFUSED_FUNCTIONS).length).toBeGreaterThan(100);
  });

  it("signs messages attached by default when XTXSAB's WebSocket path drops the flag, detached with flag 1", async () => {
    const bridge = fakeBridge();
    const service = createXtxService(bridge);
    await service.run("SOF_SignMessage", ["0101/S1", "数据"]);
    await service.run("SOF_SignMessage", [1, "0101/S1", "数据"]);
    await service.run("SOF_SignMessage", ["0", "0101/S1", "数据"]);
    const formats = bridge.calls.filter(([method]) => method === "sign").map(([, params]) => (params as { format: string }).format);
    expect(formats).toEqual(["pkcs7-attached", "pkcs7-detached", "pkcs7-attached"]);
    expect(await service.run("SOF_GetLastSignDataCertID", [])).toBe("0101/S1");
  });

  it("reports PIN retries (0 when locked) and SM2 raw signatures as DER, as BJCA's service does", async () => {
    const locked = fakeBridge({ status: () => ({ tokens: [{ serial: "S1", present: true, pin: { retriesLeft: 0, locked: true } }] }) });
    expect(await createXtxService(locked).run("SOF_GetPinRetryCount", ["0101/S1"])).toBe(0);
    const der = Buffer.from(String(await createXtxService(fakeBridge()).run("SOF_SignData", ["0101/S1", "随机数"])), "base64");
    expect(der[0]).toBe(0x30);
  });

  it("hashes with SM3, SHA-1 and SHA-256 and round-trips base64 as UTF-8", async () => {
    const service = createXtxService(fakeBridge());
    expect(Buffer.from(String(await service.run("SOF_HashData", [1, "abc"])), "base64").toString("hex")).toBe("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
    expect(Buffer.from(String(await service.run("SOF_HashData", [4, "abc"])), "base64").toString("hex")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(Buffer.from(String(await service.run("SOF_HashData", [2, "abc"])), "base64").toString("hex")).toBe("a9993e364706816aba3e25717850c26c9cd0d89d");
    expect(await service.run("SOF_HashData", [3, "abc"])).toBe("");
    expect(await service.run("SOF_Base64Decode", [await service.run("SOF_Base64Encode", ["国家税务总局"])])).toBe("国家税务总局");
    expect(Buffer.from(String(await service.run("SOF_GenRandom", [24])), "base64")).toHaveLength(24);
    expect(await service.run("SOF_GenRandom", [0])).toBe("");
  });
});

describe("XTXApp key life-cycle functions (issuer pages: 证书更新, 证书解锁)", () => {
  const CONTAINERS = [
    { name: "SM2-0101", keyAlgorithm: "SM2", signKeyId: "0101", encryptKeyId: "0202", signPublicKey: "U1BLSQ==", encryptPublicKey: "RU5DUA==", signCertificate: "Q0VSVA==" },
    { name: "YZT-RENEW-1", keyAlgorithm: "SM2", signKeyId: "0303", signPublicKey: "TkVXUA==" },
  ];
  /** What the background answers an issuer site: it records the calls and writes nothing itself. */
  const issuerBridge = () =>
    fakeBridge({
      listContainers: () => CONTAINERS,
      generateKeyPair: (params) => ({ container: params.container, publicKey: "TkVXUA==" }),
      createCertificateRequest: () => "UEtDUzEw",
      importCertificate: () => ({ purpose: "sign", certificateId: "S1:0303" }),
      deleteContainer: () => undefined,
      unlockPin: () => undefined,
    });

  it("drives a renewal the way BJCA's pages call it", async () => {
    const bridge = issuerBridge();
    const service = createXtxService(bridge);
    expect(await service.run("GenerateKeyPair", ["S1", "YZT-RENEW-1", "SM2", true])).toBe(true);
    expect(await service.run("GenerateKeyPair", ["S1", "YZT-RENEW-2", 1, 1])).toBe(true);
    expect(await service.run("ExportPubKey", ["S1", "YZT-RENEW-1", true])).toBe("TkVXUA==");
    expect(await service.run("ExportPubKey", ["S1", "0101", false])).toBe("RU5DUA=="); // a certID's container part names it too
    expect(await service.run("ExportPKCS10", ["S1", "YZT-RENEW-1", "CN=北京甲公司,O=北京甲公司,C=CN", true])).toBe("UEtDUzEw");
    expect(await service.run("ImportSignCert", ["S1", "YZT-RENEW-1", "Q0VSVA=="])).toBe(true);
    expect(await service.run("ImportEncCert", ["S1", "YZT-RENEW-1", "RU5DQw==", "QkxPQg=="])).toBe(true);
    expect(await service.run("ImportEncCertEx", ["S1", "YZT-RENEW-2", "RU5DQw==", "QkxPQg==", 0x401])).toBe(true);
    expect(await service.run("IsContainerExist", ["S1", "YZT-RENEW-1"])).toBe(true);
    expect(await service.run("IsContainerExist", ["S1", "NO-SUCH"])).toBe(false);
    expect(await service.run("GetContainerCount", ["S1"])).toBe(2);
    expect(await service.run("GetAllContainerName", ["S1"])).toBe("SM2-0101&&&YZT-RENEW-1&&&");
    expect(await service.run("DeleteContainer", ["0101/S1", "SM2-0101"])).toBe(true);
    const writes = bridge.calls.filter(([method]) => method !== "listContainers");
    expect(writes).toEqual([
      ["generateKeyPair", { tokenSerial: "S1", container: "YZT-RENEW-1", keyAlgorithm: "SM2" }],
      ["generateKeyPair", { tokenSerial: "S1", container: "YZT-RENEW-2", keyAlgorithm: "RSA" }],
      ["createCertificateRequest", { tokenSerial: "S1", container: "YZT-RENEW-1", subject: "CN=北京甲公司,O=北京甲公司,C=CN" }],
      ["importCertificate", { tokenSerial: "S1", container: "YZT-RENEW-1", certificate: "Q0VSVA==" }],
      ["importCertificate", { tokenSerial: "S1", container: "YZT-RENEW-1", certificate: "RU5DQw==", encryptedKeyPair: "QkxPQg==" }],
      ["importCertificate", { tokenSerial: "S1", container: "YZT-RENEW-2", certificate: "RU5DQw==", encryptedKeyPair: "QkxPQg==" }],
      ["deleteContainer", { tokenSerial: "S1", container: "SM2-0101" }],
    ]);
  });

  it("refuses an encryption pair made on the key and an unknown algorithm, writing nothing", async () => {
    const bridge = issuerBridge();
    const service = createXtxService(bridge);
    expect(await service.run("GenerateKeyPair", ["S1", "C1", "SM2", false])).toBe(false);
    expect(await service.run("SOF_GetLastErrMsg", [])).toContain("密钥管理中心");
    expect(await service.run("GenerateKeyPair", ["S1", "C1", "DSA", true])).toBe(false);
    expect(bridge.calls.some(([method]) => method === "generateKeyPair")).toBe(false);
  });

  it("unlocks with the site's admin PIN, and leaves the new PIN to the consent window when the page sends none", async () => {
    const bridge = issuerBridge();
    const service = createXtxService(bridge);
    expect(await service.run("UnlockUserPass", ["S1", "87654321", "11223344"])).toBe(true);
    expect(await service.run("UnlockUserPassEx", ["S1", "87654321", ""])).toBe(true);
    expect(bridge.calls).toEqual([
      ["unlockPin", { tokenSerial: "S1", adminPin: "87654321", newPin: "11223344" }],
      ["unlockPin", { tokenSerial: "S1", adminPin: "87654321" }],
    ]);
  });

  it("gives every other site the refusal it always got, naming the function", async () => {
    const service = createXtxService(fakeBridge());
    for (const [name, params, failed] of [
      ["GenerateKeyPair", ["S1", "C1", "SM2", true], false], ["ExportPKCS10", ["S1", "C1", "CN=x", true], ""], ["ImportSignCert", ["S1", "C1", "Q0VSVA=="], false],
      ["ImportEncCert", ["S1", "C1", "Q0VSVA==", "QkxPQg=="], false], ["ImportEncCertEx", ["S1", "C1", "Q0VSVA==", "QkxPQg==", 0x401], false], ["DeleteContainer", ["S1", "C1"], false], ["IsContainerExist", ["S1", "C1"], false], ["ExportPubKey", ["S1", "C1", true], ""],
    ] as const) {
      expect(await service.run(name, [...params])).toBe(failed);
      expect(await service.run("SOF_GetLastError", [])).toBe(0x0b000004);
      expect(await service.run("SOF_GetLastErrMsg", [])).toBe(`${name}: ${KEY_WRITE_REFUSAL}`);
    }
    expect(await service.run("UnlockUserPassEx", ["S1", "87654321", "11223344"])).toBe(false);
    expect(await service.run("SOF_GetLastErrMsg", [])).toBe(`UnlockUserPassEx: ${ADMIN_PIN_REFUSAL}`);
  });
});
