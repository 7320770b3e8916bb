/*
 * yzt-bridge standalone test SKF library: one USB key with one RSA-2048 signing certificate behind the interface
 * of a vendor's SKF library (GM/T 0016-2012), cross-compiled for the platforms the host ships to but this
 * machine cannot run natively: 32-bit and 64-bit Windows DLLs (mingw-w64; yzt-sskf-win-ia32.dll,
 * yzt-sskf-win-x64.dll), proven under Wine, and a Linux arm64 library (yzt-sskf-linux-arm64.so), proven
 * under qemu-user — without any vendor code.
 *
 * Why it is not skf.c: the Linux virtual keys sit on SoftHSM2 and OpenSSL, which have no build for those
 * targets here. This library holds its one key itself: the key pair and the certificate are compiled in from
 * a header the build generates (build-standalone.ts: a fresh RSA key and a self-signed certificate made by
 * OpenSSL), and signing is done by the RSA code below (PKCS#1 v1.5 over what the caller passes, which is a
 * DigestInfo as GM/T 0016 callers give it). OpenSSL checks every signature it makes in the tests.
 *
 * The model: one device named "SSKF-<arch>-0001" (arch = ia32, x64 or arm64, so a test sees which library
 * answered), one
 * application "BJCA-Application", one container "RSA-0101" of type RSA holding the signing certificate only.
 * The user PIN (SSKF_USER_PIN) locks after 10 wrong tries, the admin PIN (SSKF_ADMIN_PIN) unblocks it; the
 * counter lives in memory, as long as the library stays loaded. No device events (no SKF_WaitForDevEvent): the
 * host polls, as it must for many vendor DLLs.
 *
 * Variants: -DSSKF_HANG_ENUM makes SKF_EnumDev never return (C*Core's library left the host unanswering), for
 * the test that the host still answers and exits when its stdin closes; -DSSKF_NOISY writes debug lines to
 * the process's standard output and error in SKF_EnumDev and SKF_RSASignData, as vendor DLLs do (through
 * the Win32 standard handles on Windows), which must never reach the driver's frames.
 *
 * ABI: on Windows __stdcall, exported without decoration (-Wl,--kill-at), as vendors' .def files export them;
 * elsewhere the C convention with only the SKF_ functions visible. ULONG and BOOL 32 bits, handles pointers,
 * structures packed to 1 byte (skf-abi.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "skf-abi.h"
#include SSKF_KEY_HEADER /* SSKF_MODULUS[256], SSKF_PRIVATE_EXPONENT[256], SSKF_CERTIFICATE[] */

#ifdef _WIN32
#define SKF_API __declspec(dllexport) ULONG __stdcall
__declspec(dllimport) void __stdcall Sleep(uint32_t milliseconds);
__declspec(dllimport) void *__stdcall GetStdHandle(uint32_t which);
__declspec(dllimport) int __stdcall WriteFile(void *file, const void *data, uint32_t size, uint32_t *written, void *overlapped);
static void yield_cpu(void) { Sleep(0); }
/* Straight to the Win32 standard output (-11) and error (-12), as a vendor's own logging does. */
__attribute__((unused)) static void print_debug(const char *line) {
  uint32_t written;
  WriteFile(GetStdHandle((uint32_t)-11), line, (uint32_t)strlen(line), &written, 0);
  WriteFile(GetStdHandle((uint32_t)-12), line, (uint32_t)strlen(line), &written, 0);
}
__attribute__((unused)) static void never_return(void) {
  for (;;) Sleep(0xFFFFFFFF);
}
#else
#include <sched.h>
#include <unistd.h>
#define SKF_API __attribute__((visibility("default"))) ULONG
static void yield_cpu(void) { sched_yield(); }
__attribute__((unused)) static void print_debug(const char *line) {
  if (write(1, line, strlen(line)) < 0 || write(2, line, strlen(line)) < 0) return;
}
__attribute__((unused)) static void never_return(void) {
  for (;;) pause();
}
#endif

