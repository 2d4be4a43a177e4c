'use strict';
'require form';
'require ui';
'require uci';
'require view';
'require tools.widgets as widgets';
'require uplink.api as api';

/*
 * Network › Uplink › Lines: `config uplink 'NAME'` sections of /etc/config/uplink.
 * Client-side checks catch what is obvious (numbers, addresses, cross-field timing);
 * the daemon's own `check` of the applied file is shown above the form.
 */

/* A probe target: an address or host name, or tcp://HOST:PORT, dns://SERVER[:PORT], http://HOST[:PORT]/PATH. */
function validTarget(section_id, value) {
	if (value == null || value === '')
		return true;
	return api.probeTarget(value);
}

/*
 * The number in another field of the same section, or its placeholder (the daemon's default).
 * `section` must be the validating option's own `this.section`: these fields are modal-only,
 * and the modal renders clones of the options into a section of its own, so asking the grid
 * section (the `s` of render()) finds no field and always falls back to the placeholder.
 */
function fieldNumber(section, section_id, option) {
	const v = section.formvalue(section_id, option);
	if (v != null && v !== '')
		return +v;
	const o = section.children.filter(function(c) { return c.option === option; })[0];
	return o && o.placeholder ? +o.placeholder : NaN;
}

/*
 * A milliseconds field; `min` is the daemon's lower bound, `check(section_id, value, section)`
 * adds cross-field rules (`section`: the one the field is rendered in, see fieldNumber).
 */
function timing(s, tab, option, title, descr, placeholder, min, check) {
	const o = s.taboption(tab, form.Value, option, title, descr);
	o.datatype = 'range(%d,86400000)'.format(min);
	o.placeholder = placeholder;
	o.modalonly = true;
	if (check)
		o.validate = function(section_id, value) {
			return (value == null || value === '') ? true : check(section_id, +value, this.section);
		};
	return o;
}

function flushOption(s) {
	const o = s.taboption('general', form.ListValue, 'flush_on', _('Flush connections'),
		_('When to delete the conntrack entries of connections through this line.'));
	o.value('', _('When it goes down (default)'));
	o.value('down', _('When it goes down'));
	o.value('up', _('When it comes back up'));
	o.value('down up', _('Both'));
	o.value('never', _('Never'));
	o.modalonly = true;
	// A UCI list in the file; `list flush_on ''` is the daemon's spelling of "never".
	o.cfgvalue = function(section_id) {
		const v = uci.get('uplink', section_id, 'flush_on');
		if (v == null)
			return '';
		const items = (Array.isArray(v) ? v : String(v).split(/\s+/)).filter(function(x) { return x !== ''; });
		return items.length ? items.sort().join(' ') : 'never';
	};
	o.write = function(section_id, value) {
		uci.set('uplink', section_id, 'flush_on', value === 'never' ? [ '' ] : value.split(' '));
	};
	return o;
}

function probeOptions(s) {
	let o = s.taboption('probe', form.DynamicList, 'target', _('Probe targets'),
		_('Hosts beyond your ISP, probed through this line: an address or host name (ping), tcp://HOST:PORT (a handshake), dns://SERVER[:PORT] (a query) or http://HOST[:PORT]/PATH (an expected status; a redirect fails, as behind a captive portal). None: the line follows its link state only.'));
	o.validate = validTarget;
	o.modalonly = true;

	o = s.taboption('probe', form.Value, 'dns_name', _('DNS probe name'),
		_('The name dns:// targets are asked for; any answer counts, NXDOMAIN included.'));
	o.placeholder = '.';
	o.modalonly = true;
	o.validate = function(section_id, value) {
		return (value == null || value === '' || value === '.' || api.isHostName(value)) ? true
			: _('Expecting "." or a host name');
	};

	o = s.taboption('probe', form.Value, 'http_status', _('HTTP status'),
		_('The status http:// targets must answer: a code such as 204, or a class such as 2xx.'));
	o.placeholder = '2xx';
	o.modalonly = true;
	o.validate = function(section_id, value) {
		return (value == null || value === '' || /^([1-5]xx|[1-5]\d\d)$/i.test(value)) ? true
			: _('Expecting a status 100..599 or a class 1xx..5xx');
	};

	o = s.taboption('probe', form.DynamicList, 'resolver', _('Resolvers'),
		_('DNS servers that resolve host-name targets, asked through this line. None: the servers the system learnt for the line (OpenWrt: of its interface), else those of /etc/resolv.conf.'));
	o.datatype = 'ipaddr("nomask")';
	o.modalonly = true;

	timing(s, 'probe', 'interval_ms', _('Interval (ms)'), _('Probe period per target.'), '500', 10);
	timing(s, 'probe', 'timeout_ms', _('Timeout (ms)'), _('A probe unanswered this long is lost.'), '1000', 1,
		function(sid, v, sec) {
			return v <= fieldNumber(sec, sid, 'down_after_ms') ? true : _('Must not exceed the down-after time');
		});
	timing(s, 'probe', 'down_after_ms', _('Down after (ms)'),
		_('Too few targets answered for this long: the line is down.'), '2000', 1,
		function(sid, v, sec) {
			return v >= fieldNumber(sec, sid, 'interval_ms') ? true : _('Must be at least the interval');
		});
	timing(s, 'probe', 'up_after_ms', _('Up after (ms)'),
		_('Answered continuously for this long: the line is up again.'), '10000', 1,
		function(sid, v, sec) {
			return v >= fieldNumber(sec, sid, 'interval_ms') ? true : _('Must be at least the interval');
		});

	o = s.taboption('probe', form.Value, 'reliability', _('Reliability'),
		_('How many targets must answer for the line to count as good.'));
	o.datatype = 'range(1,16)';
	o.placeholder = '1';
	o.modalonly = true;
	o.validate = function(section_id, value) {
		const targets = (this.section.formvalue(section_id, 'target') || []).filter(function(t) { return t !== ''; });
		return (value === '' || !targets.length || +value <= targets.length) ? true
			: _('Must not exceed the number of targets (%d)').format(targets.length);
	};
}

