#!/usr/bin/env bash
# Builds every WASM policy in the repository and copies each module next to its source.
#
#   sdk/build-wasm.sh           build and update the committed .wasm files
#   sdk/build-wasm.sh --check   rebuild from scratch into a temp dir; fail if any result
#                               differs from the committed .wasm (used by CI)
#
# Which modules:
#   - Rust: every Cargo.toml under examples/ and policies/ with
#       [package.metadata.policy]
#       wasm = true
#     built for wasm32-unknown-unknown in release mode; the module is copied to
#     <crate dir>/<package name>.wasm.
#   - C: every examples/*/ or policies/wasm/*/ directory holding policy.c, compiled with
#     clang-14 --target=wasm32 -nostdlib and wasm-ld-14; the module is <dir>/<dir name>.wasm.
#
# Rust toolchain: rustup's wasm32-unknown-unknown target when installed, else Debian's
# (apt-get install rustc-web cargo-web rust-web-src lld-22), which builds std itself with
# -Zbuild-std. Force one with POLICY_WASM_TOOLCHAIN=rustup|debian. The committed modules are
# built with the Debian toolchain; a different compiler produces different (valid) bytes,
# so --check needs the same one.
#
# Reproducibility: sources are built from a fixed staging folder ($TMPDIR/policy-wasm-stage),
# paths are remapped (sources, cargo home, target dir), no debug info, symbols stripped, one
# codegen unit, fat LTO, lockfile enforced (--locked).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECK=0
case "${1:-}" in
  --check) CHECK=1 ;;
  "") ;;
  -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "build-wasm.sh: unknown argument '$1' (use --check or nothing)" >&2; exit 2 ;;
esac

if [ "$CHECK" = 1 ]; then
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/policy-wasm-check.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
  TARGET_DIR="$WORK/target"
  OUT_DIR="$WORK/out"
else
  TARGET_DIR="$ROOT/target/wasm-policies"
  OUT_DIR=""
fi
mkdir -p "$TARGET_DIR"

CARGO_HOME_DIR="${CARGO_HOME:-$HOME/.cargo}"
FAILED=0

pick_rust_toolchain() {
  local want="${POLICY_WASM_TOOLCHAIN:-auto}"
  if [ "$want" != debian ] && command -v rustup >/dev/null 2>&1 \
     && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo rustup; return
  fi
  if [ "$want" = rustup ]; then
    echo "build-wasm.sh: POLICY_WASM_TOOLCHAIN=rustup but the wasm32-unknown-unknown target is not installed (rustup target add wasm32-unknown-unknown)" >&2
    exit 2
  fi
  if [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] && [ -x /usr/lib/llvm-22/bin/wasm-ld ] \
     && [ -d /usr/lib/rustlib/src/rust/library ]; then
    echo debian; return
  fi
  echo "build-wasm.sh: no wasm32 Rust toolchain: install rustup's target (rustup target add wasm32-unknown-unknown) or Debian's (apt-get install -y rustc-web cargo-web rust-web-src lld-22)" >&2
  exit 2
}

# Where a built module goes: next to the source, or under $OUT_DIR in --check mode.
destination() { # <source dir> <file name>
  if [ "$CHECK" = 1 ]; then
    local rel="${1#"$ROOT"/}"
    mkdir -p "$OUT_DIR/$rel"
    echo "$OUT_DIR/$rel/$2"
  else
    echo "$1/$2"
  fi
}

compare() { # <built> <committed>
  if [ "$CHECK" != 1 ]; then
    echo "  wrote ${2#"$ROOT"/} ($(wc -c <"$2") bytes)"
    return
  fi
  if [ ! -f "$2" ]; then
    echo "  MISSING: ${2#"$ROOT"/} is not committed (run sdk/build-wasm.sh)" >&2
    FAILED=1
  elif cmp -s "$1" "$2"; then
    echo "  ok: ${2#"$ROOT"/} is up to date"
  else
    echo "  DIFFERS: ${2#"$ROOT"/} does not match a fresh build ($(wc -c <"$1") vs $(wc -c <"$2") bytes); run sdk/build-wasm.sh and commit" >&2
    FAILED=1
  fi
}

# Rust sources are copied to a fixed staging path before building: cargo derives crate
# hashes (and so symbol names, which decide code layout) from where the sources are, so a
# clone in another folder would otherwise produce different bytes.
STAGE="${TMPDIR:-/tmp}/policy-wasm-stage"

