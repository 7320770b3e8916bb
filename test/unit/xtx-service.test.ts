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

function fakeBridge(answers: Record<string, (params: Record<string, unknown>) => unknown> = {}): PageBridge & { calls: Array<[string, unknown]> } {
  const calls: Array<[string, unknown]> = [];
  const defaults: Record<string, (params: Record<string, unknown>) => unknown> = {
    listCertificates: (params) => [SIGN, ENC].filter((c) => !params.purpose || c.purpose === params.purpose),
    status: () => ({ host: "ok", tokens: [{ serial: "S1", label: "BJ-YZT", manufacturer: "BJCA", model: "UKey", present: true, pin: { retriesLeft: 10, locked: false } }] }),
    sign: () => ({ signature: Buffer.alloc(64, 1).toString("base64") }),
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