function qualityOptions(s) {
	timing(s, 'quality', 'max_rtt_ms', _('Maximum RTT (ms)'),
		_('Mean round-trip time above this over the window: the line is degraded. Empty: no limit.'), '', 1,
		function(sid, v, sec) {
			return v < fieldNumber(sec, sid, 'timeout_ms') ? true : _('Must be below the probe timeout');
		}).placeholder = null;

	const o = s.taboption('quality', form.Value, 'max_loss_pct', _('Maximum loss (%)'),
		_('Share of lost probes above this over the window: the line is degraded. Empty: no limit.'));
	o.datatype = 'range(1,99)';
	o.modalonly = true;

	timing(s, 'quality', 'quality_window_ms', _('Quality window (ms)'),
		_('The sliding window of the two limits above (at least twice the interval).'), '10000', 1,
		function(sid, v, sec) {
			return v >= 2 * fieldNumber(sec, sid, 'interval_ms') ? true : _('Must be at least twice the interval');
		});
}

/* A switch that is on by default: written only when it differs from the default. */
function defaultOn(s, tab, option, title, descr) {
	const o = s.taboption(tab, form.Flag, option, title, descr);
	o.default = o.enabled;
	o.parse = api.parseEnabled;
	o.modalonly = true;
	return o;
}

/* A flap-penalty threshold, shown while dampening is on. */
function penalty(s, tab, option, title, descr, placeholder) {
	const o = s.taboption(tab, form.Value, option, title, descr);
	o.datatype = 'range(1,1000000)';
	o.placeholder = placeholder;
	o.modalonly = true;
	o.depends('dampening', '1');
	return o;
}

function detectionOptions(s) {
	defaultOn(s, 'detection', 'traffic_aware', _('Traffic-aware detection'),
		_('When the LAN\'s packets through this line go unanswered, probe it at once in a burst instead of waiting for the next interval. Needs probe targets.'));

	let o = timing(s, 'detection', 'traffic_quiet_ms', _('Quiet time (ms)'),
		_('How long the LAN\'s packets may go unanswered before the burst.'), '300', 200);
	o.datatype = 'range(200,60000)';
	o.depends('traffic_aware', '1');

	defaultOn(s, 'detection', 'dampening', _('Flap dampening'),
		_('A line that keeps failing and recovering is suppressed (not chosen, even while its probes pass) until its flap penalty decays. Needs probe targets.'));

	o = timing(s, 'detection', 'dampening_half_life_ms', _('Penalty half-life (ms)'),
		_('The flap penalty halves this often.'), '60000', 1000);
	o.datatype = 'range(1000,3600000)';
	o.depends('dampening', '1');

	penalty(s, 'detection', 'dampening_suppress', _('Suppress at'),
		_('Penalty at which the line is suppressed; each flap adds 1000.'), '1500');

	o = penalty(s, 'detection', 'dampening_reuse', _('Reuse below'),
		_('Penalty below which a suppressed line is usable again.'), '750');
	o.validate = function(section_id, value) {
		return (value == null || value === '' || +value < fieldNumber(this.section, section_id, 'dampening_suppress')) ? true
			: _('Must be below the suppress threshold');
	};

	o = timing(s, 'detection', 'dampening_max_suppress_ms', _('Longest suppression (ms)'),
		_('The longest a line stays suppressed after its last flap.'), '300000', 1000,
		function(sid, v, sec) {
			return v >= fieldNumber(sec, sid, 'dampening_half_life_ms') ? true : _('Must be at least the half-life');
		});
	o.depends('dampening', '1');
}

