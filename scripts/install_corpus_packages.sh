#!/usr/bin/env sh
# Installs the Debian packages that `ablate data corpus --profile core` and the wn_pos_context task
# read (docs/data.md lists what each one gives). With --full, also the two packages the `full`
# profile adds (Linux kernel documentation, six Jane Austen novels). Run as root or with sudo on
# Debian 12 (bookworm) or a derivative; nothing else is downloaded.
set -eu

EXTRA=""
for arg in "$@"; do
    case "$arg" in
        --full) EXTRA="linux-doc-6.1 r-cran-janeaustenr" ;;
        *) echo "usage: $0 [--full]" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

$SUDO apt-get update
# shellcheck disable=SC2086 # EXTRA is a list of package names
$SUDO apt-get install -y --no-install-recommends dict-gcide wordnet-base sword-text-web \
    sword-comm-tdavid sword-comm-mhcc diatheke fortunes dict-jargon dict-devil python3.11-doc $EXTRA
