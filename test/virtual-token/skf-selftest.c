/*
 * Drives an SKF library (the virtual SKF key, libyzt-vskf.so, or one of its test variants) for
 * test/integration/vskf.test.ts: a plain C caller, as a vendor library expects, so that the library is tested
 * without any FFI. Usage: skf-selftest <library>; then one command a line on stdin, one answer a line on stdout:
 * "rv=0x........ key=value ..." (binary values in hex, lists comma-separated, ms = the call's duration).
 * Functions are looked up per command, so a library lacking an export still answers the others.
 *
 * It keeps one current handle of each kind (device, application, container, session key) and never closes a
 * handle behind the test's back, so a test can keep using a handle whose key was pulled out.
 *
 * Built with -DSELFTEST_LP64 it drives an LP64 library (skf.c with -DVSKF_LP64: every ULONG 64 bits). Structures a
 * test passes in (ECCCIPHERBLOB, ENVELOPEDKEYBLOB) come as hex of their GM/T 0016 layout with 32-bit little-endian
 * ULONGs and are rebuilt here in the library's own layout; structures the library fills are printed field by field.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef uint8_t BYTE;
typedef int32_t BOOL;
#ifdef SELFTEST_LP64
typedef unsigned long ULONG;
#else
typedef uint32_t ULONG;
#endif
#define UL(x) ((unsigned long)(x)) /* what printf is given of a ULONG, whatever its width */
typedef char *LPSTR;
typedef void *HANDLE;

#pragma pack(push, 1)
typedef struct {
  BYTE major, minor;
} VERSION;
typedef struct {
  VERSION Version;
  char Manufacturer[64], Issuer[64], Label[32], SerialNumber[32];
  VERSION HWVersion, FirmwareVersion;
  ULONG AlgSymCap, AlgAsymCap, AlgHashCap, DevAuthAlgId, TotalSpace, FreeSpace, MaxECCBufferSize, MaxBufferSize;
  BYTE Reserved[64];
} DEVINFO;
typedef struct {
  BYTE r[64], s[64];
} ECCSIGNATUREBLOB;
typedef struct {
  BYTE IV[32];
  ULONG IVLen, PaddingType, FeedBitLen;
} BLOCKCIPHERPARAM;
typedef struct {
  ULONG BitLen;
  BYTE X[64], Y[64];
} ECCPUBLICKEYBLOB;
typedef struct {
  ULONG AlgID, BitLen;
  BYTE Modulus[256], PublicExponent[4];
} RSAPUBLICKEYBLOB;
typedef struct {
  BYTE X[64], Y[64], HASH[32];
  ULONG CipherLen;
  BYTE Cipher[1];
} ECCCIPHERBLOB;
typedef struct {
  ULONG Version, ulSymmAlgID, ulBits;
  BYTE cbEncryptedPriKey[64];
  ECCPUBLICKEYBLOB PubKey;
  ECCCIPHERBLOB ECCCipherBlob;
} ENVELOPEDKEYBLOB;
#pragma pack(pop)

static void *lib;
static HANDLE dev, app, con, key;
static struct timespec started;

/* Looks an export up; NULL (and a "missing" answer) when the library lacks it. Answers carry no newline: main
 * ends each line. */
static void *fn(const char *name) {
  void *f = dlsym(lib, name);
  if (!f) printf("rv=missing name=%s", name);
  return f;
}
#define CALL(type, name) ((type)fn(name))

static double elapsed_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - started.tv_sec) * 1e3 + (double)(now.tv_nsec - started.tv_nsec) / 1e6;
}

static void print_hex(const char *label, const BYTE *data, size_t len) {
  printf(" %s=", label);
  for (size_t i = 0; i < len; i++) printf("%02x", data[i]);
  if (len == 0) printf("-");
}

/* Hex to bytes (caller frees); "-" is empty. */
static BYTE *parse_hex(const char *text, ULONG *len) {
  size_t n = text && strcmp(text, "-") != 0 ? strlen(text) / 2 : 0;
  BYTE *out = malloc(n + 1);
  for (size_t i = 0; i < n; i++) sscanf(text + 2 * i, "%2hhx", &out[i]);
  *len = (ULONG)n;
  return out;
}

static ULONG le32(const BYTE *at) { return (ULONG)at[0] | (ULONG)at[1] << 8 | (ULONG)at[2] << 16 | (ULONG)at[3] << 24; }

