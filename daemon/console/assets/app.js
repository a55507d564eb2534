// tenantsync console: a single page over the admin API (docs/ADMIN-API.md, "Console").
//
// Rules this file keeps:
// - Every piece of text that comes from the API (or the address bar) reaches the page through
//   text nodes (h() below, textContent), never through HTML parsing, so nothing a sender or an
//   Auth0 log wrote can run as markup or script.
// - The admin token is typed once into the sign-in form and sent to POST /v1/session, which sets
//   an HttpOnly cookie; the token is never kept in JavaScript variables or web storage.
//   The CSRF token the session answer carries is kept in memory only and fetched again from
//   GET /v1/whoami when the page loads; every request that changes something sends it as
//   X-CSRF-Token.
// - Buttons a role may not use are not shown; the API refuses them anyway.
'use strict';

(function () {
  // ---------------------------------------------------------------------------------------------
  // State and small helpers.

  const session = { me: null, csrf: null };
  let refreshTimer = null;
  let renderGeneration = 0;  // a newer navigation makes an older render's late answers moot

  // What each role may press (the API enforces the same table: daemon/operators/authz.h and
  // docs/ADMIN-API.md, "Roles"). An org-admin's lists and actions are limited to its
  // organizations by the API; tenant-wide pages (dashboard, plan) are not shown to it.
  const CAN = {
    tenant: ['viewer', 'operator', 'admin'],
    replay: ['operator', 'admin', 'org-admin'],
    retry: ['operator', 'admin', 'org-admin'],
    discard: ['operator', 'admin', 'org-admin'],
    pause: ['operator', 'admin'],
    guard: ['admin'],
    drift: ['admin'],
    change: ['operator', 'admin', 'org-admin'],  // changes from people: POST /v1/events
    removeOrg: ['operator', 'admin'],  // organization.deleted (never an org-admin)
  };
  function can(action) {
    return !!session.me && CAN[action].includes(session.me.role);
  }

  // Auth0 log event type codes (adapters/auth0/log_types.h, from Auth0's "Log Event Type Codes").
  const LOG_TYPES = {
    s: 'Success Login', f: 'Failed Login', fu: 'Failed Login (invalid email/username)',
    fp: 'Failed Login (wrong password)', w: 'Warnings During Login', slo: 'Success Logout',
    ss: 'Success Signup', fs: 'Failed Signup', sapi: 'Success API Operation',
    fapi: 'Failed API Operation', mgmt_api_read: 'Management API Read Operation',
    scpr: 'Success Change Password Request', fcpr: 'Failed Change Password Request',
    scp: 'Success Change Password', fcp: 'Failed Change Password',
    svr: 'Success Verification Email Request', fvr: 'Failed Verification Email Request',
    sv: 'Success Verification Email', fv: 'Failed Verification Email',
    sce: 'Success Change Email', fce: 'Failed Change Email', du: 'Deleted User',
    fdu: 'Failed User Deletion', fn: 'Failed Sending Notification', limit_wc: 'Blocked Account',
    limit_mu: 'Blocked IP Address', seccft: 'Success Exchange', feccft: 'Failed Exchange',
    api_limit: 'Rate Limit on the Authentication or Management APIs',
  };

  const EVENT_TYPES = [
    'organization.upserted', 'organization.deleted', 'user.upserted', 'user.left',
    'user.returned', 'user.blocked', 'user.unblocked', 'user.deleted',
    'user.password_reset_requested', 'user.verification_email_requested',
  ];

  // h('a', {href: '#/x', class: 'c', onclick: fn}, 'text', child, [more]): an element whose
  // string children become text nodes (never parsed as HTML).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2), value);
      } else if (key === 'class') {
        el.className = value;
      } else if (key === 'value') {
        el.value = value;
      } else if (key === 'checked' || key === 'disabled' || key === 'hidden' || key === 'readOnly') {
        el[key] = !!value;
      } else {
        el.setAttribute(key, value === true ? '' : String(value));
      }
    }
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else if (c instanceof Node) el.appendChild(c);
      else el.appendChild(document.createTextNode(String(c)));
    }
  }
  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  function fmtTime(ms) {
    if (ms === null || ms === undefined) return '—';
    const d = new Date(ms);
    if (isNaN(d.getTime())) return String(ms);
    return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  }
  function fmtValue(v) {
    if (v === undefined) return '';
    if (v === null) return 'null';
    if (typeof v === 'string') return v;
    return JSON.stringify(v);
  }
  function fmtSeconds(s) {
    if (s === null || s === undefined) return '—';
    if (s < 120) return s.toFixed(1) + ' s';
    if (s < 7200) return (s / 60).toFixed(1) + ' min';
    return (s / 3600).toFixed(1) + ' h';
  }
  function stateBadge(state) {
    return h('span', { class: 'state ' + String(state) }, String(state));
  }
  function pretty(v) {
    return h('pre', {}, typeof v === 'string' ? v : JSON.stringify(v, null, 2));
  }
  function enc(s) {
    return encodeURIComponent(s);
  }
  function table(headers, rows, opts) {
    const o = opts || {};
    const head = h('tr', {}, headers.map((x) => h('th', {}, x)));
    const body = rows.length ?
      rows :
      [h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, o.empty || 'nothing'))];
    return h('div', { class: 'table-wrap' },
      h('table', { class: o.class || null, 'data-table': o.name || null }, h('thead', {}, head),
        h('tbody', {}, body)));
  }
  function kv(pairs) {
    return h('table', { class: 'kv' },
      h('tbody', {}, pairs.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))));
  }
  function card(title, ...children) {
    return h('section', { class: 'card' }, h('h2', {}, title), children);
  }

  // ---------------------------------------------------------------------------------------------
  // The API.

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'the daemon could not be reached (' + e.message + ')');
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (res.status === 401 && path !== '/v1/session' && session.me) {
      signedOut('Your session has ended (signed out, or the token was changed). Sign in again.');
      throw new ApiError(401, 'not signed in');
    }
    if (!res.ok) {
      const message = data && typeof data.error === 'string' ? data.error :
        'the daemon answered HTTP ' + res.status;
      throw new ApiError(res.status, message);
    }
    return data;
  }

  // Entities ("user:<encoded id>") this page submitted an upsert for: their page waits for them.
  const recentlySubmitted = new Set();

  // A change from a person: an event in the SPEC §5 vocabulary (POST /v1/events).
  async function submitChange(type, data) {
    const answer = await api('POST', '/v1/events', { type, data });
    if (type.endsWith('.upserted')) {
      recentlySubmitted.add((type.startsWith('user.') ? 'user' : 'organization') + ':' +
        enc(data.external_id));
    }
    flash('Accepted: ' + type + ' for ' + data.external_id + ' (event ' +
      (answer && answer.event_id ? answer.event_id : '?') + '). It is applied in a moment.', 'info');
    return answer;
  }

  // ---------------------------------------------------------------------------------------------
  // Messages.

  // A message stays for the page the action led to, then goes with the next navigation.
  let flashPages = 0;
  function flash(message, kind) {
    flashPages = 2;
    const el = document.getElementById('flash');
    el.textContent = message;
    el.className = 'flash' + (kind === 'info' ? ' info' : '');
    el.hidden = false;
  }
  function clearFlash() {
    const el = document.getElementById('flash');
    el.hidden = true;
    el.textContent = '';
  }
  function showError(e) {
    flash(e instanceof ApiError ? e.message : 'Something went wrong in the page: ' + e);
  }

  // Runs an action of a button: disables it meanwhile, shows the API's words on failure.
  function action(fn) {
    return async (ev) => {
      if (ev) ev.preventDefault();
      // A form's submit disables its submit button; a button's click, the button.
      let button = ev && ev.currentTarget instanceof HTMLElement ? ev.currentTarget : null;
      if (button instanceof HTMLFormElement) button = button.querySelector('button[type=submit]');
      if (button) button.disabled = true;
      try {
        await fn();
      } catch (e) {
        showError(e);
      } finally {
        if (button && button.isConnected) button.disabled = false;
      }
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Session.

  function main() {
    return document.getElementById('main');
  }

  function signedOut(message) {
    session.me = null;
    session.csrf = null;
    stopRefresh();
    document.getElementById('nav').hidden = true;
    document.getElementById('who').hidden = true;
    renderSignIn(message);
  }

  function signedIn(me) {
    session.me = me;
    session.csrf = me.csrf;
    document.getElementById('who-name').textContent = me.name || '';
    document.getElementById('who-role').textContent =
      me.role + (me.role === 'org-admin' && me.organizations && me.organizations.length ?
        ': ' + me.organizations.join(', ') : '');
    document.getElementById('who').hidden = false;
    const nav = document.getElementById('nav');
    for (const a of nav.querySelectorAll('a')) {
      a.hidden = a.dataset.scope === 'tenant' && !can('tenant');
    }
    nav.hidden = false;
  }

  function renderSignIn(message) {
    const m = main();
    clear(m);
    const token = h('input', {
      id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true,
      spellcheck: 'false', 'aria-label': 'Admin token',
    });
    const form = h('form', { id: 'signin', class: 'card signin' },
      h('h1', {}, 'Sign in'),
      h('p', { class: 'muted' },
        'Paste an admin API token (a [[admin.tokens]] token or the [admin] token_file). It is ' +
        'exchanged for a session cookie the page cannot read, and is not stored.'),
      h('label', {}, 'Token', token),
      h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'signin-submit' }, 'Sign in')));
    form.addEventListener('submit', action(async () => {
      const value = token.value.trim();
      token.value = '';
      if (!value) throw new ApiError(400, 'type a token first');
      const me = await api('POST', '/v1/session', { token: value });
      clearFlash();
      signedIn(me);
      route();
    }));
    m.appendChild(form);
    if (message) flash(message);
    token.focus();
  }

  async function signOut() {
    try {
      await api('DELETE', '/v1/session');
    } finally {
      signedOut(null);
      clearFlash();
      location.hash = '#/';
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Routing: #/page/arg?query.

  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const q = raw.indexOf('?');
    const pathPart = q >= 0 ? raw.slice(0, q) : raw;
    const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
    const parts = pathPart.split('/').filter((p) => p !== '').map((p) => {
      try {
        return decodeURIComponent(p);
      } catch (e) {
        return p;
      }
    });
    return { parts, query };
  }

  function stopRefresh() {
    // clearInterval also clears a setTimeout (one pool of ids, HTML timers).
    if (refreshTimer) clearInterval(refreshTimer);
    refreshTimer = null;
  }

  async function route() {
    stopRefresh();
    if (!session.me) return;
    const { parts, query } = parseHash();
    const page = parts[0] || (can('tenant') ? 'dashboard' : 'orgs');
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('active', a.dataset.nav === page || a.dataset.nav + 's' === page ||
        (page === 'event' && a.dataset.nav === 'events'));
    }
    const generation = ++renderGeneration;
    const m = main();
    const view = h('div', { id: 'view', 'data-page': page });
    const render = {
      dashboard: () => renderDashboard(view, generation),
      events: () => renderEvents(view, query),
      event: () => renderEvent(view, parts[1] || '', query),
      dead: () => renderDead(view),
      plan: () => renderPlan(view),
      orgs: () => (parts[1] === 'new' ? renderOrgForm(view, null) : renderOrgs(view, query)),
      org: () => (parts[2] === 'edit' ? renderOrgEdit(view, parts[1] || '') :
        renderOrg(view, parts[1] || '', generation, 0)),
      users: () => (parts[1] === 'new' ? renderUserForm(view, null) : renderUsers(view, query)),
      user: () => (parts[2] === 'edit' ? renderUserEdit(view, parts[1] || '') :
        renderUser(view, parts[1] || '', generation, 0)),
    }[page];
    clear(m);
    m.appendChild(view);
    if (!render) {
      view.appendChild(h('p', {}, 'There is no page "' + page + '". ', h('a', { href: '#/' }, 'Home')));
      return;
    }
    try {
      await render();
    } catch (e) {
      if (generation === renderGeneration) {
        view.appendChild(h('p', { class: 'muted' }, 'This page could not be loaded.'));
        showError(e);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Dashboard.

  async function renderDashboard(view, generation) {
    view.appendChild(h('h1', {}, 'Dashboard'));
    const body = h('div', { id: 'dashboard' });
    view.appendChild(body);
    const refresh = async () => {
      const status = await api('GET', '/v1/status');
      if (generation !== renderGeneration) return;
      clear(body);
      body.appendChild(dashboardCards(status));
      body.appendChild(h('p', { class: 'note' }, 'Refreshed ' + fmtTime(Date.now()) +
        '; refreshes every 5 seconds.'));
    };
    await refresh();
    refreshTimer = setInterval(() => {
      refresh().catch(showError);
    }, 5000);
  }

  function countsTable(counts, order, link) {
    const rows = order.filter((k) => k in counts).map((k) =>
      h('tr', {}, h('td', {}, link ? h('a', { href: link(k) }, k) : k),
        h('td', { class: 'num', 'data-count': k }, String(counts[k]))));
    return table(['state', 'count'], rows);
  }

  function dashboardCards(s) {
    const grid = h('div', { class: 'grid' });
    grid.appendChild(card('Events',
      countsTable(s.events || {}, ['pending', 'due', 'scheduled', 'applied', 'rejected', 'failed'],
        (k) => '#/events?state=' + enc(k)),
      h('p', { class: 'note' }, 'pending = due + scheduled.')));
    grid.appendChild(card('Mutations',
      countsTable(s.mutations || {},
        ['pending', 'in_flight', 'done', 'failed', 'dead', 'discarded', 'superseded']),
      s.mutations && (s.mutations.dead || s.mutations.failed) ?
        h('p', {}, h('a', { href: '#/dead' }, 'Dead letters and failed writes →')) : null));

    const lag = card('Sync',
      kv([
        ['paused', s.paused === undefined ? 'no writer' : (s.paused ? 'yes' : 'no')],
        ['oldest waiting work', fmtSeconds(s.oldest_pending_seconds)],
        ['last write to Auth0', fmtTime(s.last_success_ms)],
        ['entities to reconcile', String(s.entities_to_reconcile)],
      ]));
    if (can('pause') && s.paused !== undefined) {
      lag.appendChild(h('div', { class: 'actions' }, s.paused ?
        h('button', { id: 'resume', onclick: action(async () => {
          await api('POST', '/v1/resume');
          flash('Resumed: events are applied and Auth0 is written again.', 'info');
          route();
        }) }, 'Resume') :
        h('button', { id: 'pause', class: 'secondary', onclick: action(async () => {
          if (!confirm('Pause? Webhooks are still stored, but nothing is applied or written to Auth0 until resumed.')) return;
          await api('POST', '/v1/pause');
          flash('Paused.', 'info');
          route();
        }) }, 'Pause')));
    }
    grid.appendChild(lag);

    const sched = s.scheduled_work || { total: 0, next: [] };
    const waiting = s.waiting || { total: 0, examples: [] };
    grid.appendChild(card('Scheduled and waiting',
      h('p', {}, String(sched.total) + ' scheduled'),
      table(['entity', 'due'], (sched.next || []).map((n) =>
        h('tr', {}, h('td', {}, entityLink(n.entity)), h('td', {}, fmtTime(n.due_at_ms))))),
      h('p', {}, String(waiting.total) + ' waiting'),
      table(['entity', 'reason'], (waiting.examples || []).map((w) =>
        h('tr', {}, h('td', {}, entityLink(w.entity)), h('td', {}, w.reason))))));

    const rl = s.rate_limit;
    grid.appendChild(card('Auth0 rate limit', rl ? kv([
      ['remaining (Auth0)', rl.limit ? rl.remaining + ' of ' + rl.limit : 'not reported yet'],
      ['resets', rl.reset_unix ? fmtTime(rl.reset_unix * 1000) : '—'],
      ['client bucket', Number(rl.tokens).toFixed(1) + ' of ' + rl.capacity + ' (' +
        rl.refill_per_second + '/s)'],
      ['429s received', String(rl.throttled_total)],
    ]) : h('p', { class: 'muted' }, 'No Auth0 client (dry run).')));

    const q = s.quarantine;
    if (q) {
      const c = card('Quarantine', kv([
        ['active', q.active ? 'yes — Auth0 answers look wrong; writes are held' : 'no'],
        ['since', fmtTime(q.since_ms)],
        ['reason', q.reason || '—'],
        ['failures in window', String(q.failures) + ' of ' + String(q.requests) + ' requests'],
      ]));
      if (q.active) c.classList.add('alert');
      grid.appendChild(c);
    }

    const g = s.guard;
    if (g && !g.error) {
      const held = g.held || { total: 0, by_kind: {}, examples: [] };
      const c = card('Destructive-change guard',
        kv([
          ['tripped', g.tripped ? 'yes, since ' + fmtTime(g.tripped_at_ms) : 'no'],
          ['destructive in window', g.destructive_in_window + ' (limit ' + g.limit + ' per ' +
            g.window_seconds + ' s)'],
          ['held', String(held.total) + (Object.keys(held.by_kind || {}).length ? ' (' +
            Object.entries(held.by_kind).map(([k, n]) => k + ': ' + n).join(', ') + ')' : '')],
        ]),
        table(['entity', 'kind', 'events'], (held.examples || []).map((x) =>
          h('tr', {}, h('td', {}, entityLink(x.entity)), h('td', {}, x.kind),
            h('td', {}, (x.events || []).join(', '))))));
      if (g.tripped) c.classList.add('alert');
      if (can('guard')) {
        c.appendChild(h('div', { class: 'actions' },
          h('button', { id: 'guard-approve', disabled: !g.tripped, onclick: action(async () => {
            if (!confirm('Approve: the held destructive changes are sent to Auth0 now.')) return;
            const r = await api('POST', '/v1/guard/approve');
            flash('Approved ' + r.approved + ' held change(s).', 'info');
            route();
          }) }, 'Approve held work'),
          h('button', { id: 'guard-reject', class: 'danger', disabled: !g.tripped,
            onclick: action(async () => {
              if (!confirm('Reject: the held destructive changes are dropped and not sent.')) return;
              const r = await api('POST', '/v1/guard/reject',
                { by: session.me.name || 'console' });
              flash('Rejected ' + r.rejected + ' held change(s).', 'info');
              route();
            }) }, 'Reject held work')));
      }
      grid.appendChild(c);
    } else if (g && g.error) {
      grid.appendChild(card('Destructive-change guard', h('p', {}, g.error)));
    }

    const d = s.drift;
    const dc = card('Drift');
    if (d) {
      dc.appendChild(kv([
        ['last run', fmtTime(d.ran_at_ms) + ' (' + d.mode + ')'],
        ['differences', String(d.differences)],
        ['corrected', String(d.corrected)],
      ]));
      dc.appendChild(table(['entity', 'field', 'Auth0', 'expected'], (d.first || []).map((x) =>
        h('tr', {}, h('td', {}, entityLink(x.entity)), h('td', {}, x.field),
          h('td', {}, fmtValue(x.auth0)), h('td', {}, fmtValue(x.expected))))));
    } else {
      dc.appendChild(h('p', { class: 'muted' }, 'Drift has not run since the daemon started.'));
    }
    if (can('drift')) {
      dc.appendChild(h('div', { class: 'actions' },
        h('button', { id: 'drift-run', class: 'secondary', onclick: action(async () => {
          flash('Comparing Auth0 with what tenantsync wrote… (report only, nothing changes)', 'info');
          const r = await api('POST', '/v1/drift/run?mode=report');
          flash('Drift: ' + (r.differences || []).length + ' difference(s) in ' + r.requests +
            ' request(s).', 'info');
          route();
        }) }, 'Run drift report')));
    }
    grid.appendChild(dc);
    return grid;
  }

  // "user:emp-1" / "org:acme" / "members:acme" -> a link to the entity's page.
  function entityLink(entity) {
    const s = String(entity);
    const colon = s.indexOf(':');
    const kind = s.slice(0, colon), ext = s.slice(colon + 1);
    if (kind === 'user') return h('a', { href: '#/user/' + enc(ext) }, s);
    if (kind === 'org' || kind === 'members') return h('a', { href: '#/org/' + enc(ext) }, s);
    return s;
  }
  // "source/event_id" -> a link to the event's page.
  function eventLink(ref) {
    const s = String(ref);
    const slash = s.indexOf('/');
    if (slash < 0) return s;
    return h('a', { href: '#/event/' + enc(s.slice(slash + 1)) + '?source=' + enc(s.slice(0, slash)) }, s);
  }

  // ---------------------------------------------------------------------------------------------
  // Events and dead letters.

  async function renderEvents(view, query) {
    view.appendChild(h('h1', {}, 'Events'));
    const state = h('select', { name: 'state' },
      ['', 'pending', 'due', 'scheduled', 'applied', 'rejected', 'failed'].map((v) =>
        h('option', { value: v }, v || 'any')));
    state.value = query.get('state') || '';
    const source = h('input', { name: 'source', type: 'text', value: query.get('source') || '',
      placeholder: 'any' });
    const type = h('select', { name: 'type' },
      [''].concat(EVENT_TYPES).map((v) => h('option', { value: v }, v || 'any')));
    type.value = query.get('type') || '';
    const form = h('form', { class: 'filters' },
      h('label', {}, 'State', state), h('label', {}, 'Source', source), h('label', {}, 'Type', type),
      h('button', { type: 'submit' }, 'Filter'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      if (state.value) q.set('state', state.value);
      if (source.value.trim()) q.set('source', source.value.trim());
      if (type.value) q.set('type', type.value);
      location.hash = '#/events' + (q.toString() ? '?' + q : '');
    });
    view.appendChild(form);
    const q = new URLSearchParams();
    for (const k of ['state', 'source', 'type', 'after']) if (query.get(k)) q.set(k, query.get(k));
    q.set('limit', '50');
    const r = await api('GET', '/v1/events?' + q);
    // The type filter is applied here too, so a daemon that ignores ?type= still shows only it.
    const wanted = query.get('type');
    const rows = (r.events || []).filter((e) => !wanted || e.type === wanted).map((e) => h('tr', {},
      h('td', { class: 'num' }, String(e.seq)), h('td', {}, e.source),
      h('td', {}, h('a', { href: '#/event/' + enc(e.event_id) + '?source=' + enc(e.source) }, e.event_id)),
      h('td', {}, e.type || '—'), h('td', {}, stateBadge(e.scheduled ? 'scheduled' : e.state)),
      h('td', {}, fmtTime(e.received_at_ms)), h('td', {}, e.error || e.note || '')));
    view.appendChild(table(['seq', 'source', 'event id', 'type', 'state', 'received', 'error / note'],
      rows, { name: 'events', empty: 'no events match' }));
    if (r.next_after !== null && r.next_after !== undefined) {
      const next = new URLSearchParams(q);
      next.delete('limit');
      next.set('after', String(r.next_after));
      view.appendChild(h('p', { class: 'pager' }, h('a', { href: '#/events?' + next }, 'Next page →')));
    }
  }

  async function renderEvent(view, id, query) {
    const source = query.get('source');
    const path = '/v1/events/' + enc(id) + (source ? '?source=' + enc(source) : '');
    const e = await api('GET', path);
    view.appendChild(h('h1', {}, 'Event ' + e.event_id));
    view.appendChild(kv([
      ['source', e.source], ['type', e.type || '—'],
      ['state', stateBadge(e.scheduled ? 'scheduled' : e.state)],
      ['occurred', fmtTime(e.occurred_at_ms)], ['effective', fmtTime(e.effective_at_ms)],
      ['received', fmtTime(e.received_at_ms)], ['updated', fmtTime(e.updated_at_ms)],
      ['error', e.error || '—'], ['note', e.note || '—'],
    ]));
    if (can('replay') && (e.state === 'rejected' || e.state === 'failed')) {
      view.appendChild(h('div', { class: 'actions' }, h('button', { id: 'replay', onclick: action(async () => {
        await api('POST', path.replace(/(\?|$)/, '/replay$1'));
        flash('Event ' + e.event_id + ' is pending again: it will be applied shortly.', 'info');
        route();
      }) }, 'Replay')));
    }
    view.appendChild(h('h3', {}, 'Payload'));
    view.appendChild(pretty(e.body));
  }

  async function renderDead(view) {
    view.appendChild(h('h1', {}, 'Dead letters'));
    view.appendChild(h('p', { class: 'muted' },
      'Writes to Auth0 that failed permanently (dead) or keep failing (failed). Retry re-plans ' +
      'the entity from its desired state; discard gives up on the write (a later event plans it again).'));
    for (const state of ['dead', 'failed']) {
      const r = await api('GET', '/v1/mutations?state=' + state + '&limit=200');
      view.appendChild(h('h3', {}, state));
      view.appendChild(table(['id', 'entity', 'kind', 'attempts', 'error', 'request', ''],
        (r.mutations || []).map((m) => mutationRow(m, true)), { name: 'mutations-' + state,
          empty: 'no ' + state + ' mutations' }));
    }
  }

  function mutationRow(m, actions) {
    const buttons = [];
    if (actions && (m.state === 'dead' || m.state === 'failed')) {
      if (can('retry')) {
        buttons.push(h('button', { class: 'secondary', 'data-action': 'retry', onclick: action(async () => {
          await api('POST', '/v1/mutations/' + m.id + '/retry');
          flash('Mutation ' + m.id + ' retried: its entity is planned again.', 'info');
          route();
        }) }, 'Retry'));
      }
      if (can('discard')) {
        buttons.push(h('button', { class: 'danger', 'data-action': 'discard', onclick: action(async () => {
          if (!confirm('Discard mutation ' + m.id + '? It is not sent; a later event plans the entity again.')) return;
          await api('POST', '/v1/mutations/' + m.id + '/discard');
          flash('Mutation ' + m.id + ' discarded.', 'info');
          route();
        }) }, 'Discard'));
      }
    }
    return h('tr', {}, h('td', { class: 'num' }, String(m.id)), h('td', {}, entityLink(m.entity)),
      h('td', {}, m.kind + (m.destructive ? ' (destructive)' : '')),
      actions ? h('td', { class: 'num' }, String(m.attempts)) : h('td', {}, stateBadge(m.state)),
      h('td', {}, m.error || ''), h('td', {}, h('code', {}, fmtValue(m.request))),
      h('td', {}, actions ? h('div', { class: 'actions' }, buttons) : fmtTime(m.updated_at_ms)));
  }

  async function renderPlan(view) {
    view.appendChild(h('h1', {}, 'Plan'));
    view.appendChild(h('p', { class: 'muted' },
      'What the writer would send to Auth0 now. Nothing is sent from this page.'));
    const r = await api('GET', '/v1/plan');
    const rows = (r.plan || []).map((p) => h('tr', {},
      h('td', {}, entityLink(p.entity)), h('td', {}, p.kind + (p.destructive ? ' (destructive)' : '')),
      h('td', {}, p.kind === 'wait' ? (p.request && p.request.reason) || '' :
        planChanges(p.request, p.before)),
      h('td', {}, (p.events || []).map((e) => h('div', {}, eventLink(e))))));
    view.appendChild(table(['entity', 'kind', 'changes', 'events'], rows,
      { name: 'plan', empty: 'nothing to do: Auth0 matches the desired state' }));
  }
  function planChanges(request, before) {
    if (!request || typeof request !== 'object') return fmtValue(request);
    return Object.keys(request).map((k) => h('div', {}, h('code', {}, k + ': ' +
      (before && typeof before === 'object' && k in before ? fmtValue(before[k]) + ' → ' : '') +
      fmtValue(request[k]))));
  }

  // ---------------------------------------------------------------------------------------------
  // Entities: shared pieces.

  // Desired state next to what Auth0 had as last read or written, one row per field.
  function compareTable(desired, known) {
    const d = desired || {}, k = known || {};
    const keys = Array.from(new Set(Object.keys(d).concat(Object.keys(k)))).sort();
    const rows = keys.map((key) => {
      const a = fmtValue(d[key]), b = key in k ? fmtValue(k[key]) : '—';
      return h('tr', { class: key in d && key in k && a !== b ? 'differs' : null },
        h('th', {}, key), h('td', {}, key in d ? a : '—'), h('td', {}, b));
    });
    return table(['field', 'desired', 'last known in Auth0'], rows,
      { name: 'compare', empty: 'no fields yet' });
  }

  function historyCards(e) {
    return [
      card('Events behind the desired state', (e.events || []).length ?
        h('ul', {}, e.events.map((x) => h('li', {}, eventLink(x)))) :
        h('p', { class: 'muted' }, 'none')),
      h('section', { class: 'card wide' }, h('h2', {}, 'Mutations'),
        table(['id', 'entity', 'kind', 'state', 'error', 'request', 'updated'],
          (e.mutations || []).map((m) => mutationRow(m, false)), { name: 'mutations' })),
    ];
  }

  // Loads an entity. Right after this page submitted a change creating it, it may not be known
  // yet (the event is applied within a second or so): then the page says so and tries again for
  // a while. Any other 404 is shown at once.
  async function loadEntity(view, path, what, generation, attempt) {
    try {
      return await api('GET', path);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
      const key = what + ':' + path.split('/')[3].split('?')[0];
      if (attempt >= 15 || !recentlySubmitted.has(key)) throw e;
      if (!view.querySelector('.pending-note')) {
        view.appendChild(h('p', { class: 'muted pending-note' }, e.message + ' — not applied yet? Trying again…'));
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      if (generation !== renderGeneration) return null;
      return loadEntity(view, path, what, generation, attempt + 1);
    }
  }

  // An entity not created in Auth0 yet is on its way (or waiting, which the page shows): its page
  // loads again every 2 seconds until it has an Auth0 id, so one watches it converge.
  function watchUntilCreated(entity, generation) {
    if (entity.auth0_id || (entity.desired && entity.desired.deleted)) return;
    refreshTimer = setTimeout(() => {
      if (generation === renderGeneration) route();
    }, 2000);
  }

  // Rows editor: a list of small rows (key/value, connection, membership) with add and remove.
  function rowsEditor(name, fields, initial) {
    const box = h('div', { class: 'rows', 'data-rows': name });
    const addRow = (values) => {
      const inputs = fields.map((f) => {
        if (f.type === 'checkbox') {
          const input = h('input', { type: 'checkbox', name: name + '.' + f.name, 'data-field': f.name,
            checked: !!(values && values[f.name]) });
          return h('label', { class: 'check' }, input, f.label);
        }
        // Named "<list>.<field>" so they never shadow the form's own fields (form.elements).
        const input = h('input', { type: 'text', name: name + '.' + f.name, 'data-field': f.name,
          placeholder: f.placeholder || '',
          value: values && values[f.name] !== undefined ? values[f.name] : '', list: f.list || null });
        return h('label', {}, f.label, input);
      });
      const row = h('div', { class: 'row' }, inputs,
        h('button', { type: 'button', class: 'secondary', onclick: () => row.remove() }, 'Remove'));
      box.insertBefore(row, addButton);
    };
    const addButton = h('button', { type: 'button', class: 'secondary', 'data-add': name,
      onclick: () => addRow(null) }, 'Add');
    box.appendChild(addButton);
    for (const v of initial || []) addRow(v);
    box.readRows = () => Array.from(box.querySelectorAll('.row')).map((row) => {
      const out = {};
      for (const input of row.querySelectorAll('input')) {
        out[input.dataset.field] = input.type === 'checkbox' ? input.checked : input.value.trim();
      }
      return out;
    });
    return box;
  }

  function textField(label, name, value, opts) {
    const o = opts || {};
    return h('label', {}, label, h('input', { type: o.type || 'text', name, value: value || '',
      readOnly: o.readOnly, required: o.required, placeholder: o.placeholder || '', list: o.list || null }));
  }

  // Metadata rows -> the change to send: new or changed keys with their value, removed keys null.
  function metadataChange(rows, before) {
    const out = {};
    const seen = new Set();
    for (const r of rows) {
      if (!r.key) continue;
      seen.add(r.key);
      if (!before || before[r.key] !== r.value) out[r.key] = r.value;
    }
    for (const key of Object.keys(before || {})) if (!seen.has(key)) out[key] = null;
    return out;
  }
  function same(a, b) {
    return JSON.stringify(a === undefined ? null : a) === JSON.stringify(b === undefined ? null : b);
  }

  // ---------------------------------------------------------------------------------------------
  // Organizations.

  async function renderOrgs(view, query) {
    view.appendChild(h('h1', {}, 'Organizations'));
    const q = h('input', { type: 'search', name: 'q', value: query.get('q') || '',
      placeholder: 'external id or name' });
    const form = h('form', { class: 'filters' }, h('label', {}, 'Search', q),
      h('button', { type: 'submit' }, 'Search'),
      can('change') ? h('a', { href: '#/orgs/new', id: 'new-org' }, 'New organization') : null);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      location.hash = '#/orgs' + (q.value.trim() ? '?q=' + enc(q.value.trim()) : '');
    });
    view.appendChild(form);
    const params = new URLSearchParams();
    if (query.get('q')) params.set('q', query.get('q'));
    if (query.get('after')) params.set('after', query.get('after'));
    params.set('limit', '50');
    const r = await api('GET', '/v1/organizations?' + params);
    const list = r.organizations || [];
    const rows = list.map((o) => h('tr', {},
      h('td', {}, h('a', { href: '#/org/' + enc(o.external_id) }, o.external_id)),
      h('td', {}, o.name || '—'), h('td', {}, o.display_name || '—'),
      h('td', {}, o.auth0_id || '—'), h('td', {}, convergedBadge(o))));
    view.appendChild(table(['external id', 'name', 'display name', 'Auth0 id', 'in Auth0'], rows,
      { name: 'organizations', empty: 'no organizations match' }));
    pager(view, '#/orgs', query, r.next_after);
  }

  // A list item's "converged": created or adopted in Auth0 with no work left for it.
  function convergedBadge(item) {
    if (item.converged) return stateBadge('done');
    return h('span', { class: 'state pending' }, item.auth0_id ? 'changes pending' : 'not created yet');
  }

  function pager(view, base, query, nextAfter) {
    if (nextAfter === null || nextAfter === undefined) return;
    const next = new URLSearchParams();
    if (query.get('q')) next.set('q', query.get('q'));
    next.set('after', String(nextAfter));
    view.appendChild(h('p', { class: 'pager' }, h('a', { href: base + '?' + next }, 'Next page →')));
  }

  async function renderOrg(view, ext, generation) {
    const o = await loadEntity(view, '/v1/organizations/' + enc(ext), 'organization', generation, 0);
    if (!o) return;
    clear(view);
    const d = o.desired || {};
    view.appendChild(h('h1', {}, 'Organization ' + o.external_id));
    view.appendChild(kv([
      ['Auth0 id', o.auth0_id || 'not created yet'],
      ['name', d.name || '—'], ['display name', d.display_name || '—'],
      ['waiting', o.waiting || '—'],
    ]));
    watchUntilCreated(o, generation);
    view.appendChild(h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', id: 'refresh', onclick: () => route() }, 'Refresh'),
      can('change') ? [
        h('a', { href: '#/org/' + enc(o.external_id) + '/edit', id: 'edit-org' }, 'Edit'),
        can('removeOrg') ? h('button', { id: 'remove-org', class: 'danger', onclick: action(async () => {
          if (!confirm('Remove organization ' + o.external_id + ' from Auth0?\n\nThis is destructive: ' +
            'it passes the destructive-change guard, which may hold it for an administrator\'s approval.')) return;
          await submitChange('organization.deleted', { external_id: o.external_id });
          route();
        }) }, 'Remove…') : null] : null));
    if (can('change')) {
      if (can('removeOrg')) {
        view.appendChild(h('p', { class: 'note' }, 'Removing is guarded: a burst of destructive ' +
          'changes is held at the destructive-change guard until approved.'));
      }
    }
    const grid = h('div', { class: 'grid' });
    grid.appendChild(h('section', { class: 'card wide' }, h('h2', {}, 'Desired vs last known in Auth0'),
      compareTable(d, o.last_known_auth0)));
    const membersCard = card('Members and roles', h('p', { class: 'muted' }, 'Loading…'));
    grid.appendChild(membersCard);
    grid.appendChild(card('Connections', table(['name', 'assign membership on login', 'show as button'],
      (d.connections || []).map((c) => h('tr', {}, h('td', {}, c.name),
        h('td', {}, c.assign_membership_on_login ? 'yes' : 'no'), h('td', {}, c.show_as_button === false ? 'no' : 'yes'))),
      { name: 'connections', empty: 'no connections' })));
    grid.appendChild(card('Callback URLs', (d.callback_urls || []).length ?
      h('ul', {}, d.callback_urls.map((u) => h('li', {}, h('code', {}, u)))) :
      h('p', { class: 'muted' }, 'none')));
    for (const c of historyCards(o)) grid.appendChild(c);
    view.appendChild(grid);
    const members = await orgMembers(o);
    if (generation !== renderGeneration) return;
    membersCard.removeChild(membersCard.lastChild);
    membersCard.appendChild(table(['user', 'roles'], members.list.map((m) => h('tr', {},
      h('td', {}, h('a', { href: '#/user/' + enc(m.external_id) }, m.external_id)),
      h('td', {}, (m.roles || []).join(', ') || '—'))), { name: 'members', empty: 'no members' }));
    if (members.note) membersCard.appendChild(h('p', { class: 'note' }, members.note));
  }

  // The desired members of an organization with their roles: the answer's own list when the
  // daemon gives one; else the users whose memberships name it (GET /v1/users pages, bounded),
  // with each member's roles read from the user.
  async function orgMembers(o) {
    if (Array.isArray(o.members)) return { list: o.members, note: null };
    const ids = [];
    let after = null, pages = 0;
    do {
      const q = new URLSearchParams({ limit: '500' });
      if (after) q.set('after', after);
      const r = await api('GET', '/v1/users?' + q);
      for (const u of r.users || []) {
        if ((u.organizations || []).includes(o.external_id)) ids.push(u.external_id);
      }
      after = r.next_after;
      pages += 1;
    } while (after && pages < 20);
    const shown = ids.slice(0, 100);
    const list = await Promise.all(shown.map(async (ext) => {
      try {
        const u = await api('GET', '/v1/users/' + enc(ext));
        const m = ((u.desired || {}).organizations || []).find((x) => x.external_id === o.external_id);
        return { external_id: ext, roles: m ? m.roles || [] : [] };
      } catch (e) {
        return { external_id: ext, roles: [] };
      }
    }));
    const note = after || ids.length > shown.length ?
      'Showing the first ' + list.length + ' members found.' : null;
    return { list, note };
  }

  async function renderOrgEdit(view, ext) {
    const o = await api('GET', '/v1/organizations/' + enc(ext));
    renderOrgForm(view, o);
  }

  function renderOrgForm(view, existing) {
    const d = (existing && existing.desired) || {};
    const branding = d.branding || {};
    const colors = branding.colors || {};
    view.appendChild(h('h1', {}, existing ? 'Edit organization ' + existing.external_id : 'New organization'));
    const metadata = rowsEditor('metadata', [{ name: 'key', label: 'key' }, { name: 'value', label: 'value' }],
      Object.entries(d.metadata || {}).map(([key, value]) => ({ key, value })));
    const connections = rowsEditor('connections', [
      { name: 'name', label: 'connection name' },
      { name: 'assign_membership_on_login', label: 'assign membership on login', type: 'checkbox' },
      { name: 'show_as_button', label: 'show as button', type: 'checkbox' },
    ], d.connections || []);
    const callbacks = h('textarea', { name: 'callback_urls', placeholder: 'https://app.example.com/callback (one per line)' });
    callbacks.value = (d.callback_urls || []).join('\n');
    const form = h('form', { id: 'org-form', class: 'card' },
      h('div', { class: 'form-grid' },
        textField('External id', 'external_id', existing ? existing.external_id : '',
          { readOnly: !!existing, required: true }),
        textField('Name (a-z 0-9 _ -)', 'name', d.name, { required: !existing }),
        textField('Display name', 'display_name', d.display_name),
        textField('Logo URL', 'logo_url', branding.logo_url),
        textField('Primary color', 'primary', colors.primary, { placeholder: '#1f4e79' }),
        textField('Page background', 'page_background', colors.page_background, { placeholder: '#ffffff' })),
      h('h3', {}, 'Metadata'), metadata,
      h('h3', {}, 'Connections'), connections,
      h('h3', {}, 'Callback URLs'), callbacks,
      h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'org-save' }, existing ? 'Save' : 'Create'),
        h('a', { href: existing ? '#/org/' + enc(existing.external_id) : '#/orgs' }, 'Cancel')));
    form.addEventListener('submit', action(async () => {
      const f = form.elements;
      const ext = f.external_id.value.trim();
      const data = { external_id: ext };
      const text = (name, before) => {
        const v = f[name].value.trim();
        if (!existing) {
          if (v) data[name] = v;
        } else if (v !== (before || '')) {
          data[name] = v || null;
        }
      };
      text('name', d.name);
      text('display_name', d.display_name);
      const newBranding = {
        logo_url: f.logo_url.value.trim() || null,
        colors: f.primary.value.trim() || f.page_background.value.trim() ?
          { primary: f.primary.value.trim(), page_background: f.page_background.value.trim() } : null,
      };
      const oldBranding = { logo_url: branding.logo_url || null, colors: branding.colors || null };
      if (!same(newBranding, oldBranding)) data.branding = newBranding;
      const meta = metadataChange(metadata.readRows(), d.metadata || {});
      if (Object.keys(meta).length) data.metadata = meta;
      const conns = connections.readRows().filter((c) => c.name);
      if (!same(conns, d.connections || [])) data.connections = conns;
      const urls = callbacks.value.split('\n').map((u) => u.trim()).filter((u) => u);
      if (!same(urls, d.callback_urls || [])) data.callback_urls = urls;
      if (existing && Object.keys(data).length === 1) throw new ApiError(400, 'nothing changed');
      await submitChange('organization.upserted', data);
      location.hash = '#/org/' + enc(ext);
    }));
    view.appendChild(form);
  }

  // ---------------------------------------------------------------------------------------------
  // Users.

  async function renderUsers(view, query) {
    view.appendChild(h('h1', {}, 'Users'));
    const q = h('input', { type: 'search', name: 'q', value: query.get('q') || '',
      placeholder: 'external id or email' });
    const form = h('form', { class: 'filters' }, h('label', {}, 'Search', q),
      h('button', { type: 'submit' }, 'Search'),
      can('change') ? h('a', { href: '#/users/new', id: 'new-user' }, 'New user') : null);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      location.hash = '#/users' + (q.value.trim() ? '?q=' + enc(q.value.trim()) : '');
    });
    view.appendChild(form);
    const params = new URLSearchParams();
    if (query.get('q')) params.set('q', query.get('q'));
    if (query.get('after')) params.set('after', query.get('after'));
    params.set('limit', '50');
    const r = await api('GET', '/v1/users?' + params);
    const rows = (r.users || []).map((u) => h('tr', {},
      h('td', {}, h('a', { href: '#/user/' + enc(u.external_id) }, u.external_id)),
      h('td', {}, u.email || '—'), h('td', {}, u.name || '—'),
      h('td', {}, (u.organizations || []).join(', ')),
      h('td', {}, [u.deleted ? 'deleted' : null, u.left ? 'left' : null, u.blocked ? 'blocked' : null]
        .filter((x) => x).join(', ')),
      h('td', {}, u.auth0_id || '—'), h('td', {}, convergedBadge(u))));
    view.appendChild(table(['external id', 'email', 'name', 'organizations', 'status', 'Auth0 id', 'in Auth0'], rows,
      { name: 'users', empty: 'no users match' }));
    pager(view, '#/users', query, r.next_after);
  }

  async function renderUser(view, ext, generation) {
    const u = await loadEntity(view, '/v1/users/' + enc(ext) + '?logs=true', 'user', generation, 0);
    if (!u) return;
    clear(view);
    const d = u.desired || {};
    watchUntilCreated(u, generation);
    view.appendChild(h('h1', {}, 'User ' + u.external_id));
    view.appendChild(kv([
      ['Auth0 id', u.auth0_id || 'not created yet'], ['email', d.email || '—'],
      ['name', d.name || '—'], ['blocked', d.blocked ? 'yes' : 'no'],
      ['waiting', u.waiting || '—'],
    ]));
    const bar = h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', id: 'refresh', onclick: () => route() }, 'Refresh'));
    if (can('change')) {
      const reason = h('input', { type: 'text', name: 'reason', placeholder: 'reason (optional)', id: 'block-reason' });
      const simple = (id, label, type, confirmText, extra) => h('button', { id, class: 'secondary',
        onclick: action(async () => {
          if (confirmText && !confirm(confirmText)) return;
          await submitChange(type, Object.assign({ external_id: u.external_id }, extra ? extra() : {}));
        }) }, label);
      append(bar, [
        h('a', { href: '#/user/' + enc(u.external_id) + '/edit', id: 'edit-user' }, 'Edit'),
        simple('send-reset', 'Send password-reset email', 'user.password_reset_requested',
          'Send ' + (d.email || 'the user') + ' an email with a link to choose a new password?'),
        simple('send-verification', 'Resend verification email', 'user.verification_email_requested', null),
        d.blocked ? simple('unblock', 'Unblock', 'user.unblocked', null, () =>
          (reason.value.trim() ? { reason: reason.value.trim() } : {})) :
          [reason, simple('block', 'Block', 'user.blocked',
            'Block ' + u.external_id + '? They can no longer log in.', () =>
              (reason.value.trim() ? { reason: reason.value.trim() } : {}))],
      ]);
    }
    view.appendChild(bar);
    const grid = h('div', { class: 'grid' });
    grid.appendChild(h('section', { class: 'card wide' }, h('h2', {}, 'Desired vs last known in Auth0'),
      compareTable(d, u.last_known_auth0)));
    grid.appendChild(card('Memberships', table(['organization', 'roles'],
      (d.organizations || []).map((m) => h('tr', {},
        h('td', {}, h('a', { href: '#/org/' + enc(m.external_id) }, m.external_id)),
        h('td', {}, (m.roles || []).join(', ') || '—'))), { name: 'memberships', empty: 'no memberships' })));
    grid.appendChild(card('Emails', table(['kind', 'state', 'event', 'error'],
      (u.commands || []).map((c) => h('tr', {}, h('td', {}, c.kind), h('td', {}, stateBadge(c.state)),
        h('td', {}, eventLink(c.event)), h('td', {}, c.error || ''))), { name: 'commands', empty: 'none sent' })));
    if ((u.membership_problems || []).length) {
      grid.appendChild(h('section', { class: 'card wide alert' }, h('h2', {}, 'Membership problems'),
        table(['id', 'entity', 'kind', 'state', 'error', 'request', 'updated'],
          u.membership_problems.map((m) => mutationRow(m, false)))));
    }
    grid.appendChild(h('section', { class: 'card wide' }, h('h2', {}, 'Auth0 activity'), activityTable(u.auth0_logs)));
    for (const c of historyCards(u)) grid.appendChild(c);
    view.appendChild(grid);
  }

  function activityTable(logs) {
    if (logs === null || logs === undefined) {
      return h('p', { class: 'muted', id: 'activity-none' }, 'No Auth0 account yet (or a dry run): no activity to show.');
    }
    if (!Array.isArray(logs)) {
      return h('p', { id: 'activity-error' }, 'Auth0 did not give the activity log: ' + (logs.error || fmtValue(logs)));
    }
    return table(['date', 'event', 'description', 'IP', 'application'], logs.map((l) => h('tr', {},
      h('td', {}, l.date ? String(l.date).replace('T', ' ') : '—'),
      h('td', {}, String(l.type || '') + (LOG_TYPES[l.type] ? ' ' + LOG_TYPES[l.type] : '')),
      h('td', {}, l.description || ''), h('td', {}, l.ip || ''),
      h('td', {}, l.client_name || l.client_id || ''))), { name: 'activity', empty: 'no log events for this user' });
  }

  async function renderUserEdit(view, ext) {
    const u = await api('GET', '/v1/users/' + enc(ext));
    renderUserForm(view, u);
  }

  function renderUserForm(view, existing) {
    const d = (existing && existing.desired) || {};
    view.appendChild(h('h1', {}, existing ? 'Edit user ' + existing.external_id : 'New user'));
    view.appendChild(h('p', { class: 'muted' }, 'There is no password here: a new user gets a random ' +
      'password nobody knows; send a password-reset email so they choose their own.'));
    const orgList = h('datalist', { id: 'org-choices' },
      (session.me.organizations || []).map((o) => h('option', { value: o })));
    const kvRows = (obj) => Object.entries(obj || {}).map(([key, value]) =>
      ({ key, value: typeof value === 'string' ? value : JSON.stringify(value) }));
    const appMeta = rowsEditor('app_metadata', [{ name: 'key', label: 'key' }, { name: 'value', label: 'value' }], kvRows(d.app_metadata));
    const userMeta = rowsEditor('user_metadata', [{ name: 'key', label: 'key' }, { name: 'value', label: 'value' }], kvRows(d.user_metadata));
    const memberships = rowsEditor('organizations', [
      { name: 'external_id', label: 'organization (external id)', list: 'org-choices' },
      { name: 'roles', label: 'roles (comma separated)' },
    ], (d.organizations || []).map((m) => ({ external_id: m.external_id, roles: (m.roles || []).join(', ') })));
    const verified = h('input', { type: 'checkbox', name: 'email_verified', checked: !!d.email_verified });
    const form = h('form', { id: 'user-form', class: 'card' }, orgList,
      h('div', { class: 'form-grid' },
        textField('External id', 'external_id', existing ? existing.external_id : '',
          { readOnly: !!existing, required: true }),
        textField('Email', 'email', d.email, { type: 'email', required: !existing }),
        h('label', { class: 'check' }, verified, 'email verified'),
        textField('Name', 'name', d.name),
        textField('Given name', 'given_name', d.given_name),
        textField('Family name', 'family_name', d.family_name),
        textField('Nickname', 'nickname', d.nickname),
        textField('Picture URL', 'picture', d.picture)),
      h('h3', {}, 'Organizations and roles (the complete list)'), memberships,
      h('h3', {}, 'app_metadata'), appMeta,
      h('h3', {}, 'user_metadata'), userMeta,
      h('p', { class: 'note' }, 'Metadata values are strings; a value written as JSON ({…}, […], true, 3) is sent as that JSON.'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'user-save' }, existing ? 'Save' : 'Create'),
        h('a', { href: existing ? '#/user/' + enc(existing.external_id) : '#/users' }, 'Cancel')));
    form.addEventListener('submit', action(async () => {
      const f = form.elements;
      const ext = f.external_id.value.trim();
      const data = { external_id: ext };
      for (const name of ['email', 'name', 'given_name', 'family_name', 'nickname', 'picture']) {
        const v = f[name].value.trim();
        if (!existing) {
          if (v) data[name] = v;
        } else if (v !== (d[name] || '')) {
          data[name] = v || null;
        }
      }
      if (!existing ? verified.checked : verified.checked !== !!d.email_verified) data.email_verified = verified.checked;
      const parse = (rows) => rows.map((r) => {
        if (/^[[{]|^(true|false|null|-?\d+(\.\d+)?)$/.test(r.value)) {
          try {
            return { key: r.key, value: JSON.parse(r.value) };
          } catch (e) { /* not JSON: a string */ }
        }
        return r;
      });
      const change = (rows, before) => {
        const out = {};
        const seen = new Set();
        for (const r of parse(rows)) {
          if (!r.key) continue;
          seen.add(r.key);
          if (!same(before[r.key], r.value)) out[r.key] = r.value;
        }
        for (const key of Object.keys(before)) if (!seen.has(key)) out[key] = null;
        return out;
      };
      const am = change(appMeta.readRows(), d.app_metadata || {});
      if (Object.keys(am).length) data.app_metadata = am;
      const um = change(userMeta.readRows(), d.user_metadata || {});
      if (Object.keys(um).length) data.user_metadata = um;
      const orgs = memberships.readRows().filter((m) => m.external_id).map((m) => ({
        external_id: m.external_id,
        roles: m.roles.split(',').map((r) => r.trim()).filter((r) => r),
      }));
      const before = (d.organizations || []).map((m) => ({ external_id: m.external_id, roles: m.roles || [] }));
      if (!existing ? orgs.length : !same(orgs, before)) data.organizations = orgs;
      if (existing && Object.keys(data).length === 1) throw new ApiError(400, 'nothing changed');
      await submitChange('user.upserted', data);
      location.hash = '#/user/' + enc(ext);
    }));
    view.appendChild(form);
  }

  // ---------------------------------------------------------------------------------------------
  // Start.

  async function start() {
    document.getElementById('sign-out').addEventListener('click', action(signOut));
    window.addEventListener('hashchange', () => {
      clearFlashOnNavigate();
      route();
    });
    try {
      const me = await api('GET', '/v1/whoami');
      signedIn(me);
      route();
    } catch (e) {
      signedOut(e instanceof ApiError && e.status !== 401 ? e.message : null);
    }
  }

  function clearFlashOnNavigate() {
    flashPages -= 1;
    if (flashPages <= 0) clearFlash();
  }

  document.addEventListener('DOMContentLoaded', start);
})();
