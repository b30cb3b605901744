// matthan web UI: login, plate search (with a reason), passage detail + clip player and the
// evidence package, counts chart (and CSV), camera list, live watchlist alerts, the station
// key's fingerprint; for admins the watchlist and the audit log.
// Plain ES2020, no framework. All data goes into the DOM through textContent / attributes only.
'use strict';

const TZ = 'Asia/Ho_Chi_Minh';
const ICT_OFFSET_MS = 7 * 3600 * 1000; // Vietnam has no daylight-saving time
const PAGE_SIZE = 50;
const CLASSES = ['motorbike', 'car', 'truck', 'bus', 'van', 'tuktuk', 'other'];
const CLASS_COLOURS = {
  motorbike: '#1f77b4', car: '#ff7f0e', truck: '#2ca02c', bus: '#d62728',
  van: '#9467bd', tuktuk: '#8c564b', other: '#7f7f7f',
};
const DIRECTIONS = { along: 'along / xuôi', against: 'against / ngược', unknown: 'unknown' };

const $ = (sel) => document.querySelector(sel);

// ---------- time helpers ----------
const fmtDateTime = new Intl.DateTimeFormat('en-GB', {
  timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});
const fmtTime = new Intl.DateTimeFormat('en-GB', {
  timeZone: TZ, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});
const fmtDayHour = new Intl.DateTimeFormat('en-GB', {
  timeZone: TZ, day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});
const fmtDay = new Intl.DateTimeFormat('en-GB', {
  timeZone: TZ, day: '2-digit', month: '2-digit', year: 'numeric',
});

function fmt(formatter, iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : formatter.format(d);
}

// datetime-local value (ICT wall clock) -> RFC 3339 with +07:00, '' when empty.
function localToRfc(v) {
  if (!v) return '';
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v)) v += ':00';
  return v + '+07:00';
}

// Instant (ms since epoch) -> datetime-local value in ICT.
function msToLocal(ms) {
  return new Date(ms + ICT_OFFSET_MS).toISOString().slice(0, 19);
}

// Instant -> RFC 3339 UTC 'Z', no milliseconds when they are zero.
function msToUtc(ms) {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

// ---------- fetch helper ----------
// The session is an HttpOnly cookie set by the login: images, video and the alert stream
// carry it too. A 401 anywhere means the session is over: back to the login form.
async function api(url, method, payload) {
  let res;
  try {
    const opts = { method: method || 'GET', headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    if (payload !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(payload);
    }
    res = await fetch(url, opts);
  } catch (e) {
    throw new Error('Network error / Lỗi mạng: ' + (e && e.message ? e.message : e));
  }
  if (res.status === 401 && !url.startsWith('api/login')) showLogin('Please log in / Vui lòng đăng nhập');
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
  if (!res.ok) {
    if (body && body.error) {
      throw new Error(String(body.error) + (body.detail ? ': ' + String(body.detail) : ''));
    }
    throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
  }
  if (body === null || typeof body !== 'object') throw new Error('Invalid response from server');
  return body;
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  }
  return u.toString();
}

// ---------- small DOM helpers ----------
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v);
    }
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function setStatus(node, msg, isError) {
  node.textContent = msg;
  node.classList.toggle('error', !!isError);
}

function fillSelect(select, items, keepFirst) {
  while (select.options.length > (keepFirst ? 1 : 0)) select.remove(select.options.length - 1);
  for (const it of items) select.append(el('option', { value: it.value, text: it.label }));
}

