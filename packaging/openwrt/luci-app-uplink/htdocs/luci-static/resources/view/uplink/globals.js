'use strict';
'require form';
'require uci';
'require view';
'require uplink.api as api';

/*
 * Network › Uplink › Globals: the one `config globals` section (the TOML file's
 * top-level keys).
 */

function absolutePath(section_id, value) {
	return (value === '' || /^\/\S*$/.test(value)) ? true : _('Expecting an absolute path');
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
		const m = new form.Map('uplink', _('Uplink: globals'),
			_('Settings of the daemon as a whole.'));

		const s = m.section(form.TypedSection, 'globals', _('Globals'));
		s.anonymous = true;
		// One globals section: offer to add it only while there is none.
		s.addremove = !uci.sections('uplink', 'globals').length;

		let o = s.option(form.Flag, 'enabled', _('Enabled'),
			_('Off: uplink manages no line (the system\'s own routes carry traffic).'));
		o.default = o.enabled;
		o.parse = api.parseEnabled;

		o = s.option(form.ListValue, 'log_level', _('Log level'));
		o.value('', _('default'));
		o.value('error', _('error'));
		o.value('warn', _('warning'));
		o.value('info', _('info'));
		o.value('debug', _('debug'));
		o.value('trace', _('trace'));

		o = s.option(form.ListValue, 'sticky', _('Load sharing'),
			_('How lines of equal metric share new connections.'));
		o.value('', _('per connection (default)'));
		o.value('connection', _('per connection'));
		o.value('source', _('per client address'));

		o = s.option(form.Value, 'socket', _('Control socket'),
			_('Empty: the daemon\'s built-in path. The status page reaches the daemon through it.'));
		o.validate = absolutePath;

		o = s.option(form.Value, 'hooks_dir', _('Hooks directory'),
			_('Scripts run on line events; missing directory: no hooks.'));
		o.placeholder = '/etc/uplink/hooks.d';
		o.validate = absolutePath;

		o = s.option(form.Value, 'hook_timeout_ms', _('Hook time limit (ms)'));
		o.datatype = 'range(100,3600000)';
		o.placeholder = '10000';

		return m.render().then(function(node) {
			return E('div', {}, [ api.checkBox(), node ]);
		});
	}
});