#if defined(__aarch64__)
#define ARCH "arm64"
#elif defined(__x86_64__)
#define ARCH "x64"
#elif defined(__i386__)
#define ARCH "ia32"
#else
#error "an architecture the tests do not name"
#endif
#define DEVICE_NAME "SSKF-" ARCH "-0001"
#define APPLICATION_NAME "BJCA-Application"
#define CONTAINER_NAME "RSA-0101"
#define MAX_PIN_TRIES 10

/* ---------- state: one key; handles are the addresses of these objects ---------- */

static volatile long g_lock;
static int g_device, g_application, g_container; /* their addresses are the handles */
static int g_connected, g_open, g_container_open, g_logged_in;
static ULONG g_user_tries_left = MAX_PIN_TRIES;
static char g_user_pin[17] = SSKF_USER_PIN;

/* The host calls from several worker threads: one lock around every call, as in skf.c. */
static void lock(void) {
  while (__atomic_exchange_n(&g_lock, 1, __ATOMIC_ACQUIRE)) yield_cpu();
}
static void unlock(void) { __atomic_store_n(&g_lock, 0, __ATOMIC_RELEASE); }
#define LOCKED(expr)  \
  do {                \
    lock();           \
    ULONG rv_ = expr; \
    unlock();         \
    return rv_;       \
  } while (0)

/* ---------- RSA: Montgomery arithmetic over 32-bit limbs, little-endian ---------- */

#define LIMBS (MAX_RSA_MODULUS_LEN / 4)
typedef uint32_t limb;

static void from_big_endian(limb *out, const BYTE *in) {
  for (int i = 0; i < LIMBS; i++) {
    const BYTE *p = in + MAX_RSA_MODULUS_LEN - 4 * (i + 1);
    out[i] = (limb)p[0] << 24 | (limb)p[1] << 16 | (limb)p[2] << 8 | p[3];
  }
}

static void to_big_endian(BYTE *out, const limb *in) {
  for (int i = 0; i < LIMBS; i++) {
    BYTE *p = out + MAX_RSA_MODULUS_LEN - 4 * (i + 1);
    p[0] = (BYTE)(in[i] >> 24), p[1] = (BYTE)(in[i] >> 16), p[2] = (BYTE)(in[i] >> 8), p[3] = (BYTE)in[i];
  }
}

static int at_least(const limb *a, const limb *n) {
  for (int i = LIMBS - 1; i >= 0; i--) {
    if (a[i] != n[i]) return a[i] > n[i];
  }
  return 1;
}

static void subtract(limb *a, const limb *n) {
  uint64_t borrow = 0;
  for (int i = 0; i < LIMBS; i++) {
    uint64_t d = (uint64_t)a[i] - n[i] - borrow;
    a[i] = (limb)d;
    borrow = (d >> 32) & 1;
  }
}

/* -n^-1 mod 2^32, by Newton's iteration (n is odd). */
static limb negated_inverse(limb n0) {
  limb x = 1;
  for (int i = 0; i < 5; i++) x *= 2 - n0 * x;
  return (limb)0 - x;
}

/* r = a * b / 2^2048 mod n (r may alias a or b). */
static void montgomery_multiply(limb *r, const limb *a, const limb *b, const limb *n, limb n_inv) {
  limb t[LIMBS + 2] = {0};
  for (int i = 0; i < LIMBS; i++) {
    uint64_t carry = 0;
    for (int j = 0; j < LIMBS; j++) {
      carry += (uint64_t)t[j] + (uint64_t)a[j] * b[i];
      t[j] = (limb)carry;
      carry >>= 32;
    }
    carry += t[LIMBS];
    t[LIMBS] = (limb)carry;
    t[LIMBS + 1] = (limb)(carry >> 32);
    limb m = t[0] * n_inv;
    carry = ((uint64_t)m * n[0] + t[0]) >> 32;
    for (int j = 1; j < LIMBS; j++) {
      carry += (uint64_t)t[j] + (uint64_t)m * n[j];
      t[j - 1] = (limb)carry;
      carry >>= 32;
    }
    carry += t[LIMBS];
    t[LIMBS - 1] = (limb)carry;
    t[LIMBS] = t[LIMBS + 1] + (limb)(carry >> 32);
  }
  if (t[LIMBS] || at_least(t, n)) subtract(t, n);
  memcpy(r, t, sizeof(limb) * LIMBS);
}