const pct = (c) => (c === null || c === undefined ? '—' : Math.round(c * 100) + '%');
const plateText = (p) => p.plate_display || p.plate_key || null;
// A passage whose reads were all pieces of a plate has no plate, only this partial read.
const partialText = (p) => (p.partial_plate ? `partial / một phần: ${p.partial_plate}` : null);
// A passage whose track broke and was continued by its plate went unseen in its gaps.
const gapsOf = (p) => (Array.isArray(p.gaps) ? p.gaps : []);
function unseenText(p) {
  const gaps = gapsOf(p);
  if (!gaps.length) return null;
  const ms = gaps.reduce((t, g) => t + Math.max(0, Date.parse(g.to) - Date.parse(g.from) || 0), 0);
  const s = (ms / 1000).toFixed(1);
  const vi = s.replace('.', ',');
  const [en, vn] = gaps.length > 1
    ? [`${s} s in ${gaps.length} gaps`, `${vi} giây qua ${gaps.length} lần`]
    : [`${s} s`, `${vi} giây`];
  return `${en} inside this passage (track rejoined by its plate) / ${vn} trong lượt này (nối lại theo biển số)`;
}

// A passage logged by a re-read of the recordings (`matthan reread`) names its analysis run;
// the live analysis' passages have none.
const runText = (r) => `re-read (run ${r.id}) / đọc lại (đợt ${r.id})`;
function runDetail(p) {
  const r = p.run;
  if (!r) return 'live / trực tiếp';
  return `${runText(r)}, model ${r.model_version}, ${fmt(fmtDateTime, r.started_at)}`;
}

// ---------- plate search ----------
const search = { params: null, cursor: null, count: 0, seq: 0 };
let modeTouched = false;

function autoMode() {
  // Mirror the server's default: wildcard when the plate has * or ?, else fuzzy.
  if (modeTouched) return;
  $('#mode').value = /[*?]/.test($('#plate').value) ? 'wildcard' : 'fuzzy';
}

function searchParamsFromForm() {
  const plate = $('#plate').value.trim();
  return {
    plate,
    reason: plate ? $('#reason').value.trim() : '',
    mode: plate ? $('#mode').value : '',
    camera: $('#camera').value,
    class: $('#class').value,
    from: localToRfc($('#from').value),
    to: localToRfc($('#to').value),
    limit: PAGE_SIZE,
  };
}

async function runSearch(append) {
  const status = $('#status');
  const tbody = $('#results tbody');
  if (!append) {
    search.params = searchParamsFromForm();
    search.cursor = null;
    search.count = 0;
    tbody.replaceChildren();
    updateUrl(search.params);
  }
  const seq = ++search.seq;
  const params = Object.assign({}, search.params, append ? { cursor: search.cursor } : {});
  $('#more').hidden = true;
  $('#search-btn').disabled = true;
  setStatus(status, 'Searching… / Đang tìm…');
  try {
    const data = await api('api/passages?' + qs(params));
    if (seq !== search.seq) return; // a newer search superseded this one
    const items = Array.isArray(data.items) ? data.items : [];
    for (const p of items) tbody.append(passageRow(p));
    search.count += items.length;
    search.cursor = data.next_cursor || null;
    $('#more').hidden = !search.cursor;
    if (search.count === 0) setStatus(status, 'No passages found / Không tìm thấy');
    else setStatus(status, `${search.count} result${search.count === 1 ? '' : 's'}` +
      (search.cursor ? ' (more available / còn nữa)' : ''));
  } catch (e) {
    if (seq !== search.seq) return;
    setStatus(status, e.message, true);
    $('#more').hidden = !search.cursor;
  } finally {
    if (seq === search.seq) $('#search-btn').disabled = false;
  }
}

function updateUrl(p) {
  const q = qs({ plate: p.plate, mode: p.mode, camera: p.camera, class: p.class });
  const url = location.pathname + (q ? '?' + q : '');
  try { history.replaceState(null, '', url); } catch (_) { /* file:// etc. */ }
}

function thumbCell(p) {
  if (!p.snapshot_url) return el('td', { text: '—' });
  const img = el('img', { class: 'thumb', loading: 'lazy', alt: plateText(p) || partialText(p) || 'snapshot' });
  img.addEventListener('load', () => { img.dataset.loaded = '1'; });
  img.addEventListener('error', () => { img.dataset.loaded = '0'; img.classList.add('broken'); });
  img.src = p.snapshot_url;
  return el('td', null, img);
}

