# Dump what is attached for parity: the file tree, every drop-in's full text (following symlinks),
# and the effective settings of every unit as systemd sees them.
# Sourced by check scripts. Usage: dump_tree DIR; dump_units UNIT...
PARITY_PROPS=RootImage,RootDirectory,ExtensionImages,ExtensionDirectories,Environment,LogExtraFields,BindReadOnlyPaths,BindPaths,BindLogSockets,DelegateNamespaces,TasksMax,RootImagePolicy,ExtensionImagePolicy,MountImagePolicy,MountAPIVFS,DynamicUser,RemoveIPC,CapabilityBoundingSet,PrivateTmp,PrivateDevices,PrivateUsers,PrivateNetwork,ProtectSystem,ProtectHome,ProtectKernelTunables,ProtectKernelModules,ProtectKernelLogs,ProtectControlGroups,ProtectClock,ProtectHostname,RestrictAddressFamilies,LockPersonality,MemoryDenyWriteExecute,RestrictRealtime,RestrictNamespaces,RestrictSUIDSGID,SystemCallFilter,SystemCallErrorNumber,SystemCallArchitectures,IPAddressDeny,IPAddressAllow,NoNewPrivileges,User,Group,ExecStart,Listen,ListenStream,Triggers,TriggeredBy,WantedBy,RequiredBy,UpheldBy,Names,UnitFileState,LoadState,ActiveState,SubState,FragmentPath,SourcePath,DropInPaths,RequiresMountsFor

dump_tree() {
  local dir=$1 p
  echo "## tree $dir (find | sort; mode, path, symlink target)"
  [ -d "$dir" ] || { echo "(missing)"; return; }
  (cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | while read -r p; do
    if [ -L "$p" ]; then echo "$(stat -c %A "$p") $p -> $(readlink "$p")"; else echo "$(stat -c %A "$p") $p"; fi
  done)
  echo
  (cd "$dir" && find . -mindepth 1 -path '*.d/*' | LC_ALL=C sort | while read -r p; do
    echo "### $dir/${p#./}$( [ -L "$p" ] && echo " -> $(readlink "$p")")"
    cat "$p"
    echo "### end"
    echo
  done)
}

dump_units() {
  local u
  for u in "$@"; do
    # a template cannot be shown: show an instance of it, which carries the template's drop-ins
    case $u in *@.*) u=${u/@./@e2e.} ;; esac
    echo "## systemctl show $u"
    systemctl show -p "$PARITY_PROPS" "$u" | LC_ALL=C sort
    echo
  done
}
