'use strict';
'require baseclass';
'require uplink.api as api';

/*
 * A box on Status › Overview: each line with its state, whether it carries traffic,
 * RTT and loss. The overview page calls load() and render() again on its own poll.
 */

return baseclass.extend({
	title: _('Uplink'),

	load: function() {
		return api.status();
	},

	render: function(status) {
		if (status.error)
			return E('div', { 'class': 'alert-message warning' }, [
				E('strong', {}, _('uplink: ')), status.error
			]);

		const lines = Array.isArray(status.uplinks) ? status.uplinks : [];
		if (!lines.length)
			return E('em', {}, _('No lines configured.'));

		return E('table', { 'class': 'table' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, _('Line')),
				E('th', { 'class': 'th' }, _('State')),
				E('th', { 'class': 'th' }, _('Active')),
				E('th', { 'class': 'th' }, _('RTT')),
				E('th', { 'class': 'th' }, _('Loss')),
				E('th', { 'class': 'th' }, _('For'))
			])
		].concat(lines.map(function(l) {
			let state = (l.state === 'up') ? _('up') : _('down');
			if (l.degraded)
				state += ', ' + _('degraded');
			if (l.drained)
				state += ', ' + _('drained');
			return E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td' }, E('a', { 'href': L.url('admin/status/uplink') }, l.name)),
				E('td', { 'class': 'td' }, E('span', { 'style': 'color:' + (l.state === 'up' ? 'green' : 'red') }, state)),
				E('td', { 'class': 'td' }, l.active ? E('strong', {}, _('yes')) : _('no')),
				E('td', { 'class': 'td' }, api.figure(l.rtt_ms, 'ms', 1)),
				E('td', { 'class': 'td' }, api.figure(l.loss_pct, '%', 1)),
				E('td', { 'class': 'td' }, api.duration(l.state_secs))
			]);
		})));
	}
});
