@echo off
rem The `infiniretri` command: runs the console executable of the installed app with all arguments.
"%~dp0..\infiniretri-cli.exe" %*
