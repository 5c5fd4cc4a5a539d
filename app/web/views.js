// Result views drawn on <canvas>: the joint-angle panels (from kinematics.mot) and a rotatable 3D
// view of the joint centres over time (from joint_centers.trc). No library.

export const COLOURS = ["#d9480f", "#1c7ed6", "#2b8a3e"]; // right / left / third series
const SIDE_COLOUR = { r: COLOURS[0], l: COLOURS[1] };

// kinematics.mot → {names, columns: {name: Float64Array}, times: Float64Array} (degrees / metres, s).
export function parseMot(text) {
  const lines = text.split(/\r?\n/);
  const end = lines.findIndex((l) => l.trim().toLowerCase() === "endheader");
  if (end < 0) throw new Error("kinematics.mot has no header");
  const names = lines[end + 1].trim().split(/\s+/);
  const rows = lines.slice(end + 2).filter((l) => l.trim()).map((l) => l.trim().split(/\s+/).map(Number));
  const columns = {};
  names.forEach((n, j) => { columns[n] = Float64Array.from(rows, (r) => r[j]); });
  return { names, columns, times: columns.time };
}

// joint_centers.trc → {names, times, points: Float64Array[T * N * 3]} (mm, OpenSim ground frame, Y up).
export function parseTrc(text) {
  const lines = text.split(/\r?\n/);
  const names = lines[3].split("\t").slice(2).map((s) => s.trim()).filter(Boolean);
  const rows = lines.slice(5).filter((l) => l.trim()).map((l) => l.trim().split(/\s+/).map(Number));
  const n = names.length;
  const points = new Float64Array(rows.length * n * 3);
  rows.forEach((r, t) => points.set(r.slice(2, 2 + n * 3), t * n * 3));
  return { names, times: Float64Array.from(rows, (r) => r[1]), points };
}

// Size a canvas's backing store to its CSS box (sharp on high-DPI screens); returns [ctx, w, h] in CSS px.
function fit(canvas, cssHeight) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(canvas.clientWidth, 100);
  const h = cssHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  canvas.style.height = h + "px";
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return [ctx, w, h];
}

function niceStep(span, count) {
  const raw = span / Math.max(count, 1);
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) || raw;
}

// One panel: several coordinates (degrees) over time, with a cursor at `cursorTime` (s).
export function drawAnglePanel(canvas, times, series, cursorTime) {
  const [ctx, w, h] = fit(canvas, 180);
  const pad = { l: 42, r: 8, t: 8, b: 24 };
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) for (const v of s.values) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!(hi > lo)) { lo -= 1; hi += 1; }
  const margin = (hi - lo) * 0.08;
  lo -= margin;
  hi += margin;
  const t0 = times[0];
  const t1 = times[times.length - 1] > t0 ? times[times.length - 1] : t0 + 1;
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (w - pad.l - pad.r);
  const y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * (h - pad.t - pad.b);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeStyle = "#e3e6ea";
  ctx.fillStyle = "#495057";
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const ys = niceStep(hi - lo, 4);
  for (let v = Math.ceil(lo / ys) * ys; v <= hi; v += ys) {
    ctx.beginPath(); ctx.moveTo(pad.l, y(v)); ctx.lineTo(w - pad.r, y(v)); ctx.stroke();
    ctx.fillText(String(Math.round(v * 10) / 10), pad.l - 4, y(v));
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const xs = niceStep(t1 - t0, Math.max(2, Math.floor(w / 70)));
  for (let t = Math.ceil(t0 / xs) * xs; t <= t1 + 1e-9; t += xs) {
    ctx.beginPath(); ctx.moveTo(x(t), pad.t); ctx.lineTo(x(t), h - pad.b); ctx.stroke();
    ctx.fillText(`${Math.round(t * 100) / 100} s`, x(t), h - pad.b + 4);
  }
  series.forEach((s, k) => {
    ctx.strokeStyle = COLOURS[k % COLOURS.length];
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    s.values.forEach((v, i) => (i ? ctx.lineTo(x(times[i]), y(v)) : ctx.moveTo(x(times[i]), y(v))));
    ctx.stroke();
  });
  if (cursorTime !== undefined) {
    ctx.strokeStyle = "#212529";
    ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(x(cursorTime), pad.t); ctx.lineTo(x(cursorTime), h - pad.b); ctx.stroke();
  }
  return (clientX) => {  // maps a pointer position to a time, for click-to-seek
    const r = canvas.getBoundingClientRect();
    return t0 + ((clientX - r.left - pad.l) / (w - pad.l - pad.r)) * (t1 - t0);
  };
}

