'use strict';
'require baseclass';
'require dom';
'require rpc';
'require ui';

/*
 * The ubus object `uplink` (docs/ubus.md in uplink's repository) and helpers the views
 * share. Every method answers a JSON object; a refused action or a stopped daemon is
 * `{"error": "..."}`, which the views show rather than throw away.
 */

// expect: { '': {} } hands back the whole answer object, so `error` is not lost.
const callStatus = rpc.declare({
	object: 'uplink',
	method: 'status',
	expect: { '': {} }
});

const callEvents = rpc.declare({
	object: 'uplink',
	method: 'events',
	params: [ 'limit' ],
	expect: { '': {} }
});

const callDrain = rpc.declare({
	object: 'uplink',
	method: 'drain',
	params: [ 'line', 'now' ],
	expect: { '': {} }
});

const callUndrain = rpc.declare({
	object: 'uplink',
	method: 'undrain',
	params: [ 'line' ],
	expect: { '': {} }
});

const callCheck = rpc.declare({
	object: 'uplink',
	method: 'check',
	expect: { '': {} }
});

/*
 * A failed ubus call (no such object: rpcd has not loaded the plugin; permission
 * denied; timeout) becomes an answer with `error`, so callers handle one shape.
 */
function settle(promise) {
	return promise.then(function(res) {
		return L.isObject(res) ? res : { error: _('unexpected answer from the uplink object') };
	}, function(err) {
		// LuCI appends a stack trace to RPC error messages: show only the first line.
		const msg = String(err && err.message ? err.message : err).split('\n')[0];
		// -32002 is rpcd refusing the call for this login, not a missing plugin.
		if (/error -32002\b/.test(msg))
			return { error: _('permission denied: this login may not do that (%s)').format(msg) };
		return {
			error: _('the ubus object "uplink" cannot be called (%s): is the uplink package installed and rpcd restarted?')
				.format(msg),
			unreachable: true
		};
	});
}

/* Whether `v` is an IPv4 address in dotted-quad form. */
function isIPv4(v) {
	const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v);
	return m != null && m.slice(1).every(function(p) { return +p <= 255 && String(+p) === p; });
}

/* Whether `v` is an IPv6 address (hex groups, at most one `::`, optional v4 tail). */
function isIPv6(v) {
	if (!/^[0-9A-Fa-f:.]+$/.test(v) || v.indexOf(':') < 0 || v.split('::').length > 2)
		return false;
	let groups = v.split(':');
	const last = groups[groups.length - 1];
	let n = 0;
	if (last.indexOf('.') >= 0) {
		if (!isIPv4(last))
			return false;
		groups = groups.slice(0, -1);
		n = 2;
	}
	for (let i = 0; i < groups.length; i++) {
		if (groups[i] === '')
			continue;
		if (!/^[0-9A-Fa-f]{1,4}$/.test(groups[i]))
			return false;
		n++;
	}
	return v.indexOf('::') >= 0 ? n < 8 : n === 8;
}

/* Whether `v` is a host name as the daemon takes one: labels of letters, digits and
 * hyphens (not at either end), at most 253 characters, the last label not all digits. */
function isHostName(v) {
	const name = String(v).replace(/\.$/, '');
	if (name === '' || name.length > 253)
		return false;
	const labels = name.split('.');
	return labels.every(function(l) { return /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l); })
		&& !/^\d+$/.test(labels[labels.length - 1]);
}

/* A probe target as the daemon reads it (src/config/target.rs): an address or host name
 * (ICMP), tcp://HOST:PORT, dns://SERVER[:PORT] or http://HOST[:PORT][/PATH]; IPv6 hosts
 * with a port in brackets. Returns true or the reason. */
function probeTarget(v) {
	const m = /^(?:(tcp|dns|http):\/\/)?(\[[^\]]*\]|[^:\/\[\]]*)(?::([^\/]*))?(\/.*)?$/.exec(String(v));
	const bare = !/^[a-z]+:\/\//.test(String(v));
	if (bare && (isIPv4(v) || isIPv6(v) || isHostName(v)))
		return true;
	if (!bare && !/^(tcp|dns|http):\/\//.test(String(v)))
		return _('Unknown probe kind: expecting tcp://, dns:// or http://');
	if (bare || m == null)
		return _('Expecting an address, a host name, tcp://HOST:PORT, dns://SERVER[:PORT] or http://HOST[:PORT]/PATH');
	const kind = m[1], port = m[3], path = m[4];
	const host = m[2].replace(/^\[(.*)\]$/, '$1');
	if (!(isIPv4(host) || isIPv6(host) || isHostName(host)) || (m[2][0] === '[' && !isIPv6(host)))
		return _('Not an IP address or host name: %s').format(m[2]);
	if (port == null && kind === 'tcp')
		return _('A tcp:// target needs a port');
	if (port != null && !(/^\d{1,5}$/.test(port) && +port >= 1 && +port <= 65535))
		return _('Port must be 1..65535');
	if (path != null && (kind !== 'http' || path.length > 256 || !/^[\x21-\x7e]*$/.test(path)))
		return kind === 'http' ? _('Path must be printable ASCII without spaces, at most 256 characters')
			: _('Only http:// targets have a path');
	return true;
}

/* Whether `v` is an address or a prefix (`ADDR/LEN`) of either family. */
function isPrefix(v) {
	const parts = String(v).split('/');
	if (parts.length > 2)
		return false;
	const v4 = isIPv4(parts[0]), v6 = !v4 && isIPv6(parts[0]);
	if (!v4 && !v6)
		return false;
	if (parts.length === 1)
		return true;
	return /^\d{1,3}$/.test(parts[1]) && +parts[1] <= (v4 ? 32 : 128);
}

