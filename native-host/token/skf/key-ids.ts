/**
 * The id of a certificate's key pair on an SKF key (the part of the certificate id after the serial). SKF has
 * no CKA_ID, so the id is the pair's place on the key: the n-th container (in SKF_EnumContainer order, empty
 * ones counted) gives 2n-1 for its signing pair and 2n for its encryption pair, written as a byte twice —
 * 0101/0202 for the first container, 0303/0404 for the second: the CKA_IDs the virtual token gives the same
 * pairs, so its certificates have one id whichever library serves them. A real key's PKCS#11 face may number
 * its pairs otherwise; a key both libraries reach is listed through SKF only.
 */
export function skfKeyId(containerIndex: number, sign: boolean): string {
  const pair = 2 * containerIndex + (sign ? 1 : 2);
  const digits = pair < 0x100 ? 2 : 4;
  const part = pair.toString(16).padStart(digits, "0");
  return part + part;
}