function plateCell(p) {
  const text = plateText(p);
  const partial = text ? null : partialText(p);
  const td = el('td', null, text
    ? el('span', { class: 'plate', text })
    : el('span', { class: partial ? 'plate partial' : 'plate none', text: partial || 'no plate / không đọc được',
      title: partial ? 'only a piece of the plate was read; not a plate key / chỉ đọc được một phần biển số' : null }));
  if (text && p.is_vietnamese === false) td.append(el('span', { class: 'flag', text: 'non-VN' }));
  if (p.run) {
    td.append(el('span', { class: 'run', text: runText(p.run),
      title: `model ${p.run.model_version} / mô hình ${p.run.model_version}` }));
  }
  const m = p.match;
  if (m && m.plate_key && (m.rank !== 1 || m.plate_key !== p.plate_key)) {
    td.append(el('span', { class: 'matched', text: `matched ${m.plate_key} (cand. #${m.rank}, dist ${m.distance})` }));
  }
  return td;
}

function passageRow(p) {
  const tr = el('tr', { class: 'passage', dataset: { id: String(p.id), plate: p.plate_key || '' } },
    thumbCell(p),
    plateCell(p),
    el('td', { class: 'time', title: fmt(fmtDateTime, p.best_at) },
      el('span', { class: 'd', text: fmt(fmtDay, p.best_at) }), el('span', { class: 't', text: fmt(fmtTime, p.best_at) })),
    el('td', { text: p.camera || '—' }),
    el('td', { text: p.junction || '—' }),
    el('td', { text: p.vehicle_class || '—' }),
    el('td', { text: p.direction || '—' }),
    el('td', { class: 'num', text: pct(p.plate_confidence) }));
  tr.addEventListener('click', () => openDetail(p.id, p.match, tr));
  return tr;
}

// ---------- passage detail / clip player ----------
let detailSeq = 0;

function closeDetail() {
  detailSeq++;
  const player = $('#player');
  player.pause();
  player.removeAttribute('src');
  player.load();
  $('#detail').hidden = true;
  $('#main').classList.remove('with-detail');
  for (const r of document.querySelectorAll('tr.passage.selected')) r.classList.remove('selected');
}

async function openDetail(id, match, row) {
  const seq = ++detailSeq;
  for (const r of document.querySelectorAll('tr.passage.selected')) r.classList.remove('selected');
  if (row) row.classList.add('selected');
  try {
    const p = await api('api/passages/' + encodeURIComponent(id));
    if (seq !== detailSeq) return;
    renderDetail(p, match);
  } catch (e) {
    if (seq !== detailSeq) return;
    setStatus($('#status'), `Passage ${id}: ${e.message}`, true);
  }
}