stage_crate() { # <crate dir> -> prints the staged crate dir
  local rel="${1#"$ROOT"/}"
  rm -rf "$STAGE"
  mkdir -p "$STAGE/$(dirname "$rel")"
  (cd "$ROOT" && tar --exclude=target --exclude='*.wasm' -cf - sdk "$rel") | (cd "$STAGE" && tar -xf -)
  # policy-sdk inherits package fields and lints from the root workspace manifest; stage a
  # copy whose only member is the SDK.
  sed -e 's/^members = .*/members = ["sdk"]/' -e '/^exclude = /d' "$ROOT/Cargo.toml" >"$STAGE/Cargo.toml"
  echo "$STAGE/$rel"
}

build_rust() { # <crate dir>
  local src="$1" dir name toolchain
  name="$(awk -F'"' '/^\[package\]/{p=1;next} /^\[/{p=0} p && /^name *=/{print $2; exit}' "$src/Cargo.toml")"
  toolchain="$(pick_rust_toolchain)"
  echo "rust: ${src#"$ROOT"/} ($name) with the $toolchain toolchain"
  dir="$(stage_crate "$src")"
  local flags="--remap-path-prefix=$STAGE=/policy --remap-path-prefix=$CARGO_HOME_DIR=/cargo --remap-path-prefix=$TARGET_DIR=/target -C debuginfo=0 -C strip=symbols -C codegen-units=1"
  local -a cmd
  if [ "$toolchain" = rustup ]; then
    cmd=(cargo build --release --locked --target wasm32-unknown-unknown)
    (cd "$dir" && RUSTFLAGS="$flags" CARGO_TARGET_DIR="$TARGET_DIR" "${cmd[@]}")
  else
    echo "  $(/usr/bin/cargo --version) / $(/usr/bin/rustc --version)"
    cmd=(/usr/bin/cargo build --release --locked --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort)
    (cd "$dir" && env -u RUSTUP_TOOLCHAIN RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
       CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-22/bin/wasm-ld \
       RUSTFLAGS="$flags --remap-path-prefix=/usr/lib/rustlib/src/rust=/rustc-src" \
       CARGO_TARGET_DIR="$TARGET_DIR" "${cmd[@]}")
  fi
  local built="$TARGET_DIR/wasm32-unknown-unknown/release/${name//-/_}.wasm"
  local dest
  dest="$(destination "$src" "$name.wasm")"
  cp "$built" "$dest"
  compare "$dest" "$src/$name.wasm"
}

build_c() { # <dir>
  local dir="$1" name cc ld
  name="$(basename "$dir")"
  cc="$(command -v clang-14 || command -v clang || true)"
  ld="$(command -v wasm-ld-14 || command -v wasm-ld || true)"
  if [ -z "$cc" ] || [ -z "$ld" ]; then
    echo "build-wasm.sh: ${dir#"$ROOT"/} needs clang and wasm-ld (apt-get install -y clang-14 lld-14)" >&2
    exit 2
  fi
  echo "c: ${dir#"$ROOT"/} with $("$cc" --version | head -1)"
  local dest
  dest="$(destination "$dir" "$name.wasm")"
  (cd "$dir" && "$cc" --target=wasm32-unknown-unknown -nostdlib -O2 -std=c11 -Wall -Wextra -Werror \
     -ffreestanding -fno-builtin -ffile-prefix-map="$ROOT"=/policy -fuse-ld="$ld" \
     -Wl,--no-entry -Wl,--strip-all -fvisibility=hidden \
     -o "$dest" policy.c)
  compare "$dest" "$dir/$name.wasm"
}

found=0
while IFS= read -r manifest; do
  if awk '/^\[package\.metadata\.policy\]/{p=1;next} /^\[/{p=0} p && /^wasm *= *true/{f=1} END{exit !f}' "$manifest"; then
    build_rust "$(dirname "$manifest")"
    found=1
  fi
done < <(find "$ROOT/examples" "$ROOT/policies" -name Cargo.toml -not -path '*/target/*' 2>/dev/null | sort)

while IFS= read -r src; do
  build_c "$(dirname "$src")"
  found=1
done < <(find "$ROOT/examples" "$ROOT/policies" -mindepth 2 -maxdepth 3 -name policy.c -not -path '*/target/*' 2>/dev/null | sort)

if [ "$found" = 0 ]; then
  echo "build-wasm.sh: no WASM policies found under examples/ or policies/" >&2
  exit 2
fi
if [ "$FAILED" = 1 ]; then
  echo "build-wasm.sh: committed modules are out of date" >&2
  exit 1
fi
