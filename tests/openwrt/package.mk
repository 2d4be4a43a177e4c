# Stands in for OpenWrt's include/package.mk in tests/openwrt_package.rs. BuildPackage makes
# a `stage` target that runs the package's install recipe into $(ROOT), as the SDK does into
# the package's data, and writes its control files and metadata into $(ROOT)/CONTROL (which
# must exist: make expands the `file` calls before the recipe runs).
define BuildPackage
$(eval $(Package/$(1)))
stage:
	$$(call Package/$(1)/install,$(ROOT))
	$$(file >$(ROOT)/CONTROL/conffiles,$$(Package/$(1)/conffiles))
	$$(file >$(ROOT)/CONTROL/postinst,$$(Package/$(1)/postinst))
	$$(file >$(ROOT)/CONTROL/postrm,$$(Package/$(1)/postrm))
	$$(file >>$(ROOT)/CONTROL/vars,PKG_NAME=$(PKG_NAME))
	$$(file >>$(ROOT)/CONTROL/vars,PKG_VERSION=$(PKG_VERSION))
	$$(file >>$(ROOT)/CONTROL/vars,PKG_RELEASE=$(PKG_RELEASE))
	$$(file >>$(ROOT)/CONTROL/vars,PKG_SOURCE=$(PKG_SOURCE))
	$$(file >>$(ROOT)/CONTROL/vars,PKG_SOURCE_URL=$(PKG_SOURCE_URL))
	$$(file >>$(ROOT)/CONTROL/vars,PKG_HASH=$(PKG_HASH))
	$$(file >>$(ROOT)/CONTROL/vars,PKG_LICENSE=$(PKG_LICENSE))
	$$(file >>$(ROOT)/CONTROL/vars,PKG_LICENSE_FILES=$(PKG_LICENSE_FILES))
	$$(file >>$(ROOT)/CONTROL/vars,PKG_MAINTAINER=$(PKG_MAINTAINER))
	$$(file >>$(ROOT)/CONTROL/vars,URL=$(URL))
	$$(file >>$(ROOT)/CONTROL/vars,CARGO_PKG_ARGS=$(CARGO_PKG_ARGS))
endef
