// The page: key, upload, live job status (the job id lives in the URL as ?job=…, so a reload
// resumes), results, and the key's job list. Every response is dropped if the key changed meanwhile.
import { ApiError, deleteJob, getBlob, getJson, getText, keyStore, saveBlob, submitJob } from "./api.js";
import { $, clearError, el, fmtBytes, fmtTime, say, showError } from "./dom.js";
import { createPlayback } from "./playback.js";
import { SkeletonView, parseMot, parseTrc } from "./views.js";

const ACTIVE = new Set(["queued", "running"]);
const state = {
  key: keyStore.get(), generation: 0, jobId: null, pollTimer: null, results: null, blobUrls: [],
  playing: false, model: null,
};
const skeleton = new SkeletonView($("skeleton"));
const playback = createPlayback(state, skeleton);

// ---- the key ----------------------------------------------------------------------------------
function useKey(key, remember) {
  state.key = key;
  state.generation += 1;  // in-flight answers for the previous key are ignored
  if (key) keyStore.set(key, remember);
  else keyStore.clear();
  closeJob(false);
  $("job-list").replaceChildren();
  clearError();
  refreshJobs(true).then(() => {
    const id = new URL(location.href).searchParams.get("job");
    if (id) openJob(id, false);
  });
}

$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  useKey($("api-key").value.trim(), $("remember-key").checked);
});

$("forget-key").addEventListener("click", () => {
  $("api-key").value = "";
  $("remember-key").checked = false;
  useKey("", false);
  say("Key forgotten.");
});

// ---- job list ---------------------------------------------------------------------------------
async function refreshJobs(announce = false) {
  const gen = state.generation;
  try {
    const page = await getJson(state.key, "/jobs?limit=50");
    if (gen !== state.generation) return;
    renderJobList(page);
    if (announce) say(`${page.total} job${page.total === 1 ? "" : "s"} for this key.`);
  } catch (err) {
    if (gen !== state.generation) return;
    $("job-list").replaceChildren();
    $("jobs-empty").hidden = false;
    if (err.status === 401 && !state.key) {
      $("jobs-empty").textContent = "Enter your API key to see your jobs.";
    } else {
      $("jobs-empty").textContent = "Could not list jobs: " + err.message;
      showError(err, err.status === 401 ? "API key: " : "");
    }
  }
}

function renderJobList(page) {
  $("jobs-empty").hidden = page.items.length > 0;
  $("jobs-empty").textContent = "No jobs yet for this key.";
  $("job-list").replaceChildren(...page.items.map((job) => {
    const label = job.status + (job.stage ? ` · ${job.stage}` : "");
    const open = el("button", { type: "button", textContent: "Open", className: "secondary" });
    open.setAttribute("aria-label", `Open job ${job.id}`);
    open.addEventListener("click", () => openJob(job.id, true));
    const del = el("button", { type: "button", textContent: "Delete", className: "danger" });
    del.setAttribute("aria-label", `Delete job ${job.id}`);
    del.addEventListener("click", () => removeJob(job));
    const item = el("li", {}, el("span", { className: `badge s-${job.status}`, textContent: label }), " ",
      el("code", { textContent: job.id }), " ", el("time", { dateTime: job.created_at, textContent: fmtTime(job.created_at) }),
      el("span", { className: "actions" }, open, del));
    item.dataset.jobId = job.id;
    return item;
  }));
}

async function removeJob(job) {
  const what = ACTIVE.has(job.status) ? "Cancel" : "Delete";
  if (!confirm(`${what} job ${job.id}${what === "Delete" ? " and its files" : ""}?`)) return;
  clearError();
  try {
    await deleteJob(state.key, job.id);
    say(`Job ${job.id} ${what === "Cancel" ? "canceled" : "deleted"}.`);
    if (job.id === state.jobId && what === "Delete") closeJob(true);
  } catch (err) {
    showError(err);
  }
  refreshJobs();
  if (job.id === state.jobId) poll();
}

$("refresh-jobs").addEventListener("click", () => refreshJobs(true));

// ---- one job ----------------------------------------------------------------------------------
function setUrlJob(id, push) {
  const url = new URL(location.href);
  if (id) url.searchParams.set("job", id);
  else url.searchParams.delete("job");
  history[push ? "pushState" : "replaceState"]({}, "", url);
}