return view.extend({
	load: function() {
		return uci.load('uplink');
	},

	// Checked by the daemon before it is applied (see api.saveApply).
	handleSaveApply: function(ev, mode) {
		return api.saveApply(this, ev, mode);
	},

	render: function() {
		const m = new form.Map('uplink', _('Uplink: lines'),
			_('Each line is one internet connection uplink watches. The lowest metric among healthy lines carries traffic; equal metrics share it by weight.'));

		const s = m.section(form.GridSection, 'uplink', _('Lines'));
		s.addremove = true;
		s.anonymous = false;
		s.nodescriptions = true;
		s.tab('general', _('General'));
		s.tab('probe', _('Probing'));
		s.tab('quality', _('Quality limits'));
		s.tab('detection', _('Flaps and traffic'));

		// The section name is the line's name, which the daemon limits to 15 characters.
		s.handleAdd = function(ev, name) {
			const ok = api.validName(name);
			if (ok !== true) {
				ui.addNotification(null, E('p', {}, ok), 'error');
				return Promise.resolve();
			}
			return form.GridSection.prototype.handleAdd.apply(this, [ ev, name ]);
		};

		let o = s.taboption('general', form.Flag, 'enabled', _('Enabled'));
		o.default = o.enabled;
		o.parse = api.parseEnabled;
		o.editable = true;

		// Device or netifd interface: one of the two, so a pseudo option picks which.
		o = s.taboption('general', form.ListValue, '_by', _('Line given by'));
		o.value('device', _('Linux device'));
		o.value('interface', _('netifd interface (follows its device)'));
		o.modalonly = true;
		o.cfgvalue = function(section_id) {
			return uci.get('uplink', section_id, 'interface') ? 'interface' : 'device';
		};
		o.write = o.remove = function() {};

		o = s.taboption('general', widgets.DeviceSelect, 'device', _('Device'));
		o.noaliases = true;
		o.rmempty = false;
		o.depends('_by', 'device');

		o = s.taboption('general', widgets.NetworkSelect, 'interface', _('Interface'));
		o.nocreate = true;
		o.rmempty = false;
		o.depends('_by', 'interface');

		o = s.taboption('general', form.ListValue, 'family', _('Family'),
			_('The address family the line carries; normally told by its gateway and targets.'));
		o.value('', _('automatic'));
		o.value('ipv4', 'IPv4');
		o.value('ipv6', 'IPv6');
		o.modalonly = true;

		o = s.taboption('general', form.Value, 'gateway', _('Gateway'),
			_('Next hop; empty on a point-to-point device (PPPoE), "auto" to learn it from the system\'s default route.'));
		o.value('auto', _('auto (learn it)'));
		o.validate = function(section_id, value) {
			return (value === '' || value === 'auto' || api.isIPv4(value) || api.isIPv6(value)) ? true
				: _('Expecting an IP address or "auto"');
		};

		o = s.taboption('general', form.Value, 'metric', _('Metric'), _('Lower is preferred.'));
		o.datatype = 'uinteger';
		o.placeholder = '100';

		o = s.taboption('general', form.Value, 'weight', _('Weight'), _('Share among lines of equal metric.'));
		o.datatype = 'range(1,256)';
		o.placeholder = '1';

		o = s.taboption('general', form.Flag, 'masquerade', _('Masquerade'),
			_('Masquerade LAN traffic leaving this line (in uplink\'s own nftables table).'));

		flushOption(s);

		o = s.taboption('general', form.Value, 'keep_sessions_s', _('Keep sessions (s)'),
			_('How long this line keeps carrying its existing connections after it stops taking new ones (failback, drain). Empty: until they end; 0: move them at once.'));
		o.datatype = 'range(0,604800)';
		o.placeholder = _('until they end');
		o.modalonly = true;

		probeOptions(s);
		qualityOptions(s);
		detectionOptions(s);

		return m.render().then(function(node) {
			return E('div', {}, [ api.checkBox(), node ]);
		});
	}
});
