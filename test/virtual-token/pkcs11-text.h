/*
 * Shared by the shim and its SKF face: PKCS#11 text fields (blank-padded, not NUL-terminated), and SM2
 * ciphertexts as the GM/T 0009 DER both hand to OpenSSL (skf.c for an ECCCIPHERBLOB, the shim for the one
 * inside an ENVELOPEDKEYBLOB).
 */
#ifndef YZT_PKCS11_TEXT_H
#define YZT_PKCS11_TEXT_H

#include <stdlib.h>
#include <string.h>

/* A blank- or NUL-padded field as a C string of at most out_size - 1 characters. */
static void trimmed(const CK_UTF8CHAR *field, size_t size, char *out, size_t out_size) {
  size_t n = size;
  while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == 0)) n--;
  if (n >= out_size) n = out_size - 1;
  memcpy(out, field, n);
  out[n] = 0;
}

static size_t der_header(unsigned char *out, unsigned char tag, size_t len) {
  size_t at = 0;
  out[at++] = tag;
  if (len < 0x80) {
    out[at++] = (unsigned char)len;
  } else {
    int bytes = len > 0xFFFFFF ? 4 : len > 0xFFFF ? 3 : len > 0xFF ? 2 : 1;
    out[at++] = (unsigned char)(0x80 | bytes);
    for (int i = bytes - 1; i >= 0; i--) out[at++] = (unsigned char)(len >> (8 * i));
  }
  return at;
}

/* A DER INTEGER of an unsigned big-endian number (leading zeros dropped, a zero byte added before a high bit). */
static size_t der_unsigned(unsigned char *out, const unsigned char *value, size_t len) {
  while (len > 1 && *value == 0) value++, len--;
  int pad = (*value & 0x80) != 0;
  size_t at = der_header(out, 0x02, len + (size_t)pad);
  if (pad) out[at++] = 0;
  memcpy(out + at, value, len);
  return at + len;
}

/*
 * SEQUENCE { INTEGER x, INTEGER y, OCTET STRING hash, OCTET STRING cipher } of C1 = (x, y), C3 = hash and
 * C2 = cipher (cipher_len bytes): the SM2 ciphertext OpenSSL decrypts. malloc'd; NULL when out of memory.
 */
static unsigned char *sm2_cipher_der(const unsigned char x[32], const unsigned char y[32], const unsigned char hash[32],
                                     const unsigned char *cipher, size_t cipher_len, size_t *der_len) {
  size_t body_max = 2 * (4 + 33) + (4 + 32) + (6 + cipher_len);
  unsigned char *body = malloc(body_max), *der = malloc(body_max + 6);
  if (!body || !der) {
    free(body);
    free(der);
    return NULL;
  }
  size_t at = der_unsigned(body, x, 32);
  at += der_unsigned(body + at, y, 32);
  at += der_header(body + at, 0x04, 32);
  memcpy(body + at, hash, 32);
  at += 32;
  at += der_header(body + at, 0x04, cipher_len);
  memcpy(body + at, cipher, cipher_len);
  at += cipher_len;
  size_t head = der_header(der, 0x30, at);
  memcpy(der + head, body, at);
  free(body);
  *der_len = head + at;
  return der;
}

#endif
