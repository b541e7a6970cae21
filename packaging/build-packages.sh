#!/usr/bin/env bash
# Builds the Debian and RPM packages of jira-teams-bridge from this checkout: one release build,
# then `cargo deb --no-build` (metadata in Cargo.toml, [package.metadata.deb]; maintainer scripts
# under packaging/debian) and `rpmbuild -bb packaging/rpm/jira-teams-bridge.spec` (scriptlets
# under packaging/rpm).
#
#   ./packaging/build-packages.sh [--deb-only | --rpm-only]
#
# Needs Rust (rustup), libpq-dev, libssl-dev and pkg-config (packaging/prepare-host.sh installs
# them). cargo-deb is installed with `cargo install --locked` at the pinned version below when
# missing, into ${JTB_TOOLS_DIR:-target/packaging-tools} (kept with the build, so a second run
# reuses it); rpmbuild comes from Debian's `rpm` package, installed when missing. (rpmbuild
# replaced cargo-generate-rpm, whose `cargo install` took four minutes of every CI run.)
# Packages land in target/packages/; their paths are printed last, one per line, and written to
# target/packages/built.txt.
set -euo pipefail

CARGO_DEB_VERSION=3.8.0

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${repo_root}"

# shellcheck source=packaging/prepare-host.sh
. packaging/prepare-host.sh
jtb_ensure_cargo

build_deb=true
build_rpm=true
for arg in "$@"; do
    case ${arg} in
        --deb-only) build_rpm=false ;;
        --rpm-only) build_deb=false ;;
        *) jtb_die "build-packages: unknown option ${arg}" ;;
    esac
done

target_dir=$(cargo metadata --format-version 1 --no-deps \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[[ -n ${target_dir} ]] || jtb_die "cannot determine cargo's target directory"
tools_dir=${JTB_TOOLS_DIR:-${target_dir}/packaging-tools}
out_dir=${target_dir}/packages
export PATH="${tools_dir}/bin:${PATH}"

# Installs cargo subcommand $1 (crate $2) at version $3 unless that version is on PATH already.
ensure_tool() {
    local subcommand=$1 crate=$2 version=$3
    if cargo "${subcommand}" --version 2>/dev/null | grep -qF "${version}"; then
        return 0
    fi
    jtb_log "cargo install --locked ${crate}@${version} (into ${tools_dir})"
    cargo install --locked --quiet --version "${version}" --root "${tools_dir}" "${crate}"
}
[[ ${build_deb} == true ]] && ensure_tool deb cargo-deb "${CARGO_DEB_VERSION}"
if [[ ${build_rpm} == true ]] && ! command -v rpmbuild >/dev/null 2>&1; then
    JTB_PACKAGES=(rpm)
    jtb_install_packages
fi

locked=()
[[ -f Cargo.lock ]] && locked=(--locked)
jtb_log "cargo build --release ${locked[*]}"
cargo build --release "${locked[@]}"

rm -rf "${out_dir}"
mkdir -p "${out_dir}"
built=()
if [[ ${build_deb} == true ]]; then
    jtb_log "cargo deb --no-build"
    built+=("$(cargo deb --no-build --no-strip "${locked[@]}" --output "${out_dir}" | tail -n 1)")
fi
if [[ ${build_rpm} == true ]]; then
    jtb_log "rpmbuild -bb packaging/rpm/jira-teams-bridge.spec"
    version=$(cargo metadata --format-version 1 --no-deps \
        | sed -n 's/.*"name":"jira-teams-bridge","version":"\([^"]*\)".*/\1/p')
    [[ -n ${version} ]] || jtb_die "cannot read the package version from cargo metadata"
    rpm_top=${target_dir}/rpmbuild
    rm -rf "${rpm_top}"
    rpmbuild -bb --quiet \
        --define "_topdir ${rpm_top}" \
        --define "jtb_src ${repo_root}" \
        --define "jtb_version ${version}" \
        --define "_rpmdir ${out_dir}" \
        --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' \
        packaging/rpm/jira-teams-bridge.spec
    built+=("$(find "${out_dir}" -maxdepth 1 -name '*.rpm' | head -n 1)")
fi
printf '%s\n' "${built[@]}" >"${out_dir}/built.txt"
for package in "${built[@]}"; do
    jtb_log "$(basename "${package}"): $(du -k "${package}" | cut -f1) KiB"
done
printf '%s\n' "${built[@]}"