/* out = in^d mod n, all 256-byte big-endian numbers, in < n. */
static void rsa_private(BYTE *out, const BYTE *in) {
  limb n[LIMBS], d[LIMBS], x[LIMBS], acc[LIMBS], r2[LIMBS] = {1}, one[LIMBS] = {1};
  from_big_endian(n, SSKF_MODULUS);
  from_big_endian(d, SSKF_PRIVATE_EXPONENT);
  from_big_endian(x, in);
  /* R^2 mod n = 2^4096 mod n, by doubling 1 modulo n. */
  for (int bit = 0; bit < 2 * 32 * LIMBS; bit++) {
    limb carry = r2[LIMBS - 1] >> 31;
    for (int i = LIMBS - 1; i > 0; i--) r2[i] = r2[i] << 1 | r2[i - 1] >> 31;
    r2[0] <<= 1;
    if (carry || at_least(r2, n)) subtract(r2, n);
  }
  limb n_inv = negated_inverse(n[0]);
  montgomery_multiply(x, x, r2, n, n_inv);   /* x in Montgomery form */
  montgomery_multiply(acc, one, r2, n, n_inv); /* 1 in Montgomery form */
  for (int i = 32 * LIMBS - 1; i >= 0; i--) {
    montgomery_multiply(acc, acc, acc, n, n_inv);
    if (d[i / 32] >> (i % 32) & 1) montgomery_multiply(acc, acc, x, n, n_inv);
  }
  montgomery_multiply(acc, acc, one, n, n_inv);
  to_big_endian(out, acc);
}

/* ---------- helpers ---------- */

/* `length` bytes answered with the size-query protocol of GM/T 0016: no buffer gives the size, too small a one BUFFER_TOO_SMALL. */
static ULONG put_bytes(const void *data, ULONG length, void *out, ULONG *size) {
  if (!size) return SAR_INVALIDPARAMERR;
  if (out && *size >= length) memcpy(out, data, length);
  ULONG rv = out && *size < length ? SAR_BUFFER_TOO_SMALL : SAR_OK;
  *size = length;
  return rv;
}

/* A double-NUL-terminated list of one name: the literal's own NUL and the one its sizeof counts. */
#define PUT_NAME_LIST(name, out, size) put_bytes(name "\0", (ULONG)sizeof(name "\0"), (out), (size))

static void copy_text(CHAR *field, size_t size, const char *text) {
  memset(field, 0, size);
  memcpy(field, text, strlen(text) < size ? strlen(text) : size - 1);
}

/* ---------- devices ---------- */

static ULONG enum_dev(LPSTR list, ULONG *size) {
#ifdef SSKF_HANG_ENUM
  never_return();
#endif
#ifdef SSKF_NOISY
  print_debug("SSKF debug: SKF_EnumDev\r\n");
#endif
  return PUT_NAME_LIST(DEVICE_NAME, list, size);
}

static ULONG connect_dev(LPSTR name, DEVHANDLE *out) {
  if (!name || !out) return SAR_INVALIDPARAMERR;
  if (strcmp(name, DEVICE_NAME) != 0) return SAR_DEVICE_REMOVED;
  g_connected = 1;
  *out = &g_device;
  return SAR_OK;
}

static ULONG disconnect_dev(DEVHANDLE h) {
  if (h != &g_device || !g_connected) return SAR_INVALIDHANDLEERR;
  g_connected = g_open = g_container_open = g_logged_in = 0;
  return SAR_OK;
}

static ULONG get_dev_info(DEVHANDLE h, DEVINFO *info) {
  if (h != &g_device || !g_connected) return SAR_INVALIDHANDLEERR;
  if (!info) return SAR_INVALIDPARAMERR;
  memset(info, 0, sizeof *info);
  info->Version.major = 1;
  copy_text(info->Manufacturer, sizeof info->Manufacturer, "yzt-bridge");
  copy_text(info->Issuer, sizeof info->Issuer, "yzt-bridge test CA");
  copy_text(info->Label, sizeof info->Label, "yzt standalone " ARCH);
  copy_text(info->SerialNumber, sizeof info->SerialNumber, DEVICE_NAME);
  info->AlgAsymCap = SGD_RSA;
  info->MaxBufferSize = 4096;
  return SAR_OK;
}

