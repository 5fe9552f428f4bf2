; Inno Setup 6 script for InfiniRetri Desktop (a recipe: built on windows-latest in CI, not on our Linux machines).
; Packs the PyInstaller one-folder bundle dist\infiniretri\ (build it first: packaging\windows\build_windows.ps1)
; into dist\InfiniRetri-<version>-windows-x64-setup.exe.
;
;   iscc /DAppVersion=0.1.0 packaging\windows\infiniretri.iss
;
; Installs per user (no administrator rights needed) or, when chosen in the dialog, for all users. Start menu entry,
; optional desktop icon, optional `infiniretri` command on PATH (bin\infiniretri.cmd runs the console executable
; infiniretri-cli.exe, for `infiniretri ask ...` and `infiniretri selfcheck`), uninstaller.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define Root "..\.."

[Setup]
AppId={{7C1E4A3B-5D2F-4E8A-9B61-3F0A2C9D8E14}
AppName=InfiniRetri
AppVersion={#AppVersion}
AppVerName=InfiniRetri {#AppVersion}
AppPublisher=InfiniRetri Desktop developers
DefaultDirName={autopf}\InfiniRetri
DefaultGroupName=InfiniRetri
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#Root}\dist
OutputBaseFilename=InfiniRetri-{#AppVersion}-windows-x64-setup
SetupIconFile={#Root}\build\icons\infiniretri.ico
UninstallDisplayIcon={app}\infiniretri.exe
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
WizardStyle=modern
ChangesEnvironment=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the infiniretri command to PATH"; GroupDescription: "Command line:"; Flags: unchecked

[Files]
Source: "{#Root}\dist\infiniretri\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "infiniretri.cmd"; DestDir: "{app}\bin"; Flags: ignoreversion; Tasks: addtopath

[Icons]
Name: "{group}\InfiniRetri"; Filename: "{app}\infiniretri.exe"; Comment: "Ask questions of very long PDFs and text files"
Name: "{group}\Uninstall InfiniRetri"; Filename: "{uninstallexe}"
Name: "{autodesktop}\InfiniRetri"; Filename: "{app}\infiniretri.exe"; Tasks: desktopicon

[Registry]
; Per-user PATH entry for {app}\bin, which holds only infiniretri.cmd.
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}\bin"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}\bin'))

[Run]
Filename: "{app}\infiniretri.exe"; Description: "{cm:LaunchProgram,InfiniRetri}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
Type: filesandordirs; Name: "{app}\bin"

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Path: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Path) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') = 0;
end;
