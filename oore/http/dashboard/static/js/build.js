// The build page: the build's status, its steps and the cancel/retry buttons follow
// `WS /api/events` live; when the build ends its artifacts are fetched and listed.
import { getJson } from "./api.js";
import { formatDuration, isFinal, setStatus, subscribe } from "./live.js";

const head = document.querySelector("[data-build-page]");
const buildId = head?.dataset.buildPage;

function sizeText(count) {
  let value = count;
  for (const unit of ["B", "KB", "MB", "GB"]) {
    if (value < 1024 || unit === "GB") return unit === "B" ? `${value} B` : `${value.toFixed(1)} ${unit}`;
    value /= 1024;
  }
  return `${count} B`;
}

async function showArtifacts() {
  const section = document.querySelector("[data-artifacts]");
  if (!section) return;
  const { items } = await getJson(`/api/builds/${buildId}/artifacts`);
  const placeholder = section.querySelector("[data-no-artifacts]");
  if (!items.length) {
    if (placeholder) placeholder.textContent = "No artifacts.";
    return;
  }
  const wrap = document.createElement("div");
  wrap.className = "table-wrap";
  const table = document.createElement("table");
  table.className = "table";
  table.innerHTML = "<thead><tr><th scope=\"col\">File</th><th scope=\"col\">Size</th><th scope=\"col\">SHA-256</th></tr></thead><tbody></tbody>";
  for (const artifact of items) {
    const row = table.tBodies[0].insertRow();
    const link = Object.assign(document.createElement("a"), { href: `/api/artifacts/${artifact.id}`, textContent: artifact.name });
    link.setAttribute("download", artifact.name);
    link.dataset.artifact = artifact.name;
    row.insertCell().append(link);
    Object.assign(row.insertCell(), { className: "muted", textContent: sizeText(artifact.size) });
    const sha = Object.assign(document.createElement("code"), { className: "sha wrap", textContent: artifact.sha256 });
    row.insertCell().append(sha);
  }
  wrap.append(table);
  section.querySelector(".table-wrap")?.remove();
  placeholder?.remove();
  section.append(wrap);
}

function onBuild(build) {
  for (const status of document.querySelectorAll(`[data-status-for="${CSS.escape(buildId)}"]`)) {
    setStatus(status, build.status);
  }
  const duration = document.querySelector(`[data-duration-for="${CSS.escape(buildId)}"]`);
  if (duration && build.duration_seconds != null) duration.textContent = formatDuration(build.duration_seconds);
  const final = isFinal(build.status);
  const cancel = document.querySelector("[data-cancel-button]");
  const retry = document.querySelector("[data-retry-button]");
  if (cancel) cancel.hidden = final;
  if (retry) retry.hidden = !final;
  if (final && head.dataset.final !== "true") {
    head.dataset.final = "true";
    showArtifacts().catch(() => {});
  }
}

function stepsBody() {
  const existing = document.querySelector(".steps-table tbody");
  if (existing) return existing;
  const section = document.querySelector("[data-steps]");
  section.querySelector("[data-no-steps]")?.remove();
  const wrap = Object.assign(document.createElement("div"), { className: "table-wrap" });
  wrap.innerHTML = "<table class=\"table steps-table\"><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Step</th>"
    + "<th scope=\"col\">Status</th><th scope=\"col\">Duration</th><th scope=\"col\">Exit</th></tr></thead><tbody></tbody></table>";
  section.append(wrap);
  return wrap.querySelector("tbody");
}

function stepRow(step) {
  const row = document.createElement("tr");
  row.dataset.stepIndex = step.index;
  row.insertCell().className = "muted";
  row.cells[0].textContent = step.number;
  const link = Object.assign(document.createElement("a"), { href: "#log", textContent: step.name });
  link.dataset.stepLink = step.number;
  row.insertCell().append(link);
  const status = Object.assign(document.createElement("span"), { className: "status" });
  status.dataset.stepStatus = "";
  row.insertCell().append(status);
  Object.assign(row.insertCell(), { className: "muted" }).dataset.stepDuration = "";
  Object.assign(row.insertCell(), { className: "muted" }).dataset.stepExit = "";
  const body = stepsBody();
  const after = [...body.rows].find((other) => Number(other.dataset.stepIndex) > step.index);
  body.insertBefore(row, after ?? null);
  return row;
}

function onStep(step) {
  const row = document.querySelector(`tr[data-step-index="${step.index}"]`) ?? stepRow(step);
  setStatus(row.querySelector("[data-step-status]"), step.status);
  row.querySelector("[data-step-duration]").textContent = formatDuration(step.duration_seconds);
  row.querySelector("[data-step-exit]").textContent = step.exit_code ?? "–";
}

if (buildId) {
  subscribe(
    (message) => {
      if (message.build?.id === buildId) onBuild(message.build);
      if (message.step && message.build_id === buildId) onStep(message.step);
    },
    { onResync: () => { if (head.dataset.final !== "true") window.location.reload(); } },
  );
}
