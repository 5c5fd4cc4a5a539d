// The results' time axis: the angle plots, the 3D view's frame, play/pause, scrubbing and resizing.
import { $, el } from "./dom.js";
import { COLOURS, drawAnglePanel } from "./views.js";

// ``state`` holds the parsed .mot (state.mot), the model description (state.model) and ``playing``;
// ``skeleton`` is the page's SkeletonView.
export function createPlayback(state, skeleton) {
  function renderPlots() {
    const panels = Object.entries(state.model.angle_panels);
    $("plots").replaceChildren(...panels.map(([panel, coords]) => {
      const present = coords.filter((c) => state.mot.columns[c]);
      const canvas = el("canvas", { className: "plot" });
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `${panel.replace("_", " ")}: ${present.join(", ")} in degrees over time`);
      canvas.dataset.panel = panel;
      const legend = el("div", { className: "legend" }, ...present.map((c, k) => el("span", {},
        el("i", { style: `background:${COLOURS[k % COLOURS.length]}` }), c)));
      canvas.addEventListener("click", (e) => seekTime(canvas._toTime?.(e.clientX)));
      return el("figure", {}, el("figcaption", { textContent: panel.replace("_", " ") }), canvas, legend);
    }));
  }

  function drawPlots() {
    if (!state.mot || $("results").hidden) return;
    const t = skeleton.trc.times[skeleton.frame];
    for (const canvas of $("plots").querySelectorAll("canvas")) {
      const coords = state.model.angle_panels[canvas.dataset.panel].filter((c) => state.mot.columns[c]);
      canvas._toTime = drawAnglePanel(canvas, state.mot.times,
        coords.map((c) => ({ name: c, values: state.mot.columns[c] })), t);
    }
  }

  function setFrame(i) {
    const times = skeleton.trc.times;
    const f = Math.max(0, Math.min(times.length - 1, i));
    skeleton.setFrame(f);
    $("frame").value = String(f);
    $("frame-time").textContent = `${times[f].toFixed(2)} s`;
    $("frame").setAttribute("aria-valuetext", `${times[f].toFixed(2)} seconds`);
    drawPlots();
  }

  function seekTime(t) {
    if (t === undefined || !skeleton.trc) return;
    const times = skeleton.trc.times;
    let best = 0;
    times.forEach((v, i) => { if (Math.abs(v - t) < Math.abs(times[best] - t)) best = i; });
    setFrame(best);
  }

  function setPlaying(on) {
    state.playing = on && Boolean(skeleton.trc);
    $("play").textContent = state.playing ? "Pause" : "Play";
    $("play").setAttribute("aria-pressed", String(state.playing));
    if (!state.playing) return;
    const times = skeleton.trc.times;
    let last = performance.now();
    let t = times[skeleton.frame] >= times[times.length - 1] ? times[0] : times[skeleton.frame];
    const step = (now) => {
      if (!state.playing) return;
      t += (now - last) / 1000;
      last = now;
      if (t > times[times.length - 1]) t = times[0];  // loop
      seekTime(t);
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  }

  $("play").addEventListener("click", () => setPlaying(!state.playing));
  $("frame").addEventListener("input", () => setFrame(Number($("frame").value)));
  $("reset-view").addEventListener("click", () => skeleton.resetView());
  $("skeleton").addEventListener("keydown", (e) => {
    if (e.key === " ") { e.preventDefault(); setPlaying(!state.playing); }
  });

  let resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { skeleton.draw(); drawPlots(); }, 100);
  });

  return { renderPlots, drawPlots, setFrame, setPlaying };
}
