# Sourced by the scripts that read a module's version from a go.mod (build-binaries.sh,
# build-helm.sh, build-node-images.sh, pin-node-tools.sh, ../kindNode/build-node-image.sh and
# smoke.sh), so that they all read it one way, the way goModules.ts does for the unit tests.
#
# module_version GO_MOD MODULE prints the version GO_MOD builds MODULE at: a `replace` to a
# version wins over the `require`. Either may be in a block or on a line of its own (`go mod
# tidy` writes a module required alone as `require example.com/m v1.2.3`). Fails (status 1,
# nothing printed) when GO_MOD has no version for MODULE, so that a script under `set -e`
# stops there rather than build with an empty version.
module_version() {
  awk -v module="$2" '
    ($1 == "require" || $1 == "replace") && $2 != "(" { $1 = ""; $0 = $0 }
    $1 != module { next }
    $2 ~ /^v/ && $3 != "=>" { required = $2 }
    $2 == "=>" && $4 ~ /^v/ { replaced = $4 }
    $3 == "=>" && $5 ~ /^v/ { replaced = $5 }
    END {
      version = replaced != "" ? replaced : required
      if (version == "") exit 1
      print version
    }
  ' "$1"
}
