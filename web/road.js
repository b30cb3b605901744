// matthan web UI, the road as one picture: a plate's corridor as a time–distance chart (km up
// the side, time along the bottom, each point a passage that opens on click), its hops with
// travel times and flags, and the plates travelling with it. Uses app.js's helpers.
'use strict';

const TRIP_COLOURS = ['#0b5cad', '#1e7b34', '#8e44ad', '#a15c00', '#00838f', '#6d4c41'];
let corridorSeq = 0;
let companionsSeq = 0;

function roadParams() {
  return {
    plate: $('#corridor-plate').value.trim(),
    from: localToRfc($('#corridor-from').value),
    to: localToRfc($('#corridor-to').value),
    reason: $('#corridor-reason').value.trim(),
  };
}

// Called from the passage detail: trace this plate over the last 7 days.
function showCorridor(plate) {
  $('#corridor-plate').value = plate;
  const reason = $('#corridor-reason');
  if (!reason.value.trim()) reason.value = $('#reason').value.trim();
  $('#road').scrollIntoView({ behavior: 'smooth', block: 'start' });
  if (reason.value.trim()) runCorridor(); else {
    setStatus($('#corridor-status'), 'Give a reason, then Trace / Nhập lý do rồi bấm Truy vết');
    reason.focus();
  }
}

async function runCorridor(ev) {
  if (ev) ev.preventDefault();
  const status = $('#corridor-status');
  const p = roadParams();
  if (!p.plate) { setStatus(status, 'Enter a plate / Nhập biển số', true); return; }
  if (!p.reason) { setStatus(status, 'A reason is required / Cần nhập lý do', true); return; }
  const seq = ++corridorSeq;
  setStatus(status, 'Loading… / Đang tải…');
  try {
    const data = await api('api/corridor?' + qs({ ...p, mode: 'exact' }));
    if (seq !== corridorSeq) return;
    renderCorridor(data);
  } catch (e) {
    if (seq !== corridorSeq) return;
    $('#corridor-chart').replaceChildren();
    $('#corridor-hops tbody').replaceChildren();
    setStatus(status, e.message, true);
  }
}

const hours = (s) => {
  const m = Math.round(s / 60);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')}`;
};

function hopFlags(h) {
  const flags = [];
  if (h.impossible) flags.push('impossible speed: misread or cloned plate / tốc độ vô lý: đọc sai hoặc biển giả');
  for (const p of h.passed_by || []) {
    if (p.recording) flags.push(`not seen at ${p.junction} (recording) / không thấy tại ${p.junction} (camera đang ghi)`);
  }
  return flags;
}

function renderCorridor(data) {
  const vehicles = Array.isArray(data.vehicles) ? data.vehicles : [];
  const status = $('#corridor-status');
  const v = vehicles[0];
  if (!v) {
    $('#corridor-chart').replaceChildren();
    $('#corridor-hops tbody').replaceChildren();
    setStatus(status, `No passages of ${data.plate} in this window / Không có lượt nào`);
    return;
  }
  const trips = v.trips || [];
  const hops = trips.flatMap((t, i) => (t.hops || []).map((h) => ({ ...h, trip: i })));
  const bad = hops.filter((h) => h.impossible).length;
  const skipped = hops.filter((h) => h.skipped_recording).length;
  setStatus(status, `${v.plate_key}: ${v.passages} passage(s), ${trips.length} trip(s) / chuyến` +
    (bad ? `, ${bad} impossible hop(s) / bước vô lý` : '') +
    (skipped ? `, ${skipped} skipped junction(s) / nút bị bỏ qua` : '') +
    (data.truncated ? ' — first 5000 only / chỉ 5000 lượt đầu' : ''), bad > 0);
  $('#corridor-chart').replaceChildren(corridorChart(data.junctions || [], trips));
  $('#corridor-hops tbody').replaceChildren(...hops.map((h) => {
    const flags = hopFlags(h);
    return el('tr', { class: h.impossible ? 'hop bad' : flags.length ? 'hop warn' : 'hop' },
      el('td', { text: String(h.trip + 1) }),
      el('td', { text: `${h.from} → ${h.to}` }),
      el('td', { class: 'time', text: fmt(fmtDateTime, h.departed) }),
      el('td', { class: 'num', text: hours(h.travel_s) }),
      el('td', { class: 'num', text: h.distance_km === null ? '—' : h.distance_km.toFixed(1) }),
      el('td', { class: 'num', text: h.speed_kmh === null ? '—' : Math.round(h.speed_kmh) + '' }),
      el('td', { text: flags.join('; ') || '—' }));
  }));
  if (!hops.length) {
    $('#corridor-hops tbody').append(el('tr', null, el('td', { colspan: '7', class: 'muted', text: 'one place only / chỉ một nơi' })));
  }
}

