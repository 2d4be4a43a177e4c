# Stands in for the packages feed's lang/rust/rust-package.mk in tests/openwrt_package.rs:
# what the package's Makefile uses of it.
RUST_ARCH_DEPENDS:=@(aarch64||arm||i386||i686||mips||mipsel||mips64||mips64el||powerpc64||riscv64||x86_64)
CARGO_PKG_ARGS=--locked
define RustBinPackage
endef