// The joint centres of one frame, joined parent → child, seen from a rotatable orthographic camera
// with a slight perspective; a floor grid at the lowest point of the whole motion.
export class SkeletonView {
  constructor(canvas) {
    this.canvas = canvas;
    this.frame = 0;
    this.resetView();
    this._dragging = null;
    canvas.addEventListener("pointerdown", (e) => {
      this._dragging = [e.clientX, e.clientY];
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!this._dragging) return;
      const [x0, y0] = this._dragging;
      this._dragging = [e.clientX, e.clientY];
      this.rotate((e.clientX - x0) * 0.01, (e.clientY - y0) * 0.01);
    });
    const stop = () => { this._dragging = null; };
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    canvas.addEventListener("keydown", (e) => {
      const step = { ArrowLeft: [-0.1, 0], ArrowRight: [0.1, 0], ArrowUp: [0, -0.1], ArrowDown: [0, 0.1] }[e.key];
      if (step) { e.preventDefault(); this.rotate(...step); }
    });
  }

  resetView() {
    this.yaw = 0.6;   // rad about the vertical (Y) axis
    this.pitch = 0.35; // rad, looking slightly down
    this.draw();
  }

  rotate(dYaw, dPitch) {
    this.yaw += dYaw;
    this.pitch = Math.max(-1.4, Math.min(1.4, this.pitch + dPitch));
    this.draw();
  }

  setData(trc, segments) {
    this.trc = trc;
    const idx = new Map(trc.names.map((n, i) => [n, i]));
    // a limb segment (sided parent) takes its side's colour; hip and shoulder lines stay grey
    const side = (name) => (/_[rl]$/.test(name) ? SIDE_COLOUR[name.at(-1)] : null);
    this.segments = segments.filter(([a, b]) => idx.has(a) && idx.has(b))
      .map(([a, b]) => [idx.get(a), idx.get(b), side(a) && side(b) ? side(b) : "#495057"]);
    const lo = [Infinity, Infinity, Infinity];
    const hi = [-Infinity, -Infinity, -Infinity];
    trc.points.forEach((v, i) => {
      if (Number.isFinite(v)) { lo[i % 3] = Math.min(lo[i % 3], v); hi[i % 3] = Math.max(hi[i % 3], v); }
    });
    this.centre = lo.map((l, k) => (l + hi[k]) / 2);
    this.extent = Math.max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2], 1);
    this.floor = { y: lo[1], x: [lo[0], hi[0]], z: [lo[2], hi[2]] };
    this.frame = 0;
    this.draw();
  }

  setFrame(i) {
    this.frame = i;
    this.draw();
  }

  project(p, w, h) {
    const [x, y, z] = [p[0] - this.centre[0], p[1] - this.centre[1], p[2] - this.centre[2]];
    const cy = Math.cos(this.yaw), sy = Math.sin(this.yaw), cp = Math.cos(this.pitch), sp = Math.sin(this.pitch);
    const x1 = cy * x + sy * z;
    const z1 = -sy * x + cy * z;
    const y2 = cp * y - sp * z1;
    const z2 = sp * y + cp * z1;
    const scale = (Math.min(w, h) * 0.8) / this.extent;
    const persp = 3 / (3 - z2 / this.extent);
    return [w / 2 + x1 * scale * persp, h / 2 - y2 * scale * persp];
  }

  draw() {
    const [ctx, w, h] = fit(this.canvas, Math.min(420, Math.max(260, this.canvas.clientWidth * 0.75)));
    ctx.fillStyle = "#f8f9fa";
    ctx.fillRect(0, 0, w, h);
    if (!this.trc) return;
    const { x, z, y } = this.floor;
    const margin = this.extent * 0.15;
    ctx.strokeStyle = "#ced4da";
    ctx.lineWidth = 1;
    for (let k = 0; k <= 8; k++) {
      const gx = x[0] - margin + ((x[1] - x[0] + 2 * margin) * k) / 8;
      const gz = z[0] - margin + ((z[1] - z[0] + 2 * margin) * k) / 8;
      const lines = [[[gx, y, z[0] - margin], [gx, y, z[1] + margin]], [[x[0] - margin, y, gz], [x[1] + margin, y, gz]]];
      for (const [a, b] of lines) {
        const [ax, ay] = this.project(a, w, h);
        const [bx, by] = this.project(b, w, h);
        ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke();
      }
    }
    const n = this.trc.names.length;
    const base = this.frame * n * 3;
    const pts = Array.from({ length: n }, (_, i) => this.project(this.trc.points.subarray(base + 3 * i, base + 3 * i + 3), w, h));
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    for (const [a, b, colour] of this.segments) {
      ctx.strokeStyle = colour;
      ctx.beginPath(); ctx.moveTo(...pts[a]); ctx.lineTo(...pts[b]); ctx.stroke();
    }
    ctx.fillStyle = "#212529";
    for (const [px, py] of pts) { ctx.beginPath(); ctx.arc(px, py, 3.5, 0, 2 * Math.PI); ctx.fill(); }
  }
}
