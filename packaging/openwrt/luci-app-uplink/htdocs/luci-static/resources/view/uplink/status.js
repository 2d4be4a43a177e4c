'use strict';
'require dom';
'require poll';
'require ui';
'require view';
'require uplink.api as api';

/*
 * Status › Uplink: one card per line, the policies' current lines, recent events, and
 * drain/undrain buttons. Everything comes from the ubus object `uplink` and is
 * refreshed every 5 seconds.
 */

const EVENT_LIMIT = 30;

function row(label, value) {
	return E('tr', { 'class': 'tr' }, [
		E('td', { 'class': 'td left', 'width': '33%' }, label),
		E('td', { 'class': 'td left' }, value)
	]);
}

function stateBadge(line) {
	const up = (line.state === 'up');
	let text = up ? _('Up') : _('Down');
	if (line.degraded)
		text += ' (' + _('degraded') + ')';
	// Colours inline: the themes name label colours differently (bootstrap has no
	// `danger`, openwrt-2020 only `success` and `warning`), so a down line showed grey.
	const colour = up ? (line.degraded ? '#c67605' : '#46a546') : '#c43c35';
	return E('span', {
		'class': 'label',
		'style': 'padding:2px 8px;border-radius:3px;color:#fff;background-color:' + colour
	}, text);
}

function targetTable(targets) {
	if (!Array.isArray(targets) || !targets.length)
		return E('em', {}, _('No probe targets: the line follows its link state.'));

	return E('table', { 'class': 'table' }, [
		E('tr', { 'class': 'tr table-titles' }, [
			E('th', { 'class': 'th' }, _('Target')),
			E('th', { 'class': 'th' }, _('Answering')),
			E('th', { 'class': 'th' }, _('Last RTT')),
			E('th', { 'class': 'th' }, _('RTT')),
			E('th', { 'class': 'th' }, _('Jitter')),
			E('th', { 'class': 'th' }, _('Loss'))
		])
	].concat(targets.map(function(t) {
		return E('tr', { 'class': 'tr' }, [
			E('td', { 'class': 'td' }, t.target),
			E('td', { 'class': 'td' }, t.answering ? _('yes') : E('strong', {}, _('no'))),
			E('td', { 'class': 'td' }, api.figure(t.last_rtt_ms, 'ms', 1)),
			E('td', { 'class': 'td' }, api.figure(t.rtt_ms, 'ms', 1)),
			E('td', { 'class': 'td' }, api.figure(t.jitter_ms, 'ms', 1)),
			E('td', { 'class': 'td' }, api.figure(t.loss_pct, '%', 1))
		]);
	})));
}

/* A success message that goes away by itself where this LuCI can do that. */
function notify(node) {
	if (typeof ui.addTimeLimitedNotification === 'function')
		ui.addTimeLimitedNotification(null, node, 5000, 'info');
	else
		ui.addNotification(null, node, 'info');
}

