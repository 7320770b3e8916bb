import { describe, expect, it } from "vitest";
import { YztError } from "../../protocol/errors.js";
import { checkPinRules, parseRequest, requestIdOf } from "../../protocol/messages.js";

function rejection(message: unknown): YztError {
  try {
    parseRequest(message);
  } catch (error) {
    if (error instanceof YztError) return error;
    throw error;
  }
  throw new Error("expected the request to be rejected");
}

const CERT = "YZT0000000000001:0101";
const ORIGIN = "https://etax.beijing.chinatax.gov.cn";
const DIGEST = Buffer.alloc(32, 1).toString("base64");

describe("protocol request validation", () => {
  it("accepts a well-formed sign request and keeps only known fields", () => {
    const request = parseRequest({ id: 4, method: "sign", params: { certificateId: CERT, origin: ORIGIN, format: "raw", digest: DIGEST } });
    expect(request).toEqual({ id: 4, method: "sign", params: { certificateId: CERT, origin: ORIGIN, format: "raw", digest: DIGEST } });
  });

  it("treats missing params as an empty object", () => {
    expect(parseRequest({ id: 1, method: "listTokens" }).params).toEqual({});
  });

  it.each([
    [{ id: 1, method: "explode", params: {} }, /request\.method: unknown method "explode"/],
    [{ id: -1, method: "hello" }, /request\.id/],
    [{ id: 1.5, method: "hello" }, /request\.id/],
    [{ id: 1, method: "hello", extra: true }, /request\.extra: unknown field/],
    [[1, 2], /request: expected an object/],
    [{ id: 1, method: "sign", params: { certificateId: CERT, origin: ORIGIN, format: "raw" } }, /exactly one of data or digest/],
    [{ id: 1, method: "sign", params: { certificateId: CERT, origin: ORIGIN, format: "raw", data: "AA==", digest: DIGEST } }, /exactly one of data or digest/],
    [{ id: 1, method: "sign", params: { certificateId: CERT, origin: ORIGIN, format: "pkcs7-attached", digest: DIGEST } }, /params\.digest: not allowed with format pkcs7-attached/],
    [{ id: 1, method: "sign", params: { certificateId: CERT, origin: ORIGIN, format: "raw", digest: "AAAA" } }, /params\.digest: shorter than 32 bytes/],
    [{ id: 1, method: "sign", params: { certificateId: CERT, origin: ORIGIN, format: "raw", data: "not base64!" } }, /params\.data: not valid base64/],
    [{ id: 1, method: "sign", params: { certificateId: CERT, origin: ORIGIN, format: "xml", data: "AA==" } }, /params\.format: expected one of/],
    [{ id: 1, method: "sign", params: { certificateId: "no-colon", origin: ORIGIN, format: "raw", data: "AA==" } }, /params\.certificateId/],
    [{ id: 1, method: "login", params: { certificateId: CERT, origin: "https://a.example/path" } }, /params\.origin/],
    [{ id: 1, method: "login", params: { certificateId: CERT, origin: ORIGIN, challenge: "too short" } }, /params\.challenge: expected a string of length 16\.\.256/],
    [{ id: 1, method: "changePin", params: { tokenSerial: "X", oldPin: 1234, newPin: "5678" } }, /params\.oldPin: expected a string/],
  ])("rejects %j with BAD_REQUEST naming the field", (message, pattern) => {
    const error = rejection(message);
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toMatch(pattern);
  });

  it("finds the id of an invalid request so the error can be addressed", () => {
    expect(requestIdOf({ id: 12, method: 5 })).toBe(12);
    expect(requestIdOf("garbage")).toBeNull();
  });

  it("enforces PIN length rules with PIN_INVALID", () => {
    expect(() => checkPinRules("123")).toThrowError(expect.objectContaining({ code: "PIN_INVALID" }) as Error);
    expect(() => checkPinRules("12345678901234567")).toThrowError(expect.objectContaining({ code: "PIN_INVALID" }) as Error);
    expect(() => checkPinRules("1234 5")).toThrowError(expect.objectContaining({ code: "PIN_INVALID" }) as Error);
    expect(() => checkPinRules("12345678")).not.toThrow();
  });
});