function closeJob(updateUrl) {
  clearTimeout(state.pollTimer);
  state.jobId = null;
  state.results = null;
  playback.setPlaying(false);
  state.mot = null;
  skeleton.trc = null;
  state.blobUrls.forEach((u) => URL.revokeObjectURL(u));
  state.blobUrls = [];
  $("job").hidden = true;
  $("results").hidden = true;
  for (const id of ["plots", "downloads", "warnings"]) $(id).replaceChildren();  // nothing lingers across keys
  for (const id of ["overlay-img", "overlay-video"]) { $(id).removeAttribute("src"); $(id).hidden = true; }
  if (updateUrl) setUrlJob(null, false);
}

function openJob(id, push) {
  closeJob(false);
  state.jobId = id;
  setUrlJob(id, push);
  $("job-id").textContent = id;
  $("job-status").textContent = "loading…";
  $("job-stage").textContent = "";
  $("job-error").hidden = true;
  $("job").hidden = false;
  poll();
}

async function poll() {
  clearTimeout(state.pollTimer);
  const gen = state.generation;
  const id = state.jobId;
  if (!id) return;
  let job;
  try {
    job = await getJson(state.key, `/jobs/${encodeURIComponent(id)}`);
  } catch (err) {
    if (gen !== state.generation || id !== state.jobId) return;
    if (err.status === 0 || err.status === 503) {  // transient: keep trying
      say(`Connection problem (${err.message}); retrying…`);
      state.pollTimer = setTimeout(poll, 3000);
      return;
    }
    $("job-status").className = "badge";
    if (err.status === 401 && !state.key) {  // a shared link opened before the key was given
      $("job-status").textContent = "needs your API key";
      say(`Enter your API key to see job ${id}.`);
      return;
    }
    $("job-status").textContent = "unavailable";
    showError(err);
    return;
  }
  if (gen !== state.generation || id !== state.jobId) return;
  renderJob(job);
  if (ACTIVE.has(job.status)) state.pollTimer = setTimeout(poll, 1000);
  else if (job.status === "succeeded" && state.results !== id) loadResults(job, gen);
}

function renderJob(job) {
  const before = $("job-status").textContent;
  $("job-status").textContent = job.status;
  $("job-status").className = `badge s-${job.status}`;
  $("job-stage").textContent = job.stage ? `stage: ${job.stage}` : "";
  $("job-progress").value = job.progress;
  $("job-progress-text").textContent = `${Math.round(job.progress * 100)} %`;
  $("cancel-job").hidden = !ACTIVE.has(job.status);
  $("job-error").hidden = !job.error;
  $("job-error").textContent = job.error ? `${job.error.message} (${job.error.code})` : "";
  if (before !== job.status) {
    say(`Job ${job.id}: ${job.status}${job.error ? " — " + job.error.message : ""}`);
    if (!ACTIVE.has(job.status)) refreshJobs();
  }
}

$("cancel-job").addEventListener("click", () => {
  if (state.jobId) removeJob({ id: state.jobId, status: "running" });
});

window.addEventListener("popstate", () => {
  const id = new URL(location.href).searchParams.get("job");
  if (id && id !== state.jobId) openJob(id, false);
  else if (!id) closeJob(false);
});

// ---- results ----------------------------------------------------------------------------------
async function loadResults(job, gen) {
  const id = job.id;
  state.results = id;
  const names = new Set(job.results.map((r) => r.name));
  const base = `/jobs/${encodeURIComponent(id)}/results/`;
  try {
    state.model ??= await getJson("", "/model");
    const files = state.model.result_files;
    const [mot, trc, summary] = await Promise.all(
      [files.kinematics, files.joint_centers, files.summary].map((n) => getText(state.key, base + n)));
    if (gen !== state.generation || id !== state.jobId) return;
    renderSummary(JSON.parse(summary));
    renderDownloads(job);
    $("results").hidden = false;
    state.mot = parseMot(mot);
    skeleton.setData(parseTrc(trc), state.model.segments);
    $("frame").max = String(skeleton.trc.times.length - 1);
    $("frame").value = "0";
    playback.renderPlots();
    playback.setFrame(0);
    await renderOverlay(base, names, gen, id);
    say(`Job ${id}: results loaded.`);
  } catch (err) {
    if (gen === state.generation && id === state.jobId) showError(err, "Results: ");
  }
}

