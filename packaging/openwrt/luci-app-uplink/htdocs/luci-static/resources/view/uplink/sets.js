'use strict';
'require form';
'require ui';
'require uci';
'require view';
'require uplink.api as api';

/*
 * Network › Uplink › Sets: `config set 'NAME'` sections, named prefix lists a policy
 * can match destinations against.
 */

return view.extend({
	load: function() {
		return uci.load('uplink');
	},

	// Checked by the daemon before it is applied (see api.saveApply).
	handleSaveApply: function(ev, mode) {
		return api.saveApply(this, ev, mode);
	},

	render: function() {
		const m = new form.Map('uplink', _('Uplink: sets'),
			_('A set is a named list of prefixes, inline and/or from a file; a policy\'s "Destination set" matches it.'));

		const s = m.section(form.GridSection, 'set', _('Sets'));
		s.addremove = true;
		s.anonymous = false;
		s.nodescriptions = true;
		s.handleAdd = function(ev, name) {
			// nft set names start with a letter or "_".
			const ok = /^[0-9]/.test(name || '') ? _('A set name starts with a letter or "_".') : api.validName(name);
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

		o = s.option(form.DynamicList, 'prefix', _('Prefixes'));
		o.validate = function(section_id, value) {
			return (value == null || value === '' || api.isPrefix(value)) ? true
				: _('Expecting an IP address or a prefix (address/length)');
		};

		o = s.option(form.Value, 'file', _('File'), _('Absolute path of a file with one prefix per line.'));
		o.validate = function(section_id, value) {
			return (value === '' || /^\/\S*$/.test(value)) ? true : _('Expecting an absolute path');
		};

		return m.render().then(function(node) {
			return E('div', {}, [ api.checkBox(), node ]);
		});
	}
});
