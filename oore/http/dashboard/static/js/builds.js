// Builds tables marked `data-live-builds`: statuses change in place and new builds that match
// the page's filters appear at the top, from `WS /api/events`, without a reload.
import { formatDuration, setStatus, subscribe } from "./live.js";

const body = document.querySelector("tbody[data-live-builds]");
const indicator = document.querySelector("[data-live-indicator]");

function repositoryName(id) {
  const known = document.querySelector(`#repo-names`)?.content.querySelector(`[data-id="${CSS.escape(id)}"]`);
  return known ? known.textContent : id;
}

function matches(build) {
  const filter = body.dataset;
  return (!filter.filterRepository || filter.filterRepository === build.repository_id)
    && (!filter.filterStatus || filter.filterStatus === build.status)
    && (!filter.filterBranch || filter.filterBranch === build.branch)
    && (!filter.filterWorkflow || filter.filterWorkflow === build.workflow);
}

function cell(...children) {
  const td = document.createElement("td");
  td.append(...children);
  return td;
}

function element(tag, attributes, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function newRow(build) {
  const row = element("tr", { "data-build-id": build.id, class: "is-new" });
  const status = element("span", { class: "status", "data-status-for": build.id });
  setStatus(status, build.status);
  const link = element("a", { class: "strong", href: `/builds/${build.id}` },
    `${repositoryName(build.repository_id)} #${build.number}`);
  const ref = build.tag ?? (build.pr_number ? `#${build.pr_number}` : build.branch);
  const refCell = cell();
  if (ref) refCell.append(element("span", { class: "ref" }, ref), " ");
  refCell.append(element("code", { class: "sha" }, (build.sha ?? "").slice(0, 7)));
  const created = element("time", { datetime: build.created_at }, "just now");
  row.append(
    cell(status), cell(link), cell(build.workflow), refCell,
    Object.assign(cell(formatDuration(build.duration_seconds)), { className: "muted" }),
    Object.assign(cell(created), { className: "muted" }),
  );
  row.children[4].dataset.durationFor = build.id;
  return row;
}

function apply(build) {
  const existing = body.querySelector(`tr[data-build-id="${CSS.escape(build.id)}"]`);
  if (existing) {
    const status = existing.querySelector("[data-status-for]");
    if (status) setStatus(status, build.status);
    const duration = existing.querySelector("[data-duration-for]");
    if (duration && build.duration_seconds != null) duration.textContent = formatDuration(build.duration_seconds);
    return;
  }
  if (body.dataset.firstPage !== "true" || !matches(build)) return;
  body.prepend(newRow(build));
  const limit = Number(body.dataset.limit || 50);
  while (body.rows.length > limit) body.lastElementChild.remove();
  document.querySelector(".empty")?.remove();
}

if (body) {
  subscribe(
    (message) => {
      if (message.build && (message.type === "build_created" || message.type === "build_changed")) {
        apply(message.build);
      }
    },
    {
      onResync: () => window.location.reload(),
      onState: (open) => { if (indicator) indicator.hidden = !open; },
    },
  );
}
