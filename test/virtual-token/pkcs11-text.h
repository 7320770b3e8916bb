/* PKCS#11 text fields (blank-padded, not NUL-terminated), shared by the shim and its SKF face. */
#ifndef YZT_PKCS11_TEXT_H
#define YZT_PKCS11_TEXT_H

#include <string.h>

/* A blank- or NUL-padded field as a C string of at most out_size - 1 characters. */
static void trimmed(const CK_UTF8CHAR *field, size_t size, char *out, size_t out_size) {
  size_t n = size;
  while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == 0)) n--;
  if (n >= out_size) n = out_size - 1;
  memcpy(out, field, n);
  out[n] = 0;
}

#endif