/* An ECCCIPHERBLOB in the library's layout from its 32-bit wire form (X, Y, HASH, CipherLen, Cipher); NULL when short.
 * The caller frees it. */
static ECCCIPHERBLOB *cipher_from_wire(const BYTE *wire, ULONG len) {
  if (len < 164 || le32(wire + 160) > len - 164) return NULL;
  ULONG cipher_len = le32(wire + 160);
  ECCCIPHERBLOB *blob = calloc(1, sizeof *blob + cipher_len);
  memcpy(blob->X, wire, 64);
  memcpy(blob->Y, wire + 64, 64);
  memcpy(blob->HASH, wire + 128, 32);
  blob->CipherLen = cipher_len;
  memcpy(blob->Cipher, wire + 164, cipher_len);
  return blob;
}

/* An ENVELOPEDKEYBLOB in the library's layout from its 32-bit wire form; NULL when short. The caller frees it. */
static ENVELOPEDKEYBLOB *envelope_from_wire(const BYTE *wire, ULONG len) {
  ECCCIPHERBLOB *cipher = len >= 208 ? cipher_from_wire(wire + 208, len - 208) : NULL;
  if (!cipher) return NULL;
  ENVELOPEDKEYBLOB *blob = calloc(1, sizeof *blob + cipher->CipherLen);
  blob->Version = le32(wire);
  blob->ulSymmAlgID = le32(wire + 4);
  blob->ulBits = le32(wire + 8);
  memcpy(blob->cbEncryptedPriKey, wire + 12, 64);
  blob->PubKey.BitLen = le32(wire + 76);
  memcpy(blob->PubKey.X, wire + 80, 64);
  memcpy(blob->PubKey.Y, wire + 144, 64);
  memcpy(&blob->ECCCipherBlob, cipher, sizeof *cipher + cipher->CipherLen - 1);
  free(cipher);
  return blob;
}

/* x and y of a 256-bit point right-aligned in 64-byte fields; padded=1 when nothing but zeros sits left of them. */
static void print_point(const BYTE x[64], const BYTE y[64]) {
  int padded = 1;
  for (int i = 0; i < 32; i++) padded &= x[i] == 0 && y[i] == 0;
  print_hex("x", x + 32, 32);
  print_hex("y", y + 32, 32);
  printf(" padded=%d", padded);
}

/* A name list as "a,b"; doublenul=1 when the list (of len bytes, within room) ends with two NULs. */
static void print_list(const char *list, ULONG len, ULONG room) {
  ULONG limit = len < room ? len : room;
  printf(" names=");
  int first = 1;
  for (ULONG at = 0; at < limit && list[at];) {
    size_t n = strnlen(list + at, limit - at);
    printf("%s%.*s", first ? "" : ",", (int)n, list + at);
    first = 0;
    at += (ULONG)n + 1;
  }
  if (first) printf("-");
  printf(" doublenul=%d", len >= 2 && len <= room && list[len - 1] == 0 && list[len - 2] == 0);
}

typedef ULONG (*list_fn)(HANDLE, LPSTR, ULONG *);

/* The SKF list protocol: a size query, then a buffer of that size (or 256 bytes for an absurd answer). */
static void list_command(const char *name, HANDLE h, int by_handle) {
  void *f = fn(name);
  if (!f) return;
  ULONG query = 0, rv;
  if (by_handle) rv = ((list_fn)f)(h, NULL, &query);
  else rv = ((ULONG(*)(BOOL, LPSTR, ULONG *))f)(1, NULL, &query);
  if (rv != 0) {
    printf("rv=0x%08lx query=%lu", UL(rv), UL(query));
    return;
  }
  ULONG room = query <= 65536 ? query : 256, size = room;
  char *buf = calloc(1, room + 1);
  rv = by_handle ? ((list_fn)f)(h, buf, &size) : ((ULONG(*)(BOOL, LPSTR, ULONG *))f)(1, buf, &size);
  printf("rv=0x%08lx query=%lu size=%lu", UL(rv), UL(query), UL(size));
  if (rv == 0) print_list(buf, size, room);
  free(buf);
}