/* A duration in seconds as LuCI writes it elsewhere (`1h 2m 3s`). */
function duration(secs) {
	return (secs == null) ? '-' : '%t'.format(secs);
}

/* A number with a unit, or a dash when the daemon has nothing to measure (null). */
function figure(v, unit, digits) {
	return (v == null) ? '-' : '%s %s'.format(Number(v).toFixed(digits), unit);
}

/*
 * The result of `check` as a box: nothing when valid without warnings, otherwise each
 * error and warning with the section and option it is about.
 */
function renderCheck(res, staged) {
	if (res.error)
		return E('div', { 'class': 'alert-message warning' }, [
			E('strong', {}, _('The configuration could not be checked: ')), res.error
		]);

	const errors = Array.isArray(res.errors) ? res.errors : [];
	const warnings = Array.isArray(res.warnings) ? res.warnings.slice() : [];
	// A TOML config (written by `uplink import-mwan3`) takes precedence over UCI.
	if (res.config && res.config !== '/etc/config/uplink')
		warnings.unshift(_('uplink runs %s, not /etc/config/uplink: these forms have no effect while that file exists.').format(res.config));
	if (res.valid && !warnings.length)
		return E('div');

	const item = function(e) {
		if (!L.isObject(e))
			return E('li', {}, String(e));
		const where = [ e.section, e.option ].filter(function(x) { return x != null; }).join(' › ');
		return E('li', {}, [ where ? E('code', {}, where) : '', where ? ': ' : '', e.message || '' ]);
	};

	const nodes = [];
	if (!res.valid)
		nodes.push(E('p', {}, E('strong', {}, staged
			? _('Not applied: with these changes the configuration would be invalid. They are saved (see Unsaved Changes); fix them and apply again.')
			: _('The applied configuration is invalid: uplink keeps running the previous one until this is fixed.'))),
			E('ul', {}, errors.map(item)));
	if (warnings.length)
		nodes.push(E('p', {}, E('strong', {}, _('Warnings'))), E('ul', {}, warnings.map(item)));

	return E('div', { 'class': 'alert-message ' + (res.valid ? 'notice' : 'danger') }, nodes);
}

return baseclass.extend({
	status: function() { return settle(callStatus()); },
	events: function(limit) { return settle(callEvents(limit)); },
	/* now: move the line's existing connections too (else they stay until they end). */
	drain: function(line, now) { return settle(callDrain(line, now ? true : false)); },
	undrain: function(line) { return settle(callUndrain(line)); },
	check: function() { return settle(callCheck()); },

	isIPv4: isIPv4,
	isIPv6: isIPv6,
	isPrefix: isPrefix,
	isHostName: isHostName,
	probeTarget: probeTarget,
	duration: duration,
	figure: figure,
	renderCheck: renderCheck,

	/*
	 * Form views call this from render(): the daemon's verdict on the config as
	 * written, above the form. `check` reads /etc/config/uplink on disk, which LuCI
	 * only changes on Save & Apply (then reloads the page), so after every apply the
	 * reloaded page shows what the daemon thinks of the new file.
	 */
	checkBox: function() {
		const box = E('div', { 'class': 'uplink-check' });
		this.check().then(function(res) { dom.content(box, renderCheck(res)); });
		return box;
	},

	/*
	 * Save & Apply that asks the daemon first. Save stages the form's changes in this
	 * login's rpcd session; `check` then validates the config with them (uhttpd hands the
	 * session to the plugin, which applies the staged changes with OpenWrt's own uci).
	 * Changes that would make the config invalid stay staged, not applied, and the errors
	 * are shown above the form. When the check cannot see the staged changes (no uci, no
	 * plugin), applying goes ahead as LuCI would: the daemon keeps its running config
	 * if the new file is invalid.
	 */
	saveApply: function(view, ev, mode) {
		return view.handleSave(ev).then(function() {
			return settle(callCheck());
		}).then(function(res) {
			if (res.valid === false && res.staged === true) {
				const box = document.querySelector('.uplink-check');
				if (box)
					dom.content(box, renderCheck(res, true));
				ui.addNotification(null, E('p', {},
					_('uplink: the changes were not applied because the daemon finds the configuration invalid.')), 'danger');
				window.scrollTo(0, 0);
				return;
			}
			return ui.changes.apply(mode == '0');
		});
	},

	/*
	 * parse() for an `enabled` flag whose absence means on (set `o.default = o.enabled`):
	 * stages a change only when the box differs from what the file says, removing the
	 * option when switched back on. LuCI's own FlagValue with rmempty = false writes '1'
	 * into every section on every Save, so saving one metric staged an `enabled` change
	 * per section.
	 */
	parseEnabled: function(section_id) {
		if (!this.isActive(section_id))
			return Promise.resolve();
		const fval = this.formvalue(section_id);
		const cval = this.cfgvalue(section_id);
		if (fval === (cval != null ? cval : this.default))
			return Promise.resolve();
		return Promise.resolve(fval === this.default ? this.remove(section_id) : this.write(section_id, fval));
	},

	/* A UCI section name the daemon accepts as a line, policy or set name. */
	validName: function(name) {
		return /^[A-Za-z0-9_]{1,15}$/.test(name || '') ? true
			: _('Name must be 1 to 15 letters, digits or "_" (it is the line, policy or set name).');
	}
});
