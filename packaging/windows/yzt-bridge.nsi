; yzt-bridge Windows installer (NSIS, Unicode, Modern UI 2). Chinese first, English second.
; Pages as users of the old 证书应用环境 know them: welcome, folder with 【安装】, progress, 【完成】.
; Built by scripts/packaging/nsis.ts, which stages the payload and passes:
;   /DVERSION=x.y.z /DPAYLOAD=<dir> /DOUTFILE=<exe> /DCHROME_ID=<id> /DFIREFOX_ID=<id> /DHOST_NAME=<name>
;   [/DFAST]  zlib instead of solid LZMA (the compile check on Linux)
; Registers (HKLM, all users): the native-messaging host for Chrome, Chromium, Edge, Brave and Firefox;
; the extension for Chrome and Edge through their store update URLs (Windows browsers accept external
; extensions from their stores only) and for Firefox through the ExtensionSettings policy with the
; Mozilla-signed .xpi shipped here. The uninstaller removes every key and file it wrote.

Unicode true
!include "MUI2.nsh"

!ifdef FAST
  SetCompressor zlib
!else
  SetCompressor /SOLID lzma
!endif

Name "yzt-bridge 一证通桥接 ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\yzt-bridge"
RequestExecutionLevel admin
ShowInstDetails show
VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=2052 "ProductName" "yzt-bridge 一证通桥接"
VIAddVersionKey /LANG=2052 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=2052 "LegalCopyright" "MIT"
VIAddVersionKey /LANG=2052 "FileDescription" "yzt-bridge installer"

!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\yzt-bridge"
!define XPI_URL_PATH "extension/yzt-bridge-firefox.xpi"

!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "SimpChinese"
!insertmacro MUI_LANGUAGE "English"

LangString CheckTitle ${LANG_SIMPCHINESE} "环境检测："
LangString CheckTitle ${LANG_ENGLISH} "Environment check:"
LangString Restart ${LANG_SIMPCHINESE} "安装完成。请重新启动浏览器，然后插入一证通 USB Key。"
LangString Restart ${LANG_ENGLISH} "Installed. Restart the browser, then plug in the USB key."

!macro RegisterHost ROOTKEY
  WriteRegStr HKLM "${ROOTKEY}\NativeMessagingHosts\${HOST_NAME}" "" "$INSTDIR\yzt-bridge-chromium.json"
!macroend

Section "yzt-bridge" MainSection
  SectionIn RO
  SetOutPath "$INSTDIR"
  File /r "${PAYLOAD}\*"

  !insertmacro RegisterHost "Software\Google\Chrome"
  !insertmacro RegisterHost "Software\Chromium"
  !insertmacro RegisterHost "Software\Microsoft\Edge"
  !insertmacro RegisterHost "Software\BraveSoftware\Brave-Browser"
  WriteRegStr HKLM "Software\Mozilla\NativeMessagingHosts\${HOST_NAME}" "" "$INSTDIR\yzt-bridge-firefox.json"

  WriteRegStr HKLM "Software\Google\Chrome\Extensions\${CHROME_ID}" "update_url" "https://clients2.google.com/service/update2/crx"
  WriteRegStr HKLM "Software\Microsoft\Edge\Extensions\${CHROME_ID}" "update_url" "https://edge.microsoft.com/extensionwebstorebase/v1/crx"
  ; file:/// URL of the .xpi: forward slashes, spaces escaped.
  StrCpy $0 "$INSTDIR"
  Push $0
  Call PathToFileUrl
  Pop $1
  ; Firefox reads the whole ExtensionSettings policy as one JSON value (this replaces an earlier one).
  WriteRegStr HKLM "Software\Policies\Mozilla\Firefox" "ExtensionSettings" '{"${FIREFOX_ID}":{"installation_mode":"force_installed","install_url":"file:///$1/${XPI_URL_PATH}"}}'

  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "yzt-bridge 一证通桥接"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "yzt-bridge"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1

  DetailPrint "$(CheckTitle)"
  nsExec::ExecToLog '"$INSTDIR\yzt.cmd" doctor'
  Pop $0
  DetailPrint "$(Restart)"
SectionEnd

; C:\Program Files\yzt-bridge -> C:/Program%20Files/yzt-bridge
Function PathToFileUrl
  Exch $0
  Push $1
  Push $2
  Push $3
  StrCpy $3 ""
  StrCpy $1 0
  loop:
    StrCpy $2 $0 1 $1
    StrCmp $2 "" done
    StrCmp $2 "\" 0 +3
      StrCpy $3 "$3/"
      Goto next
    StrCmp $2 " " 0 +3
      StrCpy $3 "$3%20"
      Goto next
    StrCpy $3 "$3$2"
  next:
    IntOp $1 $1 + 1
    Goto loop
  done:
  StrCpy $0 $3
  Pop $3
  Pop $2
  Pop $1
  Exch $0
FunctionEnd

Section "Uninstall"
  DeleteRegKey HKLM "Software\Google\Chrome\NativeMessagingHosts\${HOST_NAME}"
  DeleteRegKey HKLM "Software\Chromium\NativeMessagingHosts\${HOST_NAME}"
  DeleteRegKey HKLM "Software\Microsoft\Edge\NativeMessagingHosts\${HOST_NAME}"
  DeleteRegKey HKLM "Software\BraveSoftware\Brave-Browser\NativeMessagingHosts\${HOST_NAME}"
  DeleteRegKey HKLM "Software\Mozilla\NativeMessagingHosts\${HOST_NAME}"
  DeleteRegKey HKLM "Software\Google\Chrome\Extensions\${CHROME_ID}"
  DeleteRegKey HKLM "Software\Microsoft\Edge\Extensions\${CHROME_ID}"
  DeleteRegValue HKLM "Software\Policies\Mozilla\Firefox" "ExtensionSettings"
  DeleteRegKey /ifempty HKLM "Software\Policies\Mozilla\Firefox"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
  RMDir /r "$INSTDIR"
SectionEnd
