#!/usr/bin/env bash
# Prints the Debian mirror apt is configured with (deb822 or one-line sources), so that roots made
# with debootstrap or mmdebstrap come from where this machine's packages do.
set -euo pipefail

uri=$(grep -hsE '^URIs:.*/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | awk '{print $2}' || true)
[[ -n "$uri" ]] || uri=$(grep -hsE '^deb .*/debian/? ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1 | awk '{print $2}' || true)
echo "${uri:-http://deb.debian.org/debian}"