/* Output-buffer protocol of ExportCertificate, RSASignData, Decrypt and the like: query, then fill. */
typedef ULONG (*fill_fn)(BYTE *out, ULONG *len, void *ctx);
static void fill_command(fill_fn call, void *ctx) {
  ULONG query = 0, rv = call(NULL, &query, ctx);
  if (rv != 0) {
    printf("rv=0x%08lx query=%lu", UL(rv), UL(query));
    return;
  }
  ULONG room = query <= 65536 ? query : 256, len = room;
  BYTE *buf = calloc(1, room + 1);
  rv = call(buf, &len, ctx);
  printf("rv=0x%08lx query=%lu len=%lu", UL(rv), UL(query), UL(len));
  if (rv == 0) print_hex("data", buf, len <= room ? len : room);
  free(buf);
}

struct bytes_ctx {
  const char *name;
  HANDLE h;
  BOOL flag;
  BYTE *in;
  ULONG in_len;
};
static ULONG fill_cert(BYTE *out, ULONG *len, void *c) {
  struct bytes_ctx *x = c;
  return ((ULONG(*)(HANDLE, BOOL, BYTE *, ULONG *))dlsym(lib, x->name))(x->h, x->flag, out, len);
}
static ULONG fill_in_out(BYTE *out, ULONG *len, void *c) {
  struct bytes_ctx *x = c;
  return ((ULONG(*)(HANDLE, BYTE *, ULONG, BYTE *, ULONG *))dlsym(lib, x->name))(x->h, x->in, x->in_len, out, len);
}
static ULONG fill_ecc_decrypt(BYTE *out, ULONG *len, void *c) {
  struct bytes_ctx *x = c;
  return ((ULONG(*)(HANDLE, BYTE *, BYTE *, ULONG *))dlsym(lib, x->name))(x->h, x->in, out, len);
}

/* ---------- the event wait, on its own thread ---------- */

static pthread_t waiter;
static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_done = PTHREAD_COND_INITIALIZER;
static int waiting, wait_finished;
static ULONG wait_rv, wait_event, wait_len;
static char wait_name[64];
static struct timespec wait_started;

static void *wait_thread(void *unused) {
  (void)unused;
  char name[64] = {0};
  ULONG len = sizeof name - 1, event = 0;
  ULONG rv = ((ULONG(*)(LPSTR, ULONG *, ULONG *))dlsym(lib, "SKF_WaitForDevEvent"))(name, &len, &event);
  pthread_mutex_lock(&wait_lock);
  wait_rv = rv;
  wait_event = event;
  wait_len = len;
  memcpy(wait_name, name, sizeof name);
  wait_finished = 1;
  pthread_cond_broadcast(&wait_done);
  pthread_mutex_unlock(&wait_lock);
  return NULL;
}

static void wait_result(int timeout_ms) {
  if (!waiting) {
    printf("rv=nowait");
    return;
  }
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&wait_lock);
  while (!wait_finished && pthread_cond_timedwait(&wait_done, &wait_lock, &deadline) == 0) {
  }
  int finished = wait_finished;
  pthread_mutex_unlock(&wait_lock);
  if (!finished) {
    printf("rv=pending");
    return;
  }
  pthread_join(waiter, NULL);
  waiting = 0;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double waited = (double)(now.tv_sec - wait_started.tv_sec) * 1e3 + (double)(now.tv_nsec - wait_started.tv_nsec) / 1e6;
  printf("rv=0x%08lx event=%lu len=%lu name=%s waited=%.0f", UL(wait_rv), UL(wait_event), UL(wait_len), wait_name[0] ? wait_name : "-", waited);
}

/* ---------- commands ---------- */