/* ---------- application and PIN ---------- */

static ULONG enum_application(DEVHANDLE h, LPSTR list, ULONG *size) {
  if (h != &g_device || !g_connected) return SAR_INVALIDHANDLEERR;
  return PUT_NAME_LIST(APPLICATION_NAME, list, size);
}

static ULONG open_application(DEVHANDLE h, LPSTR name, HAPPLICATION *out) {
  if (h != &g_device || !g_connected) return SAR_INVALIDHANDLEERR;
  if (!name || !out) return SAR_INVALIDPARAMERR;
  if (strcmp(name, APPLICATION_NAME) != 0) return SAR_APPLICATION_NOT_EXISTS;
  g_open = 1;
  *out = &g_application;
  return SAR_OK;
}

static int application_open(HAPPLICATION h) { return h == &g_application && g_open; }

static ULONG close_application(HAPPLICATION h) {
  if (!application_open(h)) return SAR_INVALIDHANDLEERR;
  g_open = g_container_open = g_logged_in = 0;
  return SAR_OK;
}

static ULONG get_pin_info(HAPPLICATION h, ULONG type, ULONG *max, ULONG *remain, BOOL *is_default) {
  if (!application_open(h)) return SAR_INVALIDHANDLEERR;
  if (!max || !remain || !is_default) return SAR_INVALIDPARAMERR;
  if (type != USER_TYPE && type != ADMIN_TYPE) return SAR_USER_TYPE_INVALID;
  *max = MAX_PIN_TRIES;
  *remain = type == USER_TYPE ? g_user_tries_left : MAX_PIN_TRIES;
  *is_default = 0;
  return SAR_OK;
}

/* The user PIN's check, counting wrong ones; the admin PIN is never locked. */
static ULONG check_pin(ULONG type, LPSTR pin, ULONG *retry) {
  if (type != USER_TYPE && type != ADMIN_TYPE) return SAR_USER_TYPE_INVALID;
  if (type == ADMIN_TYPE) {
    *retry = MAX_PIN_TRIES;
    return strcmp(pin, SSKF_ADMIN_PIN) == 0 ? SAR_OK : SAR_PIN_INCORRECT;
  }
  if (g_user_tries_left == 0) {
    *retry = 0;
    return SAR_PIN_LOCKED;
  }
  if (strcmp(pin, g_user_pin) != 0) {
    *retry = --g_user_tries_left;
    return g_user_tries_left == 0 ? SAR_PIN_LOCKED : SAR_PIN_INCORRECT;
  }
  g_user_tries_left = MAX_PIN_TRIES;
  *retry = MAX_PIN_TRIES;
  return SAR_OK;
}

static ULONG verify_pin(HAPPLICATION h, ULONG type, LPSTR pin, ULONG *retry) {
  if (!application_open(h)) return SAR_INVALIDHANDLEERR;
  if (!pin || !retry) return SAR_INVALIDPARAMERR;
  ULONG rv = check_pin(type, pin, retry);
  if (rv == SAR_OK && type == USER_TYPE) g_logged_in = 1;
  return rv;
}

static ULONG set_user_pin(LPSTR pin) {
  size_t length = strlen(pin);
  if (length < 6 || length >= sizeof g_user_pin) return SAR_PIN_LEN_RANGE;
  memcpy(g_user_pin, pin, length + 1);
  g_user_tries_left = MAX_PIN_TRIES;
  return SAR_OK;
}

static ULONG change_pin(HAPPLICATION h, ULONG type, LPSTR old_pin, LPSTR new_pin, ULONG *retry) {
  if (!application_open(h)) return SAR_INVALIDHANDLEERR;
  if (!old_pin || !new_pin || !retry) return SAR_INVALIDPARAMERR;
  if (type != USER_TYPE) return SAR_NOTSUPPORTYETERR; /* the admin PIN belongs to the issuer */
  ULONG rv = check_pin(type, old_pin, retry);
  return rv == SAR_OK ? set_user_pin(new_pin) : rv;
}

