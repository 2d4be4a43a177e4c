#!/bin/sh
# The packages feed's CI runs this on the target (QEMU) after installing the package, with
# the package's name and version as arguments (also PKG_NAME and PKG_VERSION).

case "$1" in
uplink)
	uplink --version 2>&1 | grep -F "uplink $2" || {
		echo "FAIL: uplink --version does not print version $2"
		exit 1
	}
	# The packaged example /etc/config/uplink is all comments: check must refuse it and
	# say why, which exercises the UCI reader and the validation.
	if uplink check -c /etc/config/uplink >/dev/null 2>&1; then
		echo "FAIL: uplink check accepted the inert example config"
		exit 1
	fi
	uplink check -c /etc/config/uplink 2>&1 | grep -F "uplink:" || {
		echo "FAIL: uplink check printed no error"
		exit 1
	}
	grep -Fx /etc/uplink/ /lib/upgrade/keep.d/uplink || {
		echo "FAIL: /etc/uplink/ is not kept across sysupgrade"
		exit 1
	}
	;;
esac