// The time–distance chart: junction km markers as rows, passages as points, hops as lines.
function corridorChart(junctions, trips) {
  const NS = 'http://www.w3.org/2000/svg';
  const mk = (tag, attrs) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, val] of Object.entries(attrs)) e.setAttribute(k, String(val));
    return e;
  };
  const titled = (node, text) => {
    const t = document.createElementNS(NS, 'title');
    t.textContent = text;
    node.append(t);
    return node;
  };
  const points = trips.flatMap((t, i) => (t.visits || []).flatMap((vis) =>
    (vis.passages || []).filter((p) => p.km !== null && p.km !== undefined).map((p) => ({ ...p, trip: i }))));
  const times = points.map((p) => Date.parse(p.at));
  for (const t of trips) for (const h of t.hops || []) for (const p of h.passed_by || []) times.push(Date.parse(p.expected_at));
  const kms = junctions.map((j) => j.km).concat(points.map((p) => p.km));
  const W = 900, H = 340, L = 150, R = 16, T = 12, B = 36;
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('id', 'corridor-svg');
  svg.setAttribute('aria-label', 'Time–distance chart of the plate\'s passages');
  if (!times.length || !kms.length) return svg;
  let t0 = Math.min(...times), t1 = Math.max(...times);
  const pad = Math.max(60000, (t1 - t0) * 0.04);
  t0 -= pad; t1 += pad;
  let k0 = Math.min(...kms), k1 = Math.max(...kms);
  if (k1 - k0 < 1) { k0 -= 1; k1 += 1; }
  const x = (ms) => L + ((ms - t0) / (t1 - t0)) * (W - L - R);
  const y = (km) => T + (1 - (km - k0) / (k1 - k0)) * (H - T - B);
  // Junctions: a row each.
  for (const j of junctions) {
    const yy = y(j.km).toFixed(1);
    svg.append(mk('line', { x1: L, x2: W - R, y1: yy, y2: yy, stroke: '#e3e7ec' }));
    const label = mk('text', { x: L - 6, y: Number(yy) + 4, 'text-anchor': 'end', class: 'junction-label' });
    label.textContent = `${j.junction} · km ${j.km}`;
    svg.append(label);
  }
  // Time ticks.
  for (let i = 0; i <= 5; i++) {
    const ms = t0 + ((t1 - t0) * i) / 5;
    const anchor = i === 0 ? 'start' : i === 5 ? 'end' : 'middle';
    const tick = mk('text', { x: x(ms).toFixed(1), y: H - B + 16, 'text-anchor': anchor });
    tick.textContent = fmt(fmtDayHour, new Date(ms).toISOString());
    svg.append(tick);
  }
  svg.append(mk('line', { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: '#9aa8b8' }));
  // Hops, then pass-bys where a recording junction did not see the vehicle.
  trips.forEach((t, i) => {
    const colour = TRIP_COLOURS[i % TRIP_COLOURS.length];
    for (const h of t.hops || []) {
      if (h.from_km === null || h.to_km === null) continue;
      const line = mk('line', {
        x1: x(Date.parse(h.departed)).toFixed(1), y1: y(h.from_km).toFixed(1),
        x2: x(Date.parse(h.arrived)).toFixed(1), y2: y(h.to_km).toFixed(1),
        stroke: h.impossible ? '#b3261e' : colour, 'stroke-width': h.impossible ? 3 : 2,
        class: h.impossible ? 'hop impossible' : 'hop',
      });
      if (h.impossible) line.setAttribute('stroke-dasharray', '6 4');
      const speed = h.speed_kmh === null ? 'at once' : `${Math.round(h.speed_kmh)} km/h`;
      svg.append(titled(line, `${h.from} → ${h.to}: ${hours(h.travel_s)}, ${speed}`));
      for (const p of h.passed_by || []) {
        if (!p.recording) continue;
        const cx = x(Date.parse(p.expected_at)), cy = y(p.km);
        const mark = mk('rect', {
          x: (cx - 6).toFixed(1), y: (cy - 6).toFixed(1), width: 12, height: 12,
          fill: '#fff', stroke: '#a15c00', 'stroke-width': 2, class: 'missed', transform: `rotate(45 ${cx.toFixed(1)} ${cy.toFixed(1)})`,
        });
        svg.append(titled(mark, `not seen at ${p.junction} though it was recording / không thấy dù camera đang ghi`));
      }
    }
  });
  // Passages on top: a click opens the passage (and its clip).
  for (const p of points) {
    const dot = mk('circle', {
      cx: x(Date.parse(p.at)).toFixed(1), cy: y(p.km).toFixed(1), r: 6,
      fill: TRIP_COLOURS[p.trip % TRIP_COLOURS.length], stroke: '#fff', 'stroke-width': 1.5,
      class: 'corridor-point', 'data-passage': p.passage_id, 'data-camera': p.camera, tabindex: 0,
    });
    titled(dot, `${p.junction || p.camera} · ${fmt(fmtDateTime, p.at)} · ${p.camera}`);
    const open = () => openDetail(p.passage_id, null, null).then(() => $('#detail').scrollIntoView({ block: 'nearest' }));
    dot.addEventListener('click', open);
    dot.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') open(); });
    svg.append(dot);
  }
  return svg;
}

