# Stands in for OpenWrt's rules.mk in tests/openwrt_package.rs: the install commands with
# the modes OpenWrt's rules.mk gives them.
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