function renderSummary(summary) {
  const warnings = summary.warnings || [];
  $("warnings").replaceChildren(...(warnings.length ? warnings : ["none"]).map((w) => el("li", { textContent: w })));
  const facts = [`${summary.frames} frames at ${summary.fps} fps`];
  if (summary.sync) facts.push(`sync offset ${summary.sync.offset_frames} frames`);
  if (summary.model_height_m) facts.push(`model height ${summary.model_height_m} m`);
  if (summary.stage_seconds) {
    const total = Object.values(summary.stage_seconds).reduce((a, b) => a + b, 0);
    facts.push(`processing ${total.toFixed(1)} s`);
  }
  $("facts").textContent = facts.join(" · ");
}

function renderDownloads(job) {
  const files = [...job.results.map((r) => [r.name, r.url, r.size]), ["all results (.zip)", job.results_zip, null]];
  $("downloads").replaceChildren(...files.filter(([, url]) => url).map(([name, url, size]) => {
    const button = el("button", { type: "button", className: "link", textContent: name });
    const fileName = url.endsWith(".zip") ? `${job.id}.zip` : name.replaceAll("/", "_");
    button.addEventListener("click", async () => {
      clearError();
      try {
        saveBlob(await getBlob(state.key, url), fileName);
        say(`Downloaded ${fileName}.`);
      } catch (err) {
        showError(err, `Download of ${name}: `);
      }
    });
    return el("li", {}, button, size === null ? "" : el("span", { className: "help", textContent: ` ${fmtBytes(size)}` }));
  }));
}

async function renderOverlay(base, names, gen, id) {
  const video = $("overlay-video");
  const img = $("overlay-img");
  const { overlay_sheet: sheet, overlay_video: clip } = state.model.result_files;
  $("overlay-none").hidden = names.has(sheet) || names.has(clip);
  for (const [name, node] of [[sheet, img], [clip, video]]) {
    node.hidden = true;
    node.removeAttribute("src");
    if (!names.has(name)) continue;
    const blob = await getBlob(state.key, base + name);
    if (gen !== state.generation || id !== state.jobId) return;
    const url = URL.createObjectURL(blob);
    state.blobUrls.push(url);
    node.src = url;
    node.hidden = false;
  }
}

// ---- submit -----------------------------------------------------------------------------------
function formData() {
  const form = $("job-form");
  const data = new FormData();
  for (const name of ["front", "side", "calibration"]) {
    const file = form.elements[name].files[0];
    if (file) data.append(name, file);
  }
  for (const name of ["front_camera", "side_camera", "height_m", "mass_kg", "offset_frames", "refine", "subject"]) {
    const value = form.elements[name].value.trim();
    if (value) data.append(name, value);
  }
  data.append("overlay", form.elements.overlay.checked ? "true" : "false");
  return data;
}

const guardUnload = (e) => { e.preventDefault(); e.returnValue = ""; };

$("job-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  clearError();
  const form = $("job-form");
  const missing = ["front", "side"].filter((n) => !form.elements[n].files.length);
  if (missing.length) {
    showError(new ApiError(0, "missing", `choose the ${missing.join(" and the ")} video`));
    form.elements[missing[0]].focus();
    return;
  }
  const gen = state.generation;
  $("submit").disabled = true;
  $("upload").hidden = false;
  window.addEventListener("beforeunload", guardUnload);
  const progress = (f) => {
    $("upload-progress").value = f;
    $("upload-text").textContent = f < 1 ? `${Math.round(f * 100)} %` : "checking the videos…";
  };
  progress(0);
  say("Uploading…");
  try {
    const job = await submitJob(state.key, formData(), progress);
    if (gen !== state.generation) return;
    say(`Uploaded; job ${job.id} is ${job.status}.`);
    openJob(job.id, true);
    $("job-h").focus();
    refreshJobs();
  } catch (err) {
    showError(err, "Upload: ");
    say("Upload failed.");
  } finally {
    window.removeEventListener("beforeunload", guardUnload);
    $("submit").disabled = false;
    $("upload").hidden = true;
  }
});

// ---- start ------------------------------------------------------------------------------------
$("api-key").value = state.key;
$("remember-key").checked = keyStore.remembered();
useKey(state.key, keyStore.remembered());