async function runCompanions(ev) {
  if (ev) ev.preventDefault();
  const status = $('#companions-status');
  const p = roadParams();
  if (!p.plate) { setStatus(status, 'Enter a plate / Nhập biển số', true); return; }
  if (!p.reason) { setStatus(status, 'A reason is required / Cần nhập lý do', true); return; }
  const seq = ++companionsSeq;
  setStatus(status, 'Loading… / Đang tải…');
  try {
    const data = await api('api/companions?' + qs({
      ...p, window: $('#companions-window').value, min_junctions: $('#companions-min').value,
    }));
    if (seq !== companionsSeq) return;
    const items = Array.isArray(data.items) ? data.items : [];
    setStatus(status, `${items.length} plate(s) seen with ${data.plate} at ${data.min_junctions}+ junctions ` +
      `within ${data.window_s} s (${data.target_passages} passage(s) of it) / biển số đi cùng`);
    $('#companions-table tbody').replaceChildren(...items.map((c) => {
      const plate = el('button', { type: 'button', class: 'link mono', text: c.plate_display || c.plate_key });
      plate.addEventListener('click', () => { $('#corridor-plate').value = c.plate_key; runCorridor(); });
      return el('tr', null, el('td', null, plate),
        el('td', { class: 'num', text: String(c.junctions) }),
        el('td', { text: (c.junction_names || []).join(', ') }),
        el('td', { class: 'num', text: String(c.times_together) }),
        el('td', { class: 'num', text: `${Math.round(c.mean_gap_s)} s` }),
        el('td', { class: 'time', text: fmt(fmtDateTime, c.last_at) }));
    }));
  } catch (e) {
    if (seq !== companionsSeq) return;
    $('#companions-table tbody').replaceChildren();
    setStatus(status, e.message, true);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  const now = Date.now();
  $('#corridor-from').value = msToLocal(now - 7 * 24 * 3600 * 1000);
  $('#corridor-to').value = msToLocal(now);
  $('#corridor-form').addEventListener('submit', runCorridor);
  $('#companions-btn').addEventListener('click', runCompanions);
});