return view.extend({
	load: function() {
		return Promise.all([ api.status(), api.events(EVENT_LIMIT) ]);
	},

	/* Asks before draining or undraining, then calls the daemon and reports the answer. */
	handleDrain: function(line, ev) {
		const drain = !line.drained;
		const title = drain ? _('Drain line %s').format(line.name) : _('Undrain line %s').format(line.name);
		const text = drain
			? _('New connections stop using "%s" until it is undrained; other lines take them. Its existing connections stay until they end, or move at once with "Drain now". Continue?').format(line.name)
			: _('"%s" may carry traffic again when it is up. Continue?').format(line.name);
		const button = ev.currentTarget;

		ui.showModal(title, [
			E('p', {}, text),
			E('div', { 'class': 'right' }, [
				E('button', { 'class': 'btn', 'click': ui.hideModal }, _('Cancel')), ' ',
				drain ? E('button', {
					'class': 'btn cbi-button-negative',
					'click': ui.createHandlerFn(this, function() {
						ui.hideModal();
						button.disabled = true;
						return api.drain(line.name, true).then(L.bind(function(res) {
							if (res.error)
								ui.addNotification(null, E('p', {}, _('%s of "%s" failed: %s')
									.format(_('Drain now'), line.name, res.error)), 'error');
							else
								notify(E('p', {}, _('Line "%s" drained; its connections moved.').format(line.name)));
							return this.refresh();
						}, this));
					})
				}, _('Drain now')) : '', ' ',
				E('button', {
					'class': 'btn cbi-button-action important',
					'click': ui.createHandlerFn(this, function() {
						ui.hideModal();
						button.disabled = true;
						return (drain ? api.drain(line.name) : api.undrain(line.name)).then(L.bind(function(res) {
							if (res.error)
								ui.addNotification(null, E('p', {}, _('%s of "%s" failed: %s')
									.format(drain ? _('Drain') : _('Undrain'), line.name, res.error)), 'error');
							else
								notify(E('p', {}, drain
									? _('Line "%s" drained.').format(line.name)
									: _('Line "%s" undrained.').format(line.name)));
							return this.refresh();
						}, this));
					})
				}, drain ? _('Drain') : _('Undrain'))
			])
		]);
	},

	renderLine: function(line) {
		const rows = [
			row(_('State'), stateBadge(line)),
			row(_('Active'), line.active ? E('strong', {}, _('yes, carries the default route')) : _('no')),
			row(_('Device'), (line.device || '-') + (line.interface ? ' (' + line.interface + ')' : '')),
			row(_('Family'), line.family || '-'),
			row(_('RTT / loss'), api.figure(line.rtt_ms, 'ms', 1) + ' / ' + api.figure(line.loss_pct, '%', 1)),
			row(_('Since'), [ line.since || '-', line.state_secs != null ? ' (' + api.duration(line.state_secs) + ')' : '' ]),
			row(_('Reason'), line.reason || '-'),
			row(_('Transitions / downtime'), '%s / %s'.format(line.transitions != null ? line.transitions : '-',
				api.duration(line.downtime_secs))),
			row(_('Connections'), line.connections != null ? String(line.connections) : '-')
		];
		if (line.degraded)
			rows.push(row(_('Degraded'), String(line.degraded)));
		if (line.gateway)
			rows.push(row(_('Gateway'), String(line.gateway)));
		if (line.drained)
			rows.push(row(_('Drained'), E('strong', {}, _('yes: takes no new traffic'))));

		return E('div', { 'class': 'cbi-section uplink-line', 'data-line': line.name }, [
			E('h3', {}, [ line.name, ' ', stateBadge(line) ]),
			E('table', { 'class': 'table' }, rows),
			E('h4', {}, _('Probe targets')),
			targetTable(line.targets),
			E('div', { 'class': 'right' }, E('button', {
				'class': 'btn cbi-button ' + (line.drained ? 'cbi-button-positive' : 'cbi-button-negative'),
				'click': ui.createHandlerFn(this, 'handleDrain', line)
			}, line.drained ? _('Undrain') : _('Drain')))
		]);
	},

	renderPolicies: function(policies) {
		if (!Array.isArray(policies) || !policies.length)
			return E('em', {}, _('No policies configured.'));
		return E('table', { 'class': 'table' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, _('Policy')),
				E('th', { 'class': 'th' }, _('Current line'))
			])
		].concat(policies.map(function(p) {
			let line = p.line;
			if (line === 'default')
				line = E('em', {}, _('default (normal selection)'));
			else if (line === 'unreachable')
				line = E('strong', {}, _('unreachable (its lines are down)'));
			return E('tr', { 'class': 'tr' }, [ E('td', { 'class': 'td' }, p.name), E('td', { 'class': 'td' }, line) ]);
		})));
	},

	renderEvents: function(res) {
		if (res.error)
			return E('div', { 'class': 'alert-message warning' }, _('Events: %s').format(res.error));
		const events = Array.isArray(res.events) ? res.events.slice().reverse() : [];
		if (!events.length)
			return E('em', {}, _('No events yet.'));
		return E('table', { 'class': 'table' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, _('Time')),
				E('th', { 'class': 'th' }, _('Event')),
				E('th', { 'class': 'th' }, _('Line')),
				E('th', { 'class': 'th' }, _('Message'))
			])
		].concat(events.map(function(e) {
			return E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td' }, e.time || '-'),
				E('td', { 'class': 'td' }, e.kind || '-'),
				E('td', { 'class': 'td' }, e.line != null ? e.line : '-'),
				E('td', { 'class': 'td' }, e.message || '')
			]);
		})));
	},

	renderAll: function(data) {
		const status = data[0], events = data[1];

		if (status.error)
			return E('div', { 'class': 'alert-message warning' }, [
				E('h4', {}, _('uplink is not running or cannot be reached')),
				E('p', {}, status.error),
				E('p', {}, _('Start it with "/etc/init.d/uplink start" or under System › Startup; check "logread -e uplink" for why it stopped.'))
			]);

		const lines = Array.isArray(status.uplinks) ? status.uplinks : [];
		return E('div', {}, [
			lines.length ? E('div', {}, lines.map(L.bind(this.renderLine, this)))
				: E('div', { 'class': 'alert-message notice' }, _('No lines configured: add one under Network › Uplink.')),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, _('Policies')), this.renderPolicies(status.policies) ]),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, _('Recent events')), this.renderEvents(events) ])
		]);
	},

	refresh: function() {
		return this.load().then(L.bind(function(data) {
			dom.content(this.container, this.renderAll(data));
		}, this));
	},

	render: function(data) {
		this.container = E('div', { 'id': 'uplink-status' }, this.renderAll(data));
		poll.add(L.bind(this.refresh, this), 5);
		return E('div', {}, [
			E('h2', {}, _('Uplink')),
			E('div', { 'class': 'cbi-map-descr' },
				_('The internet lines uplink watches, which one carries traffic, and why.')),
			this.container
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