static ULONG unblock_pin(HAPPLICATION h, LPSTR admin_pin, LPSTR new_user_pin, ULONG *retry) {
  if (!application_open(h)) return SAR_INVALIDHANDLEERR;
  if (!admin_pin || !new_user_pin || !retry) return SAR_INVALIDPARAMERR;
  ULONG rv = check_pin(ADMIN_TYPE, admin_pin, retry);
  return rv == SAR_OK ? set_user_pin(new_user_pin) : rv;
}

static ULONG clear_secure_state(HAPPLICATION h) {
  if (!application_open(h)) return SAR_INVALIDHANDLEERR;
  g_logged_in = 0;
  return SAR_OK;
}

/* ---------- the container ---------- */

static ULONG enum_container(HAPPLICATION h, LPSTR list, ULONG *size) {
  if (!application_open(h)) return SAR_INVALIDHANDLEERR;
  return PUT_NAME_LIST(CONTAINER_NAME, list, size);
}

static ULONG open_container(HAPPLICATION h, LPSTR name, HCONTAINER *out) {
  if (!application_open(h)) return SAR_INVALIDHANDLEERR;
  if (!name || !out) return SAR_INVALIDPARAMERR;
  if (strcmp(name, CONTAINER_NAME) != 0) return SAR_CONTAINER_NOT_EXIST;
  g_container_open = 1;
  *out = &g_container;
  return SAR_OK;
}

static int container_open(HCONTAINER h) { return h == &g_container && g_container_open && g_open; }

static ULONG close_container(HCONTAINER h) {
  if (!container_open(h)) return SAR_INVALIDHANDLEERR;
  g_container_open = 0;
  return SAR_OK;
}

static ULONG get_container_type(HCONTAINER h, ULONG *type) {
  if (!container_open(h)) return SAR_INVALIDHANDLEERR;
  if (!type) return SAR_INVALIDPARAMERR;
  *type = CONTAINER_RSA;
  return SAR_OK;
}

static ULONG export_certificate(HCONTAINER h, BOOL sign, BYTE *out, ULONG *length) {
  if (!container_open(h)) return SAR_INVALIDHANDLEERR;
  if (!length) return SAR_INVALIDPARAMERR;
  if (!sign) return SAR_CERTNOTFOUNTERR; /* a signing certificate only */
  return put_bytes(SSKF_CERTIFICATE, (ULONG)sizeof SSKF_CERTIFICATE, out, length);
}

/* PKCS#1 v1.5 signature (block type 1) of what the caller passes: 00 01 FF.. 00 data. */
static ULONG rsa_sign_data(HCONTAINER h, BYTE *data, ULONG data_len, BYTE *sig, ULONG *sig_len) {
  if (!container_open(h)) return SAR_INVALIDHANDLEERR;
  if (!data || !sig_len) return SAR_INVALIDPARAMERR;
  if (!g_logged_in) return SAR_USER_NOT_LOGGED_IN;
#ifdef SSKF_NOISY
  print_debug("SSKF debug: SKF_RSASignData\r\n");
#endif
  if (data_len > MAX_RSA_MODULUS_LEN - 11) return SAR_INDATALENERR;
  if (!sig) {
    *sig_len = MAX_RSA_MODULUS_LEN;
    return SAR_OK;
  }
  if (*sig_len < MAX_RSA_MODULUS_LEN) {
    *sig_len = MAX_RSA_MODULUS_LEN;
    return SAR_BUFFER_TOO_SMALL;
  }
  BYTE block[MAX_RSA_MODULUS_LEN];
  size_t pad = MAX_RSA_MODULUS_LEN - 3 - data_len;
  block[0] = 0, block[1] = 1;
  memset(block + 2, 0xFF, pad);
  block[2 + pad] = 0;
  memcpy(block + 3 + pad, data, data_len);
  rsa_private(sig, block);
  *sig_len = MAX_RSA_MODULUS_LEN;
  return SAR_OK;
}

/* ---------- exports ---------- */

