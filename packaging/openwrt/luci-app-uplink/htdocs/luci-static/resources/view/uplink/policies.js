'use strict';
'require form';
'require ui';
'require uci';
'require view';
'require uplink.api as api';

/*
 * Network › Uplink › Policies: `config policy 'NAME'` sections. A policy pins matching
 * traffic to its lines in order of preference.
 */

/* A port or a "low-high" range of ports. */
function validPorts(section_id, value) {
	if (value == null || value === '')
		return true;
	const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(value);
	if (m && +m[1] >= 1 && +m[1] <= 65535 && (m[2] == null || (+m[2] >= +m[1] && +m[2] <= 65535)))
		return true;
	return _('Expecting a port (1-65535) or a range "low-high"');
}

function validPrefix(section_id, value) {
	return (value == null || value === '' || api.isPrefix(value)) ? true
		: _('Expecting an IP address or a prefix (address/length)');
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
		const lines = uci.sections('uplink', 'uplink').map(function(s) { return s['.name']; });
		const sets = uci.sections('uplink', 'set').map(function(s) { return s['.name']; });

		const m = new form.Map('uplink', _('Uplink: policies'),
			_('A policy sends matching traffic over its lines in order of preference: the first one that is up carries it.'));

		const s = m.section(form.GridSection, 'policy', _('Policies'));
		s.addremove = true;
		s.anonymous = false;
		s.nodescriptions = true;
		s.handleAdd = function(ev, name) {
			const ok = api.validName(name);
			if (ok !== true) {
				ui.addNotification(null, E('p', {}, ok), 'error');
				return Promise.resolve();
			}
			return form.GridSection.prototype.handleAdd.apply(this, [ ev, name ]);
		};

		let o = s.option(form.Flag, 'enabled', _('Enabled'));
		o.default = o.enabled;
		o.parse = api.parseEnabled;
		o.editable = true;

		o = s.option(form.DynamicList, 'from', _('From'), _('Source addresses or prefixes; none: any.'));
		o.validate = validPrefix;

		o = s.option(form.DynamicList, 'to', _('To'), _('Destination prefixes; none: any.'));
		o.validate = validPrefix;

		o = s.option(form.ListValue, 'proto', _('Protocol'));
		o.value('', _('any'));
		o.value('tcp', 'TCP');
		o.value('udp', 'UDP');
		o.value('icmp', 'ICMP');

		o = s.option(form.DynamicList, 'ports', _('Ports'), _('Destination ports and ranges (TCP or UDP only).'));
		o.validate = validPorts;
		o.depends('proto', 'tcp');
		o.depends('proto', 'udp');
		o.modalonly = true;

		// An ordered list (first healthy line wins), offering the lines defined now.
		o = s.option(form.DynamicList, 'uplinks', _('Lines'), _('In order of preference.'));
		lines.forEach(function(name) { o.value(name); });
		o.rmempty = false;
		o.validate = function(section_id, value) {
			if (value == null || value === '')
				return true;
			return lines.indexOf(value) >= 0 ? true : _('No line named "%s"').format(value);
		};

		o = s.option(form.ListValue, 'fallback', _('Fallback'), _('When none of its lines is up.'));
		o.value('', _('Use the normal selection (default)'));
		o.value('default', _('Use the normal selection'));
		o.value('unreachable', _('Refuse (never leak through another line)'));
		o.modalonly = true;

		o = s.option(form.ListValue, 'set', _('Destination set'), _('Match destinations in this set.'));
		o.value('', _('none'));
		sets.forEach(function(name) { o.value(name); });
		o.modalonly = true;

		return m.render().then(function(node) {
			return E('div', {}, [ api.checkBox(), node ]);
		});
	}
});