static void run(char **arg, int argc) {
  const char *cmd = arg[0];
  ULONG rv;
  if (!strcmp(cmd, "sym")) {
    printf("rv=0x00000000 present=%d", argc > 1 && dlsym(lib, arg[1]) != NULL);
  } else if (!strcmp(cmd, "enum")) {
    list_command("SKF_EnumDev", NULL, 0);
  } else if (!strcmp(cmd, "enumsmall")) {
    ULONG (*f)(BOOL, LPSTR, ULONG *) = CALL(ULONG(*)(BOOL, LPSTR, ULONG *), "SKF_EnumDev");
    if (!f) return;
    ULONG query = 0;
    f(1, NULL, &query);
    char buf[8];
    ULONG size = query > 1 ? query - 1 : 0;
    if (size > sizeof buf) size = sizeof buf;
    rv = f(1, buf, &size);
    printf("rv=0x%08lx query=%lu size=%lu", UL(rv), UL(query), UL(size));
  } else if (!strcmp(cmd, "devstate") && argc > 1) {
    ULONG (*f)(LPSTR, ULONG *) = CALL(ULONG(*)(LPSTR, ULONG *), "SKF_GetDevState");
    if (!f) return;
    ULONG state = 99;
    rv = f(arg[1], &state);
    printf("rv=0x%08lx state=%lu", UL(rv), UL(state));
  } else if (!strcmp(cmd, "connect") && argc > 1) {
    ULONG (*f)(LPSTR, HANDLE *) = CALL(ULONG(*)(LPSTR, HANDLE *), "SKF_ConnectDev");
    if (!f) return;
    HANDLE h = NULL;
    rv = f(arg[1], &h);
    if (rv == 0) dev = h;
    printf("rv=0x%08lx", UL(rv));
  } else if (!strcmp(cmd, "disconnect")) {
    ULONG (*f)(HANDLE) = CALL(ULONG(*)(HANDLE), "SKF_DisConnectDev");
    if (!f) return;
    printf("rv=0x%08lx", UL(f(dev)));
  } else if (!strcmp(cmd, "devinfo")) {
    ULONG (*f)(HANDLE, DEVINFO *) = CALL(ULONG(*)(HANDLE, DEVINFO *), "SKF_GetDevInfo");
    if (!f) return;
    DEVINFO info;
    memset(&info, 0xEE, sizeof info);
    rv = f(dev, &info);
    printf("rv=0x%08lx", UL(rv));
    if (rv == 0) {
      print_hex("serial", (BYTE *)info.SerialNumber, strnlen(info.SerialNumber, sizeof info.SerialNumber));
      print_hex("label", (BYTE *)info.Label, strnlen(info.Label, sizeof info.Label));
      print_hex("manufacturer", (BYTE *)info.Manufacturer, strnlen(info.Manufacturer, sizeof info.Manufacturer));
      printf(" version=%lu.%lu sym=0x%lx asym=0x%lx", UL(info.Version.major), UL(info.Version.minor), UL(info.AlgSymCap), UL(info.AlgAsymCap));
    }
  } else if (!strcmp(cmd, "apps")) {
    list_command("SKF_EnumApplication", dev, 1);
  } else if (!strcmp(cmd, "openapp")) {
    ULONG (*f)(HANDLE, LPSTR, HANDLE *) = CALL(ULONG(*)(HANDLE, LPSTR, HANDLE *), "SKF_OpenApplication");
    if (!f) return;
    HANDLE h = NULL;
    rv = f(dev, argc > 1 ? arg[1] : "BJCA-Application", &h);
    if (rv == 0) app = h;
    printf("rv=0x%08lx", UL(rv));
  } else if (!strcmp(cmd, "closeapp")) {
    ULONG (*f)(HANDLE) = CALL(ULONG(*)(HANDLE), "SKF_CloseApplication");
    if (!f) return;
    printf("rv=0x%08lx", UL(f(app)));
  } else if (!strcmp(cmd, "pininfo") && argc > 1) {
    ULONG (*f)(HANDLE, ULONG, ULONG *, ULONG *, BOOL *) = CALL(ULONG(*)(HANDLE, ULONG, ULONG *, ULONG *, BOOL *), "SKF_GetPINInfo");
    if (!f) return;
    ULONG max = 99, remain = 99;
    BOOL is_default = 99;
    rv = f(app, (ULONG)atoi(arg[1]), &max, &remain, &is_default);
    printf("rv=0x%08lx max=%lu remain=%lu default=%d", UL(rv), UL(max), UL(remain), is_default);
  } else if (!strcmp(cmd, "verify") && argc > 2) {
    ULONG (*f)(HANDLE, ULONG, LPSTR, ULONG *) = CALL(ULONG(*)(HANDLE, ULONG, LPSTR, ULONG *), "SKF_VerifyPIN");
    if (!f) return;
    ULONG retry = 99;
    rv = f(app, (ULONG)atoi(arg[1]), arg[2], &retry);
    printf("rv=0x%08lx retry=%lu", UL(rv), UL(retry));
  } else if (!strcmp(cmd, "changepin") && argc > 3) {
    ULONG (*f)(HANDLE, ULONG, LPSTR, LPSTR, ULONG *) = CALL(ULONG(*)(HANDLE, ULONG, LPSTR, LPSTR, ULONG *), "SKF_ChangePIN");
    if (!f) return;
    ULONG retry = 99;
    rv = f(app, (ULONG)atoi(arg[1]), arg[2], arg[3], &retry);
    printf("rv=0x%08lx retry=%lu", UL(rv), UL(retry));
  } else if (!strcmp(cmd, "unblock") && argc > 2) {
    ULONG (*f)(HANDLE, LPSTR, LPSTR, ULONG *) = CALL(ULONG(*)(HANDLE, LPSTR, LPSTR, ULONG *), "SKF_UnblockPIN");
    if (!f) return;
    ULONG retry = 99;
    rv = f(app, arg[1], arg[2], &retry);
    printf("rv=0x%08lx retry=%lu", UL(rv), UL(retry));
  } else if (!strcmp(cmd, "clear")) {
    ULONG (*f)(HANDLE) = CALL(ULONG(*)(HANDLE), "SKF_ClearSecureState");
    if (!f) return;
    printf("rv=0x%08lx", UL(f(app)));
  } else if (!strcmp(cmd, "containers")) {
    list_command("SKF_EnumContainer", app, 1);
  } else if (!strcmp(cmd, "opencon") && argc > 1) {
    ULONG (*f)(HANDLE, LPSTR, HANDLE *) = CALL(ULONG(*)(HANDLE, LPSTR, HANDLE *), "SKF_OpenContainer");
    if (!f) return;
    HANDLE h = NULL;
    rv = f(app, arg[1], &h);
    if (rv == 0) con = h;
    printf("rv=0x%08lx", UL(rv));
  } else if (!strcmp(cmd, "contype")) {
    ULONG (*f)(HANDLE, ULONG *) = CALL(ULONG(*)(HANDLE, ULONG *), "SKF_GetContainerType");
    if (!f) return;
    ULONG type = 99;
    rv = f(con, &type);
    printf("rv=0x%08lx type=%lu", UL(rv), UL(type));
  } else if (!strcmp(cmd, "closecon")) {
    ULONG (*f)(HANDLE) = CALL(ULONG(*)(HANDLE), "SKF_CloseContainer");
    if (!f) return;
    printf("rv=0x%08lx", UL(f(con)));
  } else if ((!strcmp(cmd, "cert") || !strcmp(cmd, "pubkey")) && argc > 1) {
    struct bytes_ctx x = {!strcmp(cmd, "cert") ? "SKF_ExportCertificate" : "SKF_ExportPublicKey", con, atoi(arg[1]), NULL, 0};
    if (fn(x.name)) fill_command(fill_cert, &x);
  } else if (!strcmp(cmd, "eccsign") && argc > 1) {
    ULONG (*f)(HANDLE, BYTE *, ULONG, ECCSIGNATUREBLOB *) = CALL(ULONG(*)(HANDLE, BYTE *, ULONG, ECCSIGNATUREBLOB *), "SKF_ECCSignData");
    if (!f) return;
    ULONG len;
    BYTE *e = parse_hex(arg[1], &len);
    ECCSIGNATUREBLOB sig;
    memset(&sig, 0xEE, sizeof sig);
    rv = f(con, e, len, &sig);
    printf("rv=0x%08lx", UL(rv));
    if (rv == 0) {
      int padded = 1;
      for (int i = 0; i < 32; i++) padded &= sig.r[i] == 0 && sig.s[i] == 0;
      print_hex("r", sig.r + 32, 32);
      print_hex("s", sig.s + 32, 32);
      printf(" padded=%d", padded);
    }
    free(e);
  } else if ((!strcmp(cmd, "rsasign") || !strcmp(cmd, "decrypt")) && argc > 1) {
    struct bytes_ctx x = {!strcmp(cmd, "rsasign") ? "SKF_RSASignData" : "SKF_Decrypt", !strcmp(cmd, "rsasign") ? con : key, 0, NULL, 0};
    x.in = parse_hex(arg[1], &x.in_len);
    if (fn(x.name)) fill_command(fill_in_out, &x);
    free(x.in);
  } else if (!strcmp(cmd, "eccdecrypt") && argc > 2) {
    struct bytes_ctx x = {arg[1], con, 0, NULL, 0};
    BYTE *wire = parse_hex(arg[2], &x.in_len);
    x.in = (BYTE *)cipher_from_wire(wire, x.in_len);
    if (!x.in) printf("rv=short");
    else if (fn(x.name)) fill_command(fill_ecc_decrypt, &x);
    free(x.in);
    free(wire);
  } else if (!strcmp(cmd, "createcon") && argc > 1) {
    ULONG (*f)(HANDLE, LPSTR, HANDLE *) = CALL(ULONG(*)(HANDLE, LPSTR, HANDLE *), "SKF_CreateContainer");
    if (!f) return;
    HANDLE h = NULL;
    rv = f(app, arg[1], &h);
    if (rv == 0) con = h;
    printf("rv=0x%08lx", UL(rv));
  } else if (!strcmp(cmd, "delcon") && argc > 1) {
    ULONG (*f)(HANDLE, LPSTR) = CALL(ULONG(*)(HANDLE, LPSTR), "SKF_DeleteContainer");
    if (!f) return;
    printf("rv=0x%08lx", UL(f(app, arg[1])));
  } else if (!strcmp(cmd, "geneccpair")) {
    ULONG (*f)(HANDLE, ULONG, ECCPUBLICKEYBLOB *) = CALL(ULONG(*)(HANDLE, ULONG, ECCPUBLICKEYBLOB *), "SKF_GenECCKeyPair");
    if (!f) return;
    ECCPUBLICKEYBLOB blob;
    memset(&blob, 0xEE, sizeof blob);
    rv = f(con, argc > 1 ? (ULONG)strtoul(arg[1], NULL, 0) : 0x00020100 /* SGD_SM2_1 */, &blob);
    printf("rv=0x%08lx", UL(rv));
    if (rv == 0) {
      printf(" bits=%lu", UL(blob.BitLen));
      print_point(blob.X, blob.Y);
    }
  } else if (!strcmp(cmd, "genrsapair") && argc > 1) {
    ULONG (*f)(HANDLE, ULONG, RSAPUBLICKEYBLOB *) = CALL(ULONG(*)(HANDLE, ULONG, RSAPUBLICKEYBLOB *), "SKF_GenRSAKeyPair");
    if (!f) return;
    RSAPUBLICKEYBLOB blob;
    memset(&blob, 0xEE, sizeof blob);
    rv = f(con, (ULONG)strtoul(arg[1], NULL, 0), &blob);
    printf("rv=0x%08lx", UL(rv));
    if (rv == 0) {
      printf(" alg=0x%lx bits=%lu", UL(blob.AlgID), UL(blob.BitLen));
      print_hex("n", blob.Modulus, sizeof blob.Modulus);
      print_hex("e", blob.PublicExponent, sizeof blob.PublicExponent);
    }
  } else if (!strcmp(cmd, "importcert") && argc > 2) {
    ULONG (*f)(HANDLE, BOOL, BYTE *, ULONG) = CALL(ULONG(*)(HANDLE, BOOL, BYTE *, ULONG), "SKF_ImportCertificate");
    if (!f) return;
    ULONG len;
    BYTE *der = parse_hex(arg[2], &len);
    printf("rv=0x%08lx", UL(f(con, atoi(arg[1]), der, len)));
    free(der);
  } else if (!strcmp(cmd, "importecc") && argc > 1) {
    ULONG (*f)(HANDLE, ENVELOPEDKEYBLOB *) = CALL(ULONG(*)(HANDLE, ENVELOPEDKEYBLOB *), "SKF_ImportECCKeyPair");
    if (!f) return;
    ULONG len;
    BYTE *wire = parse_hex(arg[1], &len);
    ENVELOPEDKEYBLOB *blob = envelope_from_wire(wire, len);
    if (blob) printf("rv=0x%08lx", UL(f(con, blob)));
    else printf("rv=short");
    free(blob);
    free(wire);
  } else if (!strcmp(cmd, "importkey") && argc > 2) {
    ULONG (*f)(HANDLE, ULONG, BYTE *, ULONG, HANDLE *) = CALL(ULONG(*)(HANDLE, ULONG, BYTE *, ULONG, HANDLE *), "SKF_ImportSessionKey");
    if (!f) return;
    ULONG len;
    BYTE *wrapped = parse_hex(arg[2], &len);
    HANDLE h = NULL;
    rv = f(con, (ULONG)strtoul(arg[1], NULL, 0), wrapped, len, &h);
    if (rv == 0) key = h;
    printf("rv=0x%08lx", UL(rv));
    free(wrapped);
  } else if (!strcmp(cmd, "decinit") && argc > 2) {
    ULONG (*f)(HANDLE, BLOCKCIPHERPARAM) = CALL(ULONG(*)(HANDLE, BLOCKCIPHERPARAM), "SKF_DecryptInit");
    if (!f) return;
    BLOCKCIPHERPARAM param;
    memset(&param, 0, sizeof param);
    ULONG len;
    BYTE *iv = parse_hex(arg[1], &len);
    memcpy(param.IV, iv, len <= 32 ? len : 32);
    param.IVLen = len;
    param.PaddingType = (ULONG)atoi(arg[2]);
    free(iv);
    printf("rv=0x%08lx", UL(f(key, param)));
  } else if (!strcmp(cmd, "decupdate") && argc > 1) {
    ULONG (*f)(HANDLE, BYTE *, ULONG, BYTE *, ULONG *) = CALL(ULONG(*)(HANDLE, BYTE *, ULONG, BYTE *, ULONG *), "SKF_DecryptUpdate");
    if (!f) return;
    ULONG in_len;
    BYTE *in = parse_hex(arg[1], &in_len), out[4096];
    ULONG out_len = sizeof out;
    rv = f(key, in, in_len, out, &out_len);
    printf("rv=0x%08lx len=%lu", UL(rv), UL(out_len));
    if (rv == 0) print_hex("data", out, out_len <= sizeof out ? out_len : 0);
    free(in);
  } else if (!strcmp(cmd, "decfinal")) {
    ULONG (*f)(HANDLE, BYTE *, ULONG *) = CALL(ULONG(*)(HANDLE, BYTE *, ULONG *), "SKF_DecryptFinal");
    if (!f) return;
    BYTE out[64];
    ULONG out_len = sizeof out;
    rv = f(key, out, &out_len);
    printf("rv=0x%08lx len=%lu", UL(rv), UL(out_len));
    if (rv == 0) print_hex("data", out, out_len <= sizeof out ? out_len : 0);
  } else if (!strcmp(cmd, "closekey")) {
    ULONG (*f)(HANDLE) = CALL(ULONG(*)(HANDLE), "SKF_CloseHandle");
    if (!f) return;
    printf("rv=0x%08lx", UL(f(key)));
  } else if (!strcmp(cmd, "waitstart")) {
    if (!fn("SKF_WaitForDevEvent")) return;
    wait_finished = 0;
    waiting = 1;
    clock_gettime(CLOCK_MONOTONIC, &wait_started);
    pthread_create(&waiter, NULL, wait_thread, NULL);
    printf("rv=0x00000000");
  } else if (!strcmp(cmd, "waitresult")) {
    wait_result(argc > 1 ? atoi(arg[1]) : 5000);
  } else if (!strcmp(cmd, "cancel")) {
    ULONG (*f)(void) = CALL(ULONG(*)(void), "SKF_CancelWaitForDevEvent");
    if (!f) return;
    printf("rv=0x%08lx", UL(f()));
  } else if (!strcmp(cmd, "sleep") && argc > 1) {
    struct timespec pause = {atoi(arg[1]) / 1000, (long)(atoi(arg[1]) % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    printf("rv=0x00000000");
  } else {
    printf("rv=unknown command=%s", cmd);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: skf-selftest <skf library>\n");
    return 2;
  }
  if (!(lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL))) {
    fprintf(stderr, "skf-selftest: %s\n", dlerror());
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  char line[1 << 16];
  while (fgets(line, sizeof line, stdin)) {
    char *arg[8];
    int n = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok && n < 8; tok = strtok(NULL, " \t\r\n")) arg[n++] = tok;
    if (n == 0) continue;
    if (!strcmp(arg[0], "quit")) break;
    clock_gettime(CLOCK_MONOTONIC, &started);
    run(arg, n);
    printf(" ms=%.1f\n", elapsed_ms()); /* every answer is one line, whatever run() returned early from */
    fflush(stdout);
  }
  if (waiting) {
    ((ULONG(*)(void))dlsym(lib, "SKF_CancelWaitForDevEvent"))();
    pthread_join(waiter, NULL);
  }
  return 0;
}
