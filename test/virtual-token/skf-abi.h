/*
 * GM/T 0016-2012 types, structures and codes, as the virtual SKF keys (skf.c on Linux, skf-win.c on Windows)
 * implement them. ULONG is 32 bits, as the standard says, unless VSKF_LP64 makes it `unsigned long` (飞天's
 * Linux headers); every structure is packed to 1 byte, and the asserts hold each layout to what callers
 * compile against.
 */
#ifndef YZT_SKF_ABI_H
#define YZT_SKF_ABI_H
#include <stdint.h>

typedef uint8_t BYTE;
typedef char CHAR;
typedef int32_t BOOL;
#ifdef VSKF_LP64
typedef unsigned long ULONG; /* what 飞天's Linux SKFAPI.h says: 64 bits on LP64 systems */
#else
typedef uint32_t ULONG;
#endif
typedef char *LPSTR;
typedef void *HANDLE;
typedef HANDLE DEVHANDLE;
typedef HANDLE HAPPLICATION;
typedef HANDLE HCONTAINER;

#define ECC_FIELD 64 /* ECC_MAX_XCOORDINATE_BITS_LEN / 8 */
#define MAX_RSA_MODULUS_LEN 256
#define MAX_RSA_EXPONENT_LEN 4
#define MAX_IV_LEN 32

#pragma pack(push, 1)
typedef struct {
  BYTE major;
  BYTE minor;
} VERSION;

typedef struct {
  VERSION Version;
  CHAR Manufacturer[64];
  CHAR Issuer[64];
  CHAR Label[32];
  CHAR SerialNumber[32];
  VERSION HWVersion;
  VERSION FirmwareVersion;
  ULONG AlgSymCap;
  ULONG AlgAsymCap;
  ULONG AlgHashCap;
  ULONG DevAuthAlgId;
  ULONG TotalSpace;
  ULONG FreeSpace;
  ULONG MaxECCBufferSize;
  ULONG MaxBufferSize;
  BYTE Reserved[64];
} DEVINFO;

typedef struct {
  ULONG AlgID;
  ULONG BitLen;
  BYTE Modulus[MAX_RSA_MODULUS_LEN];
  BYTE PublicExponent[MAX_RSA_EXPONENT_LEN];
} RSAPUBLICKEYBLOB;

typedef struct {
  ULONG BitLen;
  BYTE XCoordinate[ECC_FIELD];
  BYTE YCoordinate[ECC_FIELD];
} ECCPUBLICKEYBLOB;

typedef struct {
  BYTE XCoordinate[ECC_FIELD];
  BYTE YCoordinate[ECC_FIELD];
  BYTE HASH[32];
  ULONG CipherLen;
  BYTE Cipher[1]; /* CipherLen bytes in fact */
} ECCCIPHERBLOB;

typedef struct {
  BYTE r[ECC_FIELD];
  BYTE s[ECC_FIELD];
} ECCSIGNATUREBLOB;

typedef struct {
  BYTE IV[MAX_IV_LEN];
  ULONG IVLen;
  ULONG PaddingType;
  ULONG FeedBitLen;
} BLOCKCIPHERPARAM;

/* The encryption key pair a CA's key-management centre sends, protected with the container's signing key. */
typedef struct {
  ULONG Version;                /* 1 */
  ULONG ulSymmAlgID;            /* SGD_SM4_ECB */
  ULONG ulBits;                 /* 256 */
  BYTE cbEncryptedPriKey[64];   /* the private key, SM4-encrypted (skf.c's header comment says how it is laid out) */
  ECCPUBLICKEYBLOB PubKey;      /* its public key */
  ECCCIPHERBLOB ECCCipherBlob;  /* the SM4 key, SM2-encrypted to the signing public key; Cipher runs past the struct */
} ENVELOPEDKEYBLOB;
#pragma pack(pop)

/* The layouts callers compile against (GM/T 0016-2012 with 1-byte packing); each ULONG past 4 bytes widens them. */
#define WIDE ((int)sizeof(ULONG) - 4)
_Static_assert(sizeof(DEVINFO) == 294 + 8 * WIDE, "DEVINFO layout");
_Static_assert(sizeof(RSAPUBLICKEYBLOB) == 268 + 2 * WIDE, "RSAPUBLICKEYBLOB layout");
_Static_assert(sizeof(ECCPUBLICKEYBLOB) == 132 + WIDE, "ECCPUBLICKEYBLOB layout");
_Static_assert(sizeof(ECCCIPHERBLOB) == 165 + WIDE, "ECCCIPHERBLOB layout");
_Static_assert(sizeof(ECCSIGNATUREBLOB) == 128, "ECCSIGNATUREBLOB layout");
_Static_assert(sizeof(BLOCKCIPHERPARAM) == 44 + 3 * WIDE, "BLOCKCIPHERPARAM layout");
_Static_assert(sizeof(ENVELOPEDKEYBLOB) == 373 + 5 * WIDE, "ENVELOPEDKEYBLOB layout");
#define ECC_CIPHER_HEADER (164 + WIDE) /* offset of ECCCIPHERBLOB.Cipher */

#define SAR_OK 0x00000000
#define SAR_FAIL 0x0A000001
#define SAR_NOTSUPPORTYETERR 0x0A000003
#define SAR_INVALIDHANDLEERR 0x0A000005
#define SAR_INVALIDPARAMERR 0x0A000006
#define SAR_NAMELENERR 0x0A000009
#define SAR_KEYUSAGEERR 0x0A00000A
#define SAR_MODULUSLENERR 0x0A00000B
#define SAR_NOTINITIALIZEERR 0x0A00000C
#define SAR_MEMORYERR 0x0A00000E
#define SAR_INDATALENERR 0x0A000010
#define SAR_INDATAERR 0x0A000011
#define SAR_KEYNOTFOUNTERR 0x0A00001B
#define SAR_CERTNOTFOUNTERR 0x0A00001C
#define SAR_DECRYPTPADERR 0x0A00001E
#define SAR_BUFFER_TOO_SMALL 0x0A000020
#define SAR_NOT_EVENTERR 0x0A000022
#define SAR_DEVICE_REMOVED 0x0A000023
#define SAR_PIN_INCORRECT 0x0A000024
#define SAR_PIN_LOCKED 0x0A000025
#define SAR_PIN_INVALID 0x0A000026
#define SAR_PIN_LEN_RANGE 0x0A000027
#define SAR_USER_ALREADY_LOGGED_IN 0x0A000028
#define SAR_USER_PIN_NOT_INITIALIZED 0x0A000029
#define SAR_USER_TYPE_INVALID 0x0A00002A
#define SAR_USER_NOT_LOGGED_IN 0x0A00002D
#define SAR_APPLICATION_NOT_EXISTS 0x0A00002E
#define SAR_FILE_ALREADY_EXIST 0x0A00002F
#define SAR_REACH_MAX_CONTAINER_COUNT 0x0A000032
#define SAR_CONTAINER_NOT_EXIST 0x0A000034 /* vendor extension of the code list, widely used */

#define ADMIN_TYPE 0
#define USER_TYPE 1
#define DEV_ABSENT_STATE 0
#define DEV_PRESENT_STATE 1
#define CONTAINER_RSA 1
#define CONTAINER_ECC 2
#define EVENT_INSERTED 1
#define EVENT_REMOVED 2

#define SGD_SM4_ECB 0x00000401
#define SGD_SM4_CBC 0x00000402
#define SGD_RSA 0x00010000
#define SGD_SM2_1 0x00020100
#define SGD_SM2_3 0x00020400

#endif
