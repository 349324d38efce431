// The live log viewer of the build page: `mountLog(section)`.
//
// Lines come over `WS /api/builds/{id}/logs/stream?since=N` (oore/logs/wire.py): binary
// "lines" messages (a one-line JSON header, then the lines' raw bytes) and JSON text messages
// (step, heartbeat, end). They are kept as one array of strings; only the rows in view (plus
// some overscan) are in the DOM, each at a fixed height, so a 200,000-line log scrolls as
// smoothly as a 20-line one. Lines are grouped by step under collapsible headers.
//
// Build output is hostile: it only ever reaches the page as text nodes (ansi.js).
import { parse, plainText, render } from "./ansi.js";

const LINE_HEIGHT = 20; // px: every row is this tall (the stylesheet reads --log-line-height)
const OVERSCAN = 30; // rows rendered above and below the visible ones
const MAX_MATCHES = 100000;
const STREAMS = ["stdout", "stderr", "oore"];
const REFUSED = { 4401: "Your session has ended: sign in again to see the log.", 4403: "This session may not read this log.", 4404: "This build no longer exists." };

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

function formatSeconds(seconds) {
  if (seconds == null) return "";
  const whole = Math.round(seconds);
  if (whole < 60) return seconds < 10 ? `${seconds.toFixed(1)}s` : `${whole}s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes}m ${String(whole % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

function stepSeconds(step) {
  if (step.duration_seconds != null) return step.duration_seconds;
  if (!step.started_at || step.finished_at) return null;
  return Math.max(0, (Date.now() - Date.parse(step.started_at)) / 1000);
}

// The lines, compactly: their texts, their streams, and runs of lines of one step ("groups").
class Lines {
  constructor() {
    this.texts = [];
    this.streams = new Uint8Array(4096);
    this.groups = []; // {step, first, count}, in line order
  }

  get count() { return this.texts.length; }

  // Lines first.. of a message; returns the first line number new to us (or 0: none).
  add(first, step, stream, lines) {
    const skip = this.count + 1 - first; // a reconnect may resend lines we have
    if (skip >= lines.length) return 0;
    const fresh = skip > 0 ? lines.slice(skip) : lines;
    const start = this.count + 1;
    if (this.streams.length < start + fresh.length) {
      const grown = new Uint8Array(Math.max(this.streams.length * 2, start + fresh.length + 1));
      grown.set(this.streams);
      this.streams = grown;
    }
    this.streams.fill(Math.max(0, STREAMS.indexOf(stream)), start, start + fresh.length);
    for (const text of fresh) this.texts.push(text);
    const last = this.groups[this.groups.length - 1];
    if (last && last.step === step) last.count += fresh.length;
    else this.groups.push({ step, first: start, count: fresh.length });
    return start;
  }

  text(n) { return this.texts[n - 1]; }

  stream(n) { return STREAMS[this.streams[n]]; }

  groupOf(n) {
    let low = 0;
    let high = this.groups.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.groups[middle].first <= n) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}

// Search: every occurrence of a query (case-insensitive) as parallel arrays, in line order.
class Matches {
  constructor(query) {
    this.query = query.toLowerCase();
    this.lines = [];
    this.starts = [];
    this.current = -1;
    this.capped = false;
  }

  scan(lines, from, to) {
    const { query } = this;
    if (!query) return;
    for (let n = from; n <= to && !this.capped; n += 1) {
      const raw = lines.text(n);
      const plain = (raw.includes("\x1b") || raw.includes("\r") ? plainText(raw) : raw).toLowerCase();
      for (let at = plain.indexOf(query); at !== -1; at = plain.indexOf(query, at + query.length)) {
        this.lines.push(n);
        this.starts.push(at);
        if (this.lines.length >= MAX_MATCHES) {
          this.capped = true;
          break;
        }
      }
    }
  }

  get count() { return this.lines.length; }

  // [start, end, current] marks of line n, for ansi.render.
  marksOf(n) {
    let low = 0;
    let high = this.lines.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.lines[middle] < n) low = middle + 1;
      else high = middle;
    }
    const marks = [];
    for (let i = low; i < this.lines.length && this.lines[i] === n; i += 1) {
      marks.push([this.starts[i], this.starts[i] + this.query.length, i === this.current]);
    }
    return marks;
  }
}

class LogViewer {
  constructor(section) {
    this.section = section;
    this.buildId = section.dataset.buildId;
    this.streamUrl = section.dataset.streamUrl || `/api/builds/${this.buildId}/logs/stream`;
    this.lines = new Lines();
    this.steps = new Map(); // index -> the API's step
    this.collapsed = new Set(); // step indexes
    this.following = true;
    this.target = null; // the #L line, highlighted
    this.pendingJump = null; // a #L line not arrived yet
    this.matches = null;
    this.shown = new Map(); // row key -> element
    this.frame = 0;
    this.ended = false;
    this.retries = 0;
    this.firstPainted = false;
    this.build();
  }

  build() {
    const s = this.section;
    s.replaceChildren();
    s.style.setProperty("--log-line-height", `${LINE_HEIGHT}px`);
    const bar = element("div", "log-toolbar");
    const find = element("div", "log-search");
    find.setAttribute("role", "search");
    this.search = element("input", "log-search-input");
    Object.assign(this.search, { type: "search", placeholder: "Search the log", autocomplete: "off", spellcheck: false });
    this.search.setAttribute("aria-label", "Search the log (press / to focus)");
    this.previous = this.button("\u2191", "Previous match (Shift+Enter)", () => this.moveMatch(-1));
    this.next = this.button("\u2193", "Next match (Enter)", () => this.moveMatch(1));
    this.counter = element("span", "log-search-count muted");
    this.counter.setAttribute("aria-live", "polite");
    find.append(this.search, this.previous, this.next, this.counter);
    const tools = element("div", "log-tools");
    this.expandAll = this.button("Expand all", "Show every step's lines", () => this.setAllCollapsed(false), "btn btn-small btn-quiet");
    this.collapseAll = this.button("Collapse all", "Hide every step's lines", () => this.setAllCollapsed(true), "btn btn-small btn-quiet");
    this.follow = this.button("Follow", "Follow the end of the log", () => this.resumeFollowing(), "btn btn-small log-follow");
    tools.append(this.expandAll, this.collapseAll, this.follow);
    bar.append(find, tools);
    this.viewport = element("div", "log-viewport");
    this.viewport.tabIndex = 0;
    this.viewport.setAttribute("role", "region");
    this.viewport.setAttribute("aria-label", "Build log: arrow keys, Page Up/Down, Home and End scroll it");
    this.sizer = element("div", "log-sizer");
    this.empty = element("p", "log-empty muted", "Waiting for output\u2026");
    // The header of the step whose lines are at the top, kept in sight while they scroll by.
    this.pinned = element("div", "log-pinned");
    this.pinned.hidden = true;
    this.viewport.append(this.pinned, this.sizer, this.empty);
    this.status = element("p", "log-status muted", "Connecting\u2026");
    this.status.setAttribute("aria-live", "polite");
    s.append(bar, this.viewport, this.status);
    this.listen();
    this.updateFollow();
    this.updateCounter();
  }

  button(label, title, action, className = "btn btn-small btn-quiet log-icon") {
    const made = element("button", className, label);
    made.type = "button";
    made.title = title;
    made.setAttribute("aria-label", title);
    made.addEventListener("click", action);
    return made;
  }

  listen() {
    this.viewport.addEventListener("scroll", () => this.onScroll(), { passive: true });
    this.viewport.addEventListener("click", (event) => this.onClick(event));
    this.search.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.runSearch(), 120);
    });
    this.search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        clearTimeout(this.searchTimer); // searching now: not again when the typing pause ends
        if ((this.matches?.query ?? "") !== this.search.value.toLowerCase()) this.runSearch();
        this.moveMatch(event.shiftKey ? -1 : 1);
      } else if (event.key === "Escape") {
        clearTimeout(this.searchTimer);
        this.search.value = "";
        this.runSearch();
        this.viewport.focus();
      }
    });
    document.addEventListener("keydown", (event) => {
      const typing = event.target instanceof Element && event.target.closest("input, textarea, select, [contenteditable]");
      if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        this.search.focus();
        this.search.select();
      }
    });
    window.addEventListener("hashchange", () => this.jumpToHash());
    window.addEventListener("resize", () => this.schedule());
    // The build page's steps table links each step to its lines here.
    document.addEventListener("click", (event) => {
      const link = event.target instanceof Element ? event.target.closest("[data-step-link]") : null;
      if (link && this.jumpToStep(Number(link.dataset.stepLink) - 1)) event.preventDefault();
    });
    setInterval(() => { if (this.hasRunningStep()) this.refreshHeaders(); }, 1000);
  }

  // ---- the connection

  start() {
    this.fetchSteps();
    this.pendingJump = this.hashLine();
    if (this.pendingJump) this.following = false;
    this.updateFollow();
    this.connect();
  }

  async fetchSteps() {
    try {
      const response = await fetch(`/api/builds/${encodeURIComponent(this.buildId)}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const build = await response.json();
      for (const step of build.steps ?? []) if (!this.steps.has(step.index)) this.steps.set(step.index, step);
      if (build.log_expired_at) {
        this.expired = true;
        this.setStatus("This build's log was removed by the retention policy.");
      }
      this.refreshHeaders();
    } catch {
      // The steps' names are a nicety: the log shows without them.
    }
  }

  connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${window.location.host}${this.streamUrl}?since=${this.lines.count + 1}`;
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    this.decoder = new TextDecoder("utf-8");
    socket.addEventListener("open", () => {
      this.retries = 0;
      if (!this.ended) this.setStatus("Live", true);
    });
    socket.addEventListener("message", (event) => this.onMessage(event.data));
    socket.addEventListener("close", (event) => this.onClose(event));
    this.socket = socket;
  }

  onMessage(data) {
    if (typeof data !== "string") {
      this.onLines(new Uint8Array(data));
      return;
    }
    const message = JSON.parse(data);
    if (message.type === "step" && message.step) {
      this.steps.set(message.step.index, message.step);
      this.refreshHeaders();
    } else if (message.type === "end") {
      this.ended = true;
      this.finalStatus = message.status;
      this.section.dataset.state = "ended";
      if (!this.expired) this.setStatus(`Build ${String(message.status).replace("_", " ")} \u00b7 ${this.lines.count.toLocaleString()} lines`);
      this.schedule();
    }
  }

  onLines(bytes) {
    const newline = bytes.indexOf(10);
    if (newline < 0) return;
    const header = JSON.parse(this.decoder.decode(bytes.subarray(0, newline)));
    const text = this.decoder.decode(bytes.subarray(newline + 1));
    const lines = text.split("\n");
    lines.pop(); // after the last newline: nothing
    const from = this.lines.add(header.first, header.step, header.stream, lines);
    if (!from) return;
    if (this.matches) {
      this.matches.scan(this.lines, from, this.lines.count);
      this.updateCounter();
    }
    this.section.dataset.lines = String(this.lines.count);
    this.layoutChanged = true;
    if (this.pendingJump && this.pendingJump <= this.lines.count) {
      const line = this.pendingJump;
      this.pendingJump = null;
      this.jumpTo(line, { highlight: true, reveal: true });
    }
    this.schedule();
  }

  onClose(event) {
    this.socket = null;
    if (this.ended) return;
    if (REFUSED[event.code]) {
      this.setStatus(REFUSED[event.code]);
      return;
    }
    // The daemon restarted or the network dropped: carry on from the next line.
    const wait = Math.min(10000, 500 * 2 ** this.retries);
    this.retries += 1;
    this.setStatus(`Connection lost; reconnecting in ${Math.round(wait / 1000) || 1}s\u2026`);
    setTimeout(() => this.connect(), wait);
  }

  setStatus(text, live = false) {
    this.status.textContent = text;
    this.status.classList.toggle("is-live", live);
  }

  // ---- rows: each group is a header row (for a step) and its lines (unless collapsed)

  rowsOf(group) {
    const header = group.step >= 0 ? 1 : 0;
    return header + (this.collapsed.has(group.step) ? 0 : group.count);
  }

  layout() {
    const starts = new Array(this.lines.groups.length);
    let rows = 0;
    this.lines.groups.forEach((group, i) => {
      starts[i] = rows;
      rows += this.rowsOf(group);
    });
    this.groupStarts = starts;
    this.rowCount = rows;
    this.layoutChanged = false;
  }

  rowAt(row) {
    const { groups } = this.lines;
    let low = 0;
    let high = groups.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.groupStarts[middle] <= row) low = middle;
      else high = middle - 1;
    }
    const group = groups[low];
    const within = row - this.groupStarts[low];
    if (group.step >= 0) {
      if (within === 0) return { header: low };
      return { line: group.first + within - 1 };
    }
    return { line: group.first + within };
  }

  rowOfLine(n) {
    const index = this.lines.groupOf(n);
    const group = this.lines.groups[index];
    if (this.collapsed.delete(group.step) || this.layoutChanged || !this.groupStarts) this.layout();
    return this.groupStarts[index] + (group.step >= 0 ? 1 : 0) + (n - group.first);
  }

  // ---- rendering

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.paint());
  }

  // Re-render every row shown (a highlight, a step's status or a collapse changed).
  refresh() {
    this.pinnedKey = null;
    for (const row of this.shown.values()) row.remove();
    this.shown.clear();
    this.layoutChanged = true;
    this.schedule();
  }

  // Re-render the step headers only (a running step's time): line rows, and any text the
  // reader is selecting in them, stay.
  refreshHeaders() {
    this.pinnedKey = null;
    for (const [key, row] of this.shown) {
      if (typeof key === "string") {
        row.remove();
        this.shown.delete(key);
      }
    }
    this.schedule();
  }

  paint() {
    this.frame = 0;
    if (this.layoutChanged || !this.groupStarts) this.layout();
    const total = this.rowCount * LINE_HEIGHT;
    if (this.sizer.style.height !== `${total}px`) {
      this.sizer.style.height = `${total}px`;
      // A short log gets a short viewer (the stylesheet bounds it); room for a scroll bar.
      this.viewport.style.height = `${total + 18}px`;
    }
    this.section.style.setProperty("--log-gutter", `${String(this.lines.count).length + 1}ch`);
    this.empty.hidden = this.lines.count > 0;
    if (this.ended && this.lines.count === 0) {
      this.empty.textContent = this.expired ? "The log is no longer kept." : "This build printed nothing.";
    }
    if (this.following) this.viewport.scrollTop = this.viewport.scrollHeight;
    const top = this.viewport.scrollTop;
    this.pin(Math.floor(top / LINE_HEIGHT));
    const first = Math.max(0, Math.floor(top / LINE_HEIGHT) - OVERSCAN);
    const last = Math.min(this.rowCount, Math.ceil((top + this.viewport.clientHeight) / LINE_HEIGHT) + OVERSCAN);
    const wanted = new Map();
    for (let row = first; row < last; row += 1) {
      const at = this.rowAt(row);
      const key = at.header !== undefined ? `h${at.header}` : at.line;
      let made = this.shown.get(key);
      if (!made) made = at.header !== undefined ? this.headerRow(at.header) : this.lineRow(at.line);
      // Compared as a number: the browser writes large `top`s back in exponent form.
      if (made.rowTop !== row) {
        made.rowTop = row;
        made.style.top = `${row * LINE_HEIGHT}px`;
      }
      wanted.set(key, made);
    }
    for (const [key, row] of this.shown) if (!wanted.has(key)) row.remove();
    const fresh = [];
    for (const [key, row] of wanted) if (!this.shown.has(key)) fresh.push(row);
    if (fresh.length) this.sizer.append(...fresh);
    this.shown = wanted;
    if (!this.firstPainted && this.lines.count > 0) {
      this.firstPainted = true;
      // For bench/log_viewer.py: when the first lines are on screen (the next frame's start).
      requestAnimationFrame(() => performance.mark("oore-log-first-lines"));
    }
  }

  pin(topRow) {
    let index = -1;
    if (topRow < this.rowCount) {
      const at = this.rowAt(topRow);
      // Only once the step's own header has scrolled out of sight.
      if (at.header === undefined) index = this.lines.groupOf(at.line);
    }
    const group = this.lines.groups[index];
    const show = group !== undefined && group.step >= 0;
    this.pinned.hidden = !show;
    if (!show) {
      if (this.pinned.firstChild) this.pinned.replaceChildren();
      this.pinnedKey = null;
    } else if (this.pinnedKey !== index) {
      this.pinned.replaceChildren(this.headerRow(index));
      this.pinnedKey = index;
    }
  }

  lineRow(n) {
    const row = element("div", `log-line log-${this.lines.stream(n)}`);
    row.dataset.line = n;
    if (n === this.target) row.classList.add("is-target");
    const number = element("a", "log-ln", String(n));
    number.href = `#L${n}`;
    number.tabIndex = -1;
    const text = element("span", "log-text");
    const { segments } = parse(this.lines.text(n));
    render(text, segments, this.matches ? this.matches.marksOf(n) : []);
    row.append(number, text);
    return row;
  }

  headerRow(index) {
    const group = this.lines.groups[index];
    const step = this.steps.get(group.step);
    const open = !this.collapsed.has(group.step);
    const row = element("button", "log-line log-step");
    row.type = "button";
    row.dataset.step = group.step;
    row.dataset.group = index;
    row.setAttribute("aria-expanded", String(open));
    row.append(element("span", "log-caret", open ? "\u25be" : "\u25b8"));
    const continued = index > 0 && this.lines.groups.slice(0, index).some((g) => g.step === group.step);
    const name = step ? step.name : `Step ${group.step + 1}`;
    row.append(element("span", "log-step-name", `${group.step + 1}. ${name}${continued ? " (continued)" : ""}`));
    if (step) {
      const status = element("span", `status status-${step.status}`, String(step.status).replace("_", " "));
      row.append(status, element("span", "log-step-time muted", formatSeconds(stepSeconds(step))));
    }
    row.append(element("span", "log-step-lines muted", `${group.count.toLocaleString()} ${group.count === 1 ? "line" : "lines"}`));
    return row;
  }

  // ---- following, scrolling, jumping

  atBottom() {
    const v = this.viewport;
    return v.scrollTop + v.clientHeight >= v.scrollHeight - LINE_HEIGHT / 2;
  }

  onScroll() {
    // Scrolling up stops following; scrolling down to the end resumes it. Judged by the
    // direction, as a shorter log (a step folded) also moves the view up, to its new end.
    const top = this.viewport.scrollTop;
    const moved = top - (this.lastTop ?? 0);
    this.lastTop = top;
    const following = moved < 0 ? this.following && this.atBottom() : this.following || (moved > 0 && this.atBottom());
    if (following !== this.following) {
      this.following = following;
      this.updateFollow();
    }
    this.schedule();
  }

  resumeFollowing() {
    this.following = true;
    this.updateFollow();
    this.viewport.scrollTop = this.viewport.scrollHeight;
    this.schedule();
  }

  updateFollow() {
    this.follow.setAttribute("aria-pressed", String(this.following));
    this.follow.classList.toggle("is-on", this.following);
    this.follow.textContent = this.following ? "Following" : "Follow";
  }

  scrollToRow(row) {
    this.following = false;
    this.updateFollow();
    if (this.layoutChanged) this.layout();
    this.sizer.style.height = `${this.rowCount * LINE_HEIGHT}px`;
    const v = this.viewport;
    const y = row * LINE_HEIGHT;
    if (y < v.scrollTop || y + LINE_HEIGHT > v.scrollTop + v.clientHeight) {
      v.scrollTop = Math.max(0, y - Math.floor(v.clientHeight / 3));
    }
    this.schedule();
  }

  jumpTo(n, { highlight = false, reveal = false } = {}) {
    const row = this.rowOfLine(n);
    if (highlight) {
      this.target = n;
      this.refresh();
    }
    this.scrollToRow(row);
    if (reveal) this.section.scrollIntoView({ block: "start" });
  }

  hashLine() {
    const found = /^#L(\d+)$/.exec(window.location.hash);
    return found ? Number(found[1]) : null;
  }

  jumpToHash() {
    const n = this.hashLine();
    if (!n) return;
    if (n <= this.lines.count) this.jumpTo(n, { highlight: true, reveal: true });
    else {
      this.pendingJump = n;
      this.following = false;
      this.updateFollow();
    }
  }

  jumpToStep(step) {
    const index = this.lines.groups.findIndex((group) => group.step === step);
    if (index < 0) return false; // no lines (yet): the link just leads to the log
    this.collapsed.delete(step);
    this.refresh();
    this.layout();
    this.scrollToRow(this.groupStarts[index]);
    this.section.scrollIntoView({ block: "start" });
    return true;
  }

  onClick(event) {
    const target = event.target instanceof Element ? event.target : null;
    const number = target?.closest(".log-ln");
    if (number) {
      event.preventDefault();
      const n = Number(number.closest(".log-line").dataset.line);
      window.history.replaceState(null, "", `#L${n}`);
      this.target = n;
      this.refresh();
      return;
    }
    const header = target?.closest(".log-step");
    if (header) this.toggle(Number(header.dataset.step), Number(header.dataset.group));
  }

  toggle(step, group) {
    if (!this.collapsed.delete(step)) this.collapsed.add(step);
    this.refresh();
    this.layout();
    // Toggled from the pinned header: bring its own header row back into view.
    const headerTop = this.groupStarts[group] * LINE_HEIGHT;
    if (headerTop < this.viewport.scrollTop) this.viewport.scrollTop = headerTop;
    // Keep the toggled header under the keyboard.
    requestAnimationFrame(() => this.sizer.querySelector(`.log-step[data-step="${step}"]`)?.focus({ preventScroll: true }));
  }

  setAllCollapsed(collapsed) {
    this.collapsed.clear();
    if (collapsed) for (const group of this.lines.groups) if (group.step >= 0) this.collapsed.add(group.step);
    this.following = false;
    this.updateFollow();
    this.refresh();
  }

  hasRunningStep() {
    for (const step of this.steps.values()) if (step.status === "running") return true;
    return false;
  }

  // ---- search

  runSearch() {
    const query = this.search.value;
    this.matches = query ? new Matches(query) : null;
    if (this.matches) this.matches.scan(this.lines, 1, this.lines.count);
    this.updateCounter();
    this.refresh();
  }

  moveMatch(direction) {
    const { matches } = this;
    if (!matches || !matches.count) return;
    if (matches.current < 0) {
      // From the top of what is in view.
      const topRow = Math.floor(this.viewport.scrollTop / LINE_HEIGHT);
      const at = this.rowAt(Math.min(topRow, Math.max(0, this.rowCount - 1)));
      const line = at.line ?? this.lines.groups[at.header].first;
      const next = matches.lines.findIndex((n) => n >= line);
      matches.current = direction > 0 ? (next < 0 ? 0 : next) : (next <= 0 ? matches.count - 1 : next - 1);
    } else {
      matches.current = (matches.current + direction + matches.count) % matches.count;
    }
    this.updateCounter();
    this.refresh();
    this.scrollToRow(this.rowOfLine(matches.lines[matches.current]));
  }

  updateCounter() {
    const { matches } = this;
    const none = !matches || !matches.count;
    this.previous.disabled = none;
    this.next.disabled = none;
    if (!matches) this.counter.textContent = "";
    else if (!matches.count) this.counter.textContent = "No matches";
    else {
      const total = `${matches.count.toLocaleString()}${matches.capped ? "+" : ""}`;
      this.counter.textContent = matches.current < 0 ? `${total} matches` : `${(matches.current + 1).toLocaleString()} of ${total}`;
    }
  }
}

export function mountLog(section) {
  if (!section || section.logViewer) return section?.logViewer;
  const viewer = new LogViewer(section);
  section.logViewer = viewer;
  viewer.start();
  return viewer;
}