SKF_API SKF_EnumDev(BOOL bPresent, LPSTR szNameList, ULONG *pulSize) {
  (void)bPresent; /* a key that is not present is unknown to a USB driver too */
  return enum_dev(szNameList, pulSize); /* outside the lock: the hanging variant must not block the rest */
}
SKF_API SKF_ConnectDev(LPSTR szName, DEVHANDLE *phDev) { LOCKED(connect_dev(szName, phDev)); }
SKF_API SKF_DisConnectDev(DEVHANDLE hDev) { LOCKED(disconnect_dev(hDev)); }
SKF_API SKF_GetDevInfo(DEVHANDLE hDev, DEVINFO *pDevInfo) { LOCKED(get_dev_info(hDev, pDevInfo)); }
SKF_API SKF_EnumApplication(DEVHANDLE hDev, LPSTR szAppName, ULONG *pulSize) { LOCKED(enum_application(hDev, szAppName, pulSize)); }
SKF_API SKF_OpenApplication(DEVHANDLE hDev, LPSTR szAppName, HAPPLICATION *phApplication) { LOCKED(open_application(hDev, szAppName, phApplication)); }
SKF_API SKF_CloseApplication(HAPPLICATION hApplication) { LOCKED(close_application(hApplication)); }
SKF_API SKF_GetPINInfo(HAPPLICATION hApplication, ULONG ulPINType, ULONG *pulMaxRetryCount, ULONG *pulRemainRetryCount, BOOL *pbDefaultPin) {
  LOCKED(get_pin_info(hApplication, ulPINType, pulMaxRetryCount, pulRemainRetryCount, pbDefaultPin));
}
SKF_API SKF_VerifyPIN(HAPPLICATION hApplication, ULONG ulPINType, LPSTR szPIN, ULONG *pulRetryCount) { LOCKED(verify_pin(hApplication, ulPINType, szPIN, pulRetryCount)); }
SKF_API SKF_ChangePIN(HAPPLICATION hApplication, ULONG ulPINType, LPSTR szOldPin, LPSTR szNewPin, ULONG *pulRetryCount) {
  LOCKED(change_pin(hApplication, ulPINType, szOldPin, szNewPin, pulRetryCount));
}
SKF_API SKF_UnblockPIN(HAPPLICATION hApplication, LPSTR szAdminPIN, LPSTR szNewUserPIN, ULONG *pulRetryCount) {
  LOCKED(unblock_pin(hApplication, szAdminPIN, szNewUserPIN, pulRetryCount));
}
SKF_API SKF_ClearSecureState(HAPPLICATION hApplication) { LOCKED(clear_secure_state(hApplication)); }
SKF_API SKF_EnumContainer(HAPPLICATION hApplication, LPSTR szContainerName, ULONG *pulSize) { LOCKED(enum_container(hApplication, szContainerName, pulSize)); }
SKF_API SKF_OpenContainer(HAPPLICATION hApplication, LPSTR szContainerName, HCONTAINER *phContainer) { LOCKED(open_container(hApplication, szContainerName, phContainer)); }
SKF_API SKF_CloseContainer(HCONTAINER hContainer) { LOCKED(close_container(hContainer)); }
SKF_API SKF_GetContainerType(HCONTAINER hContainer, ULONG *pulContainerType) { LOCKED(get_container_type(hContainer, pulContainerType)); }
SKF_API SKF_ExportCertificate(HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbCert, ULONG *pulCertLen) { LOCKED(export_certificate(hContainer, bSignFlag, pbCert, pulCertLen)); }
SKF_API SKF_ECCSignData(HCONTAINER hContainer, BYTE *pbData, ULONG ulDataLen, ECCSIGNATUREBLOB *pSignature) {
  (void)pbData, (void)ulDataLen, (void)pSignature;
  lock();
  ULONG rv = container_open(hContainer) ? SAR_KEYUSAGEERR : SAR_INVALIDHANDLEERR; /* an RSA container */
  unlock();
  return rv;
}
SKF_API SKF_RSASignData(HCONTAINER hContainer, BYTE *pbData, ULONG ulDataLen, BYTE *pbSignature, ULONG *pulSignLen) {
  LOCKED(rsa_sign_data(hContainer, pbData, ulDataLen, pbSignature, pulSignLen));
}