function renderDetail(p, match) {
  $('#detail').hidden = false;
  $('#main').classList.add('with-detail');
  $('#detail-title').textContent = plateText(p) || partialText(p) || `Passage #${p.id}`;

  const snap = $('#detail-snap');
  snap.replaceChildren(p.snapshot_url
    ? el('img', { src: p.snapshot_url, alt: 'snapshot ' + (plateText(p) || p.id) })
    : el('p', { class: 'muted', text: 'no snapshot / không có ảnh' }));

  const crossed = p.crossed_line === true ? 'yes' : p.crossed_line === false ? 'no' : '—';
  const fields = [
    ['ID', p.id], ['Plate key', p.plate_key || '—'], ['Plate conf.', pct(p.plate_confidence)],
    ...(p.partial_plate ? [['Partial read / Đọc một phần', `${p.partial_plate} (${pct(p.partial_confidence)})`]] : []),
    ['Vietnamese', p.is_vietnamese === true ? 'yes' : p.is_vietnamese === false ? 'no' : '—'],
    ['Camera', p.camera || '—'], ['Junction', p.junction || '—'], ['Class', p.vehicle_class || '—'],
    ['Direction', DIRECTIONS[p.direction] || p.direction || '—'], ['Crossed line', crossed],
    ['Best frame', fmt(fmtDateTime, p.best_at)], ['First seen', fmt(fmtDateTime, p.first_seen)],
    ['Last seen', fmt(fmtDateTime, p.last_seen)],
    ['Analysis / Phân tích', runDetail(p)],
    ...(gapsOf(p).length ? [['Unseen / Khuất', unseenText(p)],
      ['Unseen at / Lúc khuất', gapsOf(p).map((g) => `${fmt(fmtTime, g.from)}–${fmt(fmtTime, g.to)}`).join(', ')]] : []),
  ];
  $('#detail-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v) })]));

  const cands = Array.isArray(p.candidates) ? p.candidates : [];
  const ctb = $('#detail-candidates tbody');
  ctb.replaceChildren(...cands.map((c) => el('tr', { class: match && match.plate_key === c.plate_key ? 'hit' : null },
    el('td', { text: String(c.rank) }),
    el('td', { class: 'mono', text: c.plate_key || '—' }),
    el('td', { class: 'num', text: pct(c.confidence) }))));
  if (!cands.length) ctb.append(el('tr', null, el('td', { colspan: '3', class: 'muted', text: 'none' })));

  const player = $('#player');
  const info = $('#clip-info');
  player.pause();
  if (p.clip && p.clip.url) {
    player.dataset.offset = String((p.clip.offset_ms || 0) / 1000);
    player.hidden = false;
    player.src = p.clip.url;
    const sha = p.clip.sha256 ? String(p.clip.sha256).slice(0, 12) + '…' : 'unknown';
    info.textContent = `clip from ${fmt(fmtTime, p.clip.started_at)} (segment sha256 ${sha})`;
  } else {
    player.removeAttribute('src');
    player.load();
    player.hidden = true;
    info.textContent = 'no clip recorded / không có video';
  }

  const trace = $('#detail-corridor');
  trace.hidden = !p.plate_key;
  trace.onclick = () => showCorridor(p.plate_key);

  const exp = $('#export');
  const best = Date.parse(p.best_at);
  const canClips = ROLES.indexOf(me.role) >= ROLES.indexOf('investigator');
  $('#clip-role').hidden = canClips;
  if (!canClips) { player.removeAttribute('src'); player.hidden = true; info.textContent = ''; }
  if (canClips && p.camera && !Number.isNaN(best)) {
    exp.dataset.query = qs({ camera: p.camera, from: msToUtc(best - 30000), to: msToUtc(best + 30000) });
    exp.href = '#';
    exp.hidden = false;
  } else {
    exp.hidden = true;
  }
  const evidence = $('#evidence');
  evidence.dataset.id = String(p.id);
  evidence.hidden = !canClips;
}

function onPlayerMetadata() {
  const player = $('#player');
  const t = Number(player.dataset.offset || 0);
  if (t > 0 && Number.isFinite(t)) {
    player.currentTime = Number.isFinite(player.duration) ? Math.min(t, player.duration) : t;
  }
}

// ---------- counts ----------
let countsSeq = 0;

function setCountsRange(fromMs, toMs) {
  $('#counts-from').value = msToLocal(fromMs);
  $('#counts-to').value = msToLocal(toMs);
}

async function runCounts() {
  const status = $('#counts-status');
  const junction = $('#junction').value;
  if (!junction) { setStatus(status, 'No junction selected / Chưa chọn nút giao', true); return; }
  const seq = ++countsSeq;
  const bucket = $('#bucket').value;
  setStatus(status, 'Loading… / Đang tải…');
  try {
    const data = await api('api/counts?' + qs({
      junction, bucket, from: localToRfc($('#counts-from').value), to: localToRfc($('#counts-to').value),
    }));
    if (seq !== countsSeq) return;
    renderCounts(Array.isArray(data.rows) ? data.rows : [], data.bucket || bucket);
    if (data.bucket_requested) {
      $('#bucket').value = data.bucket;
      status.textContent += ` — ${data.bucket_requested} buckets would be too many for this window: ` +
        `shown per ${data.bucket} / khoảng quá nhỏ, hiển thị theo ${data.bucket}`;
    }
  } catch (e) {
    if (seq !== countsSeq) return;
    renderCounts([], bucket);
    setStatus(status, e.message, true);
  }
}

// The same counts as a CSV file to hand in.
function downloadCountsCsv() {
  const junction = $('#junction').value;
  if (!junction) { setStatus($('#counts-status'), 'No junction selected / Chưa chọn nút giao', true); return; }
  const a = el('a', {
    href: 'api/counts?' + qs({
      junction, bucket: $('#bucket').value, format: 'csv',
      from: localToRfc($('#counts-from').value), to: localToRfc($('#counts-to').value),
    }),
    download: '',
  });
  document.body.append(a);
  a.click();
  a.remove();
}

function bucketLabel(iso, bucket) {
  return bucket === '1d' || bucket === '1w' ? fmt(fmtDay, iso) : fmt(fmtDayHour, iso);
}

function renderCounts(rows, bucket) {
  const chart = $('#counts-chart');
  const tbody = $('#counts-table tbody');
  chart.replaceChildren();
  tbody.replaceChildren();
  const total = rows.reduce((s, r) => s + (Number(r.count) || 0), 0);
  if (!rows.length || total === 0) {
    setStatus($('#counts-status'), 'No vehicles counted / Không có xe nào');
    return;
  }
  setStatus($('#counts-status'), `${total} vehicle${total === 1 ? '' : 's'} in ${new Set(rows.map((r) => r.bucket_start)).size} bucket(s)`);

  const sorted = rows.slice().sort((a, b) => Date.parse(a.bucket_start) - Date.parse(b.bucket_start) ||
    CLASSES.indexOf(a.vehicle_class) - CLASSES.indexOf(b.vehicle_class) ||
    String(a.direction).localeCompare(String(b.direction)));
  for (const r of sorted) {
    tbody.append(el('tr', null,
      el('td', { class: 'time', text: bucketLabel(r.bucket_start, bucket) }),
      el('td', { text: r.vehicle_class || '—' }),
      el('td', { text: r.direction || '—' }),
      el('td', { class: 'num', text: String(r.count) })));
  }
  chart.append(barChart(sorted, bucket));
}

function barChart(rows, bucket) {
  // Aggregate per bucket and class (directions summed).
  const buckets = new Map();
  for (const r of rows) {
    const cls = CLASS_COLOURS[r.vehicle_class] ? r.vehicle_class : 'other';
    if (!buckets.has(r.bucket_start)) buckets.set(r.bucket_start, {});
    const b = buckets.get(r.bucket_start);
    b[cls] = (b[cls] || 0) + (Number(r.count) || 0);
  }
  const keys = [...buckets.keys()];
  const totals = keys.map((k) => Object.values(buckets.get(k)).reduce((s, n) => s + n, 0));
  const { step, max } = niceScale(Math.max(1, ...totals));

  const W = 760, H = 230, L = 40, R = 8, T = 10, B = 34;
  const pw = W - L - R, ph = H - T - B;
  const slot = pw / keys.length;
  const bw = Math.max(1, Math.min(48, slot * 0.8));
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  const mk = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Vehicle counts per bucket, stacked by class');

  for (let v = 0; v <= max; v += step) {
    const y = T + ph - (v / max) * ph;
    svg.append(mk('line', { x1: L, x2: W - R, y1: y, y2: y, stroke: v ? '#e3e7ec' : '#9aa8b8' }));
    svg.append(mk('text', { x: L - 4, y: y + 3, 'text-anchor': 'end' }, String(v)));
  }
  const labelEvery = Math.max(1, Math.ceil(keys.length / 8));
  keys.forEach((k, i) => {
    const x = L + i * slot + (slot - bw) / 2;
    let y = T + ph;
    const b = buckets.get(k);
    const label = bucketLabel(k, bucket);
    for (const cls of CLASSES) {
      const n = b[cls];
      if (!n) continue;
      const h = (n / max) * ph;
      y -= h;
      const rect = mk('rect', { x: x.toFixed(2), y: y.toFixed(2), width: bw.toFixed(2), height: h.toFixed(2), fill: CLASS_COLOURS[cls] });
      rect.append(mk('title', {}, `${label} · ${cls}: ${n}`));
      svg.append(rect);
    }
    if (i % labelEvery === 0) {
      svg.append(mk('text', { x: (L + i * slot + slot / 2).toFixed(2), y: H - B + 14, 'text-anchor': 'middle' }, label));
    }
  });
  return svg;
}

function niceScale(v) {
  // Round tick step (1, 2 or 5 × 10^k) giving about four gridlines; integers only.
  const raw = Math.max(1, v / 4);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((x) => x >= raw);
  return { step, max: Math.max(step, Math.ceil(v / step) * step) };
}

function renderLegend() {
  $('#counts-legend').replaceChildren(...CLASSES.map((c) =>
    el('span', null, el('span', { class: 'sw', style: `background:${CLASS_COLOURS[c]}` }), c)));
}

// ---------- cameras & junctions ----------
async function loadCameras(reportInStatus) {
  const status = $('#cameras-status');
  try {
    const data = await api('api/cameras');
    const items = Array.isArray(data.items) ? data.items : [];
    const sel = $('#camera');
    const keep = sel.value;
    fillSelect(sel, items.map((c) => ({ value: c.name, label: c.name + (c.junction ? ' — ' + c.junction : '') })), true);
    if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
    $('#cameras-list').replaceChildren(...items.map((c) => el('li', null,
      el('span', { class: 'name', text: c.name }),
      el('span', { class: 'badge ' + (['recording', 'offline', 'never'].includes(c.status) ? c.status : ''), text: c.status || '?' }),
      el('span', { class: 'sub', text: `${c.junction || 'no junction'}${c.enabled === false ? ' · disabled' : ''}` +
        ` · last clip ${fmt(fmtDateTime, c.last_clip_at)} · ${c.passages_24h ?? 0} passages in 24 h` }))));
    setStatus(status, items.length ? '' : 'No cameras configured / Chưa có camera');
  } catch (e) {
    setStatus(status, e.message, true);
    if (reportInStatus === true) setStatus($('#status'), 'Cameras: ' + e.message, true);
  }
}

async function loadJunctions() {
  try {
    const data = await api('api/junctions');
    const items = Array.isArray(data.items) ? data.items : [];
    fillSelect($('#junction'), items.map((j) => ({
      value: j.name, label: j.name + (j.km_marker !== null && j.km_marker !== undefined ? ` (Km ${j.km_marker})` : ''),
    })), false);
    $('#counts-btn').disabled = items.length === 0;
    if (!items.length) setStatus($('#counts-status'), 'No junctions configured / Chưa có nút giao');
    return items.length > 0;
  } catch (e) {
    setStatus($('#counts-status'), 'Junctions: ' + e.message, true);
    return false;
  }
}

async function checkHealth() {
  const badge = $('#health');
  try {
    const res = await fetch('healthz', { headers: { Accept: 'application/json' } });
    const body = await res.json().catch(() => ({}));
    const ok = res.ok && body.database === 'ok';
    badge.textContent = ok ? 'DB ok' : 'DB ' + (body.database || 'error');
    badge.className = 'badge ' + (ok ? 'ok' : 'down');
  } catch (_) {
    badge.textContent = 'server unreachable';
    badge.className = 'badge down';
  }
}

// ---------- session ----------
const ROLES = ['viewer', 'investigator', 'admin'];
let me = { name: null, role: null };
let alertSource = null;

function showLogin(msg) {
  if (alertSource) { alertSource.close(); alertSource = null; }
  me = { name: null, role: null };
  for (const id of ['#main', '#lower', '#admin', '#alerts-section', '#whoami', '#logout', '#station-key']) $(id).hidden = true;
  $('#login').hidden = false;
  if (msg) setStatus($('#login-status'), msg, false);
}

async function login(ev) {
  ev.preventDefault();
  setStatus($('#login-status'), 'Logging in… / Đang đăng nhập…');
  try {
    await api('api/login', 'POST', { name: $('#login-name').value.trim(), password: $('#login-password').value });
    $('#login-password').value = '';
    setStatus($('#login-status'), '');
    await start();
  } catch (e) {
    setStatus($('#login-status'), e.message, true);
  }
}

async function logout() {
  try { await api('api/logout', 'POST'); } catch (_) { /* already gone */ }
  showLogin('Logged out / Đã đăng xuất');
}

// Asks for the reason an export needs, then downloads it.
function exportClip(ev) {
  ev.preventDefault();
  const reason = (window.prompt('Reason for this export (case number) / Lý do xuất video:') || '').trim();
  if (!reason) return;
  window.location.href = 'api/clips/export?' + $('#export').dataset.query + '&' + qs({ reason });
}

// Asks for the reason an evidence package needs, then downloads it.
function exportEvidence(ev) {
  ev.preventDefault();
  const reason = (window.prompt('Reason for this evidence package (case number) / Lý do xuất gói chứng cứ:') || '').trim();
  if (!reason) return;
  window.location.href = 'api/passages/' + encodeURIComponent($('#evidence').dataset.id) + '/evidence?' + qs({ reason });
}

// The fingerprint of the key that signs this station's evidence packages.
async function loadStationKey() {
  try {
    const key = await api('api/evidence/key');
    $('#station-key-fp').textContent = String(key.fingerprint);
    $('#station-key-fp').title = String(key.public_key);
    $('#evidence').title = 'signed with station key / ký bằng khóa trạm ' + String(key.fingerprint);
    $('#station-key').hidden = false;
  } catch (_) {
    $('#station-key').hidden = true;
  }
}

// ---------- alerts ----------
function alertItem(a) {
  return el('li', { class: 'alert', dataset: { id: String(a.id), passage: String(a.passage_id) } },
    el('span', { class: 'plate', text: a.plate_key }),
    el('span', { text: ` ${fmt(fmtDateTime, a.best_at)} · ${a.camera} · ` }),
    el('span', { class: 'muted', text: `${a.pattern} (${a.mode}): ${a.reason}` }));
}

async function startAlerts() {
  const list = $('#alerts-list');
  try {
    const data = await api('api/alerts?limit=20');
    list.replaceChildren(...(data.items || []).map(alertItem));
  } catch (e) { list.replaceChildren(el('li', { class: 'muted', text: e.message })); }
  if (alertSource) alertSource.close();
  alertSource = new EventSource('api/alerts/stream');
  const badge = $('#alerts-live');
  alertSource.onopen = () => { badge.textContent = 'live'; badge.className = 'badge ok'; };
  alertSource.onerror = () => { badge.textContent = 'reconnecting'; badge.className = 'badge down'; };
  alertSource.addEventListener('alert', (ev) => {
    let a;
    try { a = JSON.parse(ev.data); } catch (_) { return; }
    if (list.querySelector(`li[data-id="${Number(a.id)}"]`)) return;
    const li = alertItem(a);
    li.classList.add('new');
    li.addEventListener('click', () => openDetail(a.passage_id, null, null));
    list.prepend(li);
  });
}

// ---------- admin: watchlist & audit ----------
async function loadWatchlist() {
  try {
    const data = await api('api/watchlist');
    $('#watch-table tbody').replaceChildren(...(data.items || []).map((w) => {
      const rm = el('button', { type: 'button', text: 'remove' });
      rm.addEventListener('click', async () => {
        try { await api('api/watchlist/' + encodeURIComponent(w.id), 'DELETE'); } catch (e) { setStatus($('#watch-status'), e.message, true); }
        loadWatchlist();
      });
      return el('tr', null, el('td', { class: 'mono', text: w.pattern }), el('td', { text: w.mode }),
        el('td', { text: w.reason }), el('td', { text: w.created_by }), el('td', { class: 'num', text: String(w.alerts) }),
        el('td', null, rm));
    }));
  } catch (e) { setStatus($('#watch-status'), e.message, true); }
}

async function addWatch(ev) {
  ev.preventDefault();
  try {
    await api('api/watchlist', 'POST', {
      pattern: $('#watch-pattern').value.trim(), mode: $('#watch-mode').value, reason: $('#watch-reason').value.trim(),
    });
    setStatus($('#watch-status'), 'Added / Đã thêm');
    $('#watch-pattern').value = '';
    loadWatchlist();
  } catch (e) { setStatus($('#watch-status'), e.message, true); }
}

async function loadAudit() {
  try {
    const data = await api('api/audit?limit=50');
    $('#audit-table tbody').replaceChildren(...(data.items || []).map((a) => el('tr', null,
      el('td', { text: fmt(fmtDateTime, a.at) }), el('td', { text: a.user || '—' }), el('td', { text: a.action }),
      el('td', { class: 'mono', text: new URLSearchParams(a.params || {}).toString() }),
      el('td', { text: a.reason || '' }), el('td', { class: 'num', text: String(a.status) }))));
  } catch (_) { /* shown by the next refresh */ }
}

// After a login (or with a live session): who am I, then the page for that role.
async function start() {
  try {
    me = await api('api/me');
  } catch (_) {
    return; // showLogin ran on the 401
  }
  $('#login').hidden = true;
  $('#whoami').textContent = `${me.name} (${me.role})`;
  for (const id of ['#main', '#lower', '#road', '#alerts-section', '#whoami', '#logout']) $(id).hidden = false;
  $('#companions-section').hidden = ROLES.indexOf(me.role) < ROLES.indexOf('investigator');
  $('#admin').hidden = me.role !== 'admin';
  startAlerts();
  loadStationKey();
  if (me.role === 'admin') { loadWatchlist(); loadAudit(); }
  const [, junctionsOk] = await Promise.all([loadCameras(true), loadJunctions()]);
  if (junctionsOk) runCounts();
}

// ---------- wiring ----------
async function init() {
  renderLegend();
  const now = Date.now();
  setCountsRange(now - 24 * 3600 * 1000, now);

  $('#search-form').addEventListener('submit', (ev) => { ev.preventDefault(); runSearch(false); });
  $('#more').addEventListener('click', () => runSearch(true));
  $('#plate').addEventListener('input', autoMode);
  $('#mode').addEventListener('change', () => { modeTouched = true; });
  $('#detail-close').addEventListener('click', closeDetail);
  $('#player').addEventListener('loadedmetadata', onPlayerMetadata);
  $('#counts-form').addEventListener('submit', (ev) => { ev.preventDefault(); runCounts(); });
  $('#counts-all').addEventListener('click', () => {
    $('#counts-from').value = '2000-01-01T00:00:00';
    $('#counts-to').value = msToLocal(Date.now());
    runCounts();
  });
  $('#counts-csv').addEventListener('click', downloadCountsCsv);
  $('#cameras-refresh').addEventListener('click', () => loadCameras(false));
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && !$('#detail').hidden) closeDetail(); });
  $('#login-form').addEventListener('submit', login);
  $('#logout').addEventListener('click', logout);
  $('#export').addEventListener('click', exportClip);
  $('#evidence').addEventListener('click', exportEvidence);
  $('#watch-form').addEventListener('submit', addWatch);
  $('#audit-refresh').addEventListener('click', loadAudit);

  checkHealth();
  setInterval(() => { if (me.role) loadCameras(false); checkHealth(); }, 60000);

  // Shared links: ?plate=...&mode=...(&camera=&class=) fill the form; a plate search needs the
  // reason of whoever runs it, so it waits for them to give one.
  const url = new URLSearchParams(location.search);
  if (url.has('plate')) {
    $('#plate').value = url.get('plate') || '';
    const mode = url.get('mode');
    if (mode && ['fuzzy', 'exact', 'wildcard'].includes(mode)) { $('#mode').value = mode; modeTouched = true; } else autoMode();
    const cls = url.get('class');
    if (cls && CLASSES.includes(cls)) $('#class').value = cls;
  }
  await start();
  if (me.role && url.get('camera')) $('#camera').value = url.get('camera');
  if (me.role && url.has('plate')) {
    setStatus($('#status'), 'Give a reason, then Search / Nhập lý do rồi bấm Tìm');
    $('#reason').focus();
  }
}

document.addEventListener('DOMContentLoaded', init);
