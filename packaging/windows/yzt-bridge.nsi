; yzt-bridge Windows installer (NSIS, Unicode, Modern UI 2). Chinese first, English second.
; Pages as users of the old 证书应用环境 know them: welcome, folder with 【安装】, progress, 【完成】.
; Built by scripts/packaging/nsis.ts, which stages the payload and passes:
;   /DVERSION=x.y.z /DPAYLOAD=<dir> /DOUTFILE=<exe> /DCHROME_ID=<id> /DEDGE_ID=<id> /DFIREFOX_ID=<id>
;   /DHOST_NAME=<name> [/DNO_PKCS11] (the payload has no Windows build of the PKCS#11 binding)
;   [/DFAST] zlib instead of solid LZMA: a larger file built in a fraction of the time (YZT_NSIS_FAST=1, development)
;
; Scope: per user by default (no administrator needed: %LOCALAPPDATA%\Programs\yzt-bridge, HKCU);
; `setup.exe /ALLUSERS` (as administrator) installs per machine (Program Files, HKLM, every registry key
; in both views: Software\... and Software\WOW6432Node\...). `/S` is silent; `/D=<dir>` picks the folder.
; Registers: the native-messaging host for Chrome, Chromium and Edge (Edge also reads Chromium's and
; Chrome's keys; Chromium forks such as 360, QQ, 搜狗, 2345 and 奇安信 keep that lookup unless patched),
; Brave and Firefox; the extension for Edge and Chrome as store-hosted external extensions (the browser
; offers it, the user enables it; Windows browsers take external extensions from their stores only) and for
; Firefox through the ExtensionSettings policy with the Mozilla-signed .xpi shipped here.
; The uninstaller removes every key and file this installer wrote, in the scope it was installed in.

; 64-bit installer: the payload (node.exe x64) needs 64-bit Windows anyway, and a 64-bit installer sees the
; 64-bit Program Files and registry view by default.
Target amd64-unicode
!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"

!ifdef FAST
  SetCompressor zlib
!else
  SetCompressor /SOLID lzma
!endif

Name "yzt-bridge 一证通桥接 ${VERSION}"
OutFile "${OUTFILE}"
RequestExecutionLevel user
ShowInstDetails show
ShowUninstDetails show
VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=2052 "ProductName" "yzt-bridge 一证通桥接"
VIAddVersionKey /LANG=2052 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=2052 "LegalCopyright" "MIT"
VIAddVersionKey /LANG=2052 "FileDescription" "yzt-bridge installer"

!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\yzt-bridge"
!define XPI_URL_PATH "extension/yzt-bridge-firefox.xpi"
!define EDGE_STORE_UPDATE_URL "https://edge.microsoft.com/extensionwebstorebase/v1/crx"
!define CHROME_STORE_UPDATE_URL "https://clients2.google.com/service/update2/crx"
; ERROR_ELEVATION_REQUIRED: /ALLUSERS started without administrator rights.
!define EXIT_NEEDS_ADMIN 740

Var PerMachine

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
LangString Restart ${LANG_SIMPCHINESE} "安装完成。请重新启动浏览器，然后插入一证通 USB Key。Edge 会提示“已添加新的扩展”，请点击【启用扩展】。"
LangString Restart ${LANG_ENGLISH} "Installed. Restart the browser, then plug in the USB key. Edge offers the added extension: turn it on."
LangString NeedsAdmin ${LANG_SIMPCHINESE} "为所有用户安装 (/ALLUSERS) 需要以管理员身份运行。"
LangString NeedsAdmin ${LANG_ENGLISH} "Installing for all users (/ALLUSERS) needs administrator rights."
LangString NoPkcs11 ${LANG_SIMPCHINESE} "注意：此安装程序不含 PKCS#11 组件 (pkcs11js)，仅支持 SKF 驱动的 USB Key；正式发布版本包含该组件。"
LangString NoPkcs11 ${LANG_ENGLISH} "Note: this installer has no PKCS#11 binding (pkcs11js): keys with SKF drivers only; release installers carry it."

; One registry value in both views. Per user (HKCU) both land on the same key; per machine (HKLM) 64-bit
; browsers read Software\..., 32-bit ones and Chromium's external-extension loader read WOW6432Node.
!macro WriteBothViews KEY NAME VALUE
  SetRegView 64
  WriteRegStr SHCTX "${KEY}" "${NAME}" "${VALUE}"
  SetRegView 32
  WriteRegStr SHCTX "${KEY}" "${NAME}" "${VALUE}"
  SetRegView 64
!macroend

!macro DeleteBothViews KEY
  SetRegView 64
  DeleteRegKey SHCTX "${KEY}"
  SetRegView 32
  DeleteRegKey SHCTX "${KEY}"
  SetRegView 64
!macroend

!macro RegisterHost VENDOR MANIFEST
  !insertmacro WriteBothViews "Software\${VENDOR}\NativeMessagingHosts\${HOST_NAME}" "" "$INSTDIR\${MANIFEST}"
!macroend

!macro UnregisterHost VENDOR
  !insertmacro DeleteBothViews "Software\${VENDOR}\NativeMessagingHosts\${HOST_NAME}"
!macroend

; Removes a key only when nothing is left in it (another program's key, or a browser's own, stays).
!macro DeleteIfEmpty KEY
  SetRegView 64
  DeleteRegKey /ifempty SHCTX "${KEY}"
  SetRegView 32
  DeleteRegKey /ifempty SHCTX "${KEY}"
  SetRegView 64
!macroend

; Parents this installer may have created, innermost first.
!macro DeleteEmptyParents
  !insertmacro DeleteIfEmpty "Software\Google\Chrome\NativeMessagingHosts"
  !insertmacro DeleteIfEmpty "Software\Google\Chrome\Extensions"
  !insertmacro DeleteIfEmpty "Software\Google\Chrome"
  !insertmacro DeleteIfEmpty "Software\Google"
  !insertmacro DeleteIfEmpty "Software\Chromium\NativeMessagingHosts"
  !insertmacro DeleteIfEmpty "Software\Chromium"
  !insertmacro DeleteIfEmpty "Software\Microsoft\Edge\NativeMessagingHosts"
  !insertmacro DeleteIfEmpty "Software\Microsoft\Edge\Extensions"
  !insertmacro DeleteIfEmpty "Software\Microsoft\Edge"
  !insertmacro DeleteIfEmpty "Software\BraveSoftware\Brave-Browser\NativeMessagingHosts"
  !insertmacro DeleteIfEmpty "Software\BraveSoftware\Brave-Browser"
  !insertmacro DeleteIfEmpty "Software\BraveSoftware"
  !insertmacro DeleteIfEmpty "Software\Mozilla\NativeMessagingHosts"
  !insertmacro DeleteIfEmpty "Software\Policies\Mozilla\Firefox"
  !insertmacro DeleteIfEmpty "Software\Policies\Mozilla"
  !insertmacro DeleteIfEmpty "Software\Mozilla"
  !insertmacro DeleteIfEmpty "Software\Policies"
!macroend

; Per machine with /ALLUSERS (administrator only), else per user. Sets $PerMachine, the shell context and,
; unless /D= chose one, the folder.
!macro ChooseScope
  ${GetParameters} $0
  ClearErrors
  ${GetOptions} $0 "/ALLUSERS" $1
  ${If} ${Errors}
    StrCpy $PerMachine 0
  ${Else}
    StrCpy $PerMachine 1
  ${EndIf}
  ${If} $PerMachine == 1
    UserInfo::GetAccountType
    Pop $2
    ${If} $2 != "Admin"
      IfSilent +2
        MessageBox MB_ICONSTOP "$(NeedsAdmin)"
      SetErrorLevel ${EXIT_NEEDS_ADMIN}
      Quit
    ${EndIf}
    SetShellVarContext all
  ${Else}
    SetShellVarContext current
  ${EndIf}
  SetRegView 64
!macroend

Function .onInit
  !insertmacro ChooseScope
  ${If} $INSTDIR == ""
    ${If} $PerMachine == 1
      StrCpy $INSTDIR "$PROGRAMFILES64\yzt-bridge"
    ${Else}
      StrCpy $INSTDIR "$LOCALAPPDATA\Programs\yzt-bridge"
    ${EndIf}
  ${EndIf}
FunctionEnd

Section "yzt-bridge" MainSection
  SectionIn RO
  SetOutPath "$INSTDIR"
  File /r "${PAYLOAD}\*"
  ; What `yzt doctor` checks: the registration of this scope (paths relative to the install folder).
  ${If} $PerMachine == 1
    Rename "$INSTDIR\install-machine.json" "$INSTDIR\install.json"
    Delete "$INSTDIR\install-user.json"
  ${Else}
    Rename "$INSTDIR\install-user.json" "$INSTDIR\install.json"
    Delete "$INSTDIR\install-machine.json"
  ${EndIf}

  !insertmacro RegisterHost "Google\Chrome" "yzt-bridge-chromium.json"
  !insertmacro RegisterHost "Chromium" "yzt-bridge-chromium.json"
  !insertmacro RegisterHost "Microsoft\Edge" "yzt-bridge-chromium.json"
  !insertmacro RegisterHost "BraveSoftware\Brave-Browser" "yzt-bridge-chromium.json"
  !insertmacro RegisterHost "Mozilla" "yzt-bridge-firefox.json"

  ; Edge installs it from Edge Add-ons, reachable from mainland China; Chrome from the Chrome Web Store where reachable.
  !insertmacro WriteBothViews "Software\Microsoft\Edge\Extensions\${EDGE_ID}" "update_url" "${EDGE_STORE_UPDATE_URL}"
  !insertmacro WriteBothViews "Software\Google\Chrome\Extensions\${CHROME_ID}" "update_url" "${CHROME_STORE_UPDATE_URL}"

  ; file:/// URL of the .xpi: forward slashes, spaces escaped. Firefox reads the whole ExtensionSettings
  ; policy as one JSON value (this replaces an earlier one).
  StrCpy $0 "$INSTDIR"
  Push $0
  Call PathToFileUrl
  Pop $1
  WriteRegStr SHCTX "Software\Policies\Mozilla\Firefox" "ExtensionSettings" '{"${FIREFOX_ID}":{"installation_mode":"force_installed","install_url":"file:///$1/${XPI_URL_PATH}"}}'

  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr SHCTX "${UNINSTALL_KEY}" "DisplayName" "yzt-bridge 一证通桥接"
  WriteRegStr SHCTX "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr SHCTX "${UNINSTALL_KEY}" "Publisher" "yzt-bridge"
  WriteRegStr SHCTX "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  ${If} $PerMachine == 1
    WriteRegStr SHCTX "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe" /ALLUSERS'
  ${Else}
    WriteRegStr SHCTX "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  ${EndIf}
  WriteRegDWORD SHCTX "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD SHCTX "${UNINSTALL_KEY}" "NoRepair" 1

  !ifdef NO_PKCS11
    DetailPrint "$(NoPkcs11)"
  !endif
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

; The uninstaller takes the scope from its own command line, as the UninstallString written above does.
Function un.onInit
  !insertmacro ChooseScope
FunctionEnd

Section "Uninstall"
  !insertmacro UnregisterHost "Google\Chrome"
  !insertmacro UnregisterHost "Chromium"
  !insertmacro UnregisterHost "Microsoft\Edge"
  !insertmacro UnregisterHost "BraveSoftware\Brave-Browser"
  !insertmacro UnregisterHost "Mozilla"
  !insertmacro DeleteBothViews "Software\Microsoft\Edge\Extensions\${EDGE_ID}"
  !insertmacro DeleteBothViews "Software\Google\Chrome\Extensions\${CHROME_ID}"
  DeleteRegValue SHCTX "Software\Policies\Mozilla\Firefox" "ExtensionSettings"
  ; Parents this installer may have created and nothing else uses (left alone when anything else is inside).
  !insertmacro DeleteEmptyParents
  DeleteRegKey SHCTX "${UNINSTALL_KEY}"
  !insertmacro DeleteIfEmpty "Software\Microsoft\Windows\CurrentVersion\Uninstall"
  RMDir /r "$INSTDIR"
SectionEnd
