// The repository page's stored-pipeline editor: a plain textarea with line numbers, "Validate"
// (POST /api/pipelines/validate) listing each problem at its line, and "Save" (validate, then
// PUT /api/repositories/<id>/pipeline). A read-only session gets the text read-only and no
// buttons (the template leaves them out; the API refuses the writes anyway).
import { post, put } from "./api.js";

const FILE = "codemagic.yaml";

const root = document.querySelector("[data-pipeline-editor]");

function lineStart(text, line) {
  let offset = 0;
  for (let n = 1; n < line; n += 1) {
    const next = text.indexOf("\n", offset);
    if (next < 0) return text.length;
    offset = next + 1;
  }
  return offset;
}

function warned(report) {
  const count = report.warnings.length;
  return count ? ` with ${count} ${count === 1 ? "warning" : "warnings"} (below)` : "";
}

class Editor {
  constructor(section) {
    this.section = section;
    this.text = section.querySelector("textarea");
    this.working = false;
    this.gutter = section.querySelector("[data-pipeline-gutter]");
    this.status = section.querySelector("[data-pipeline-status]");
    this.problems = section.querySelector("[data-pipeline-problems]");
    this.saveButton = section.querySelector("[data-pipeline-save]");
    this.validateButton = section.querySelector("[data-pipeline-validate]");
    this.url = `/api/repositories/${section.dataset.repositoryId}/pipeline`;
    this.marked = new Set(); // lines with a problem, marked in the gutter and the text
    this.lines = 0;
    this.marks = document.createElement("div");
    this.marks.className = "editor-marks";
    this.marks.setAttribute("aria-hidden", "true");
    this.text.before(this.marks);
  }

  mount() {
    this.text.addEventListener("input", () => this.edited());
    this.text.addEventListener("scroll", () => this.follow());
    this.problems.addEventListener("click", (event) => {
      const item = event.target instanceof Element ? event.target.closest("[data-line]") : null;
      if (item) this.goTo(Number(item.dataset.line));
    });
    this.validateButton?.addEventListener("click", () => this.validate());
    this.saveButton?.addEventListener("click", () => this.save());
    this.text.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key === "s" && this.saveButton) {
        event.preventDefault();
        this.save();
      }
    });
    this.renderGutter(true);
  }

  lineCount() {
    let count = 1;
    for (let at = this.text.value.indexOf("\n"); at >= 0; at = this.text.value.indexOf("\n", at + 1)) count += 1;
    return count;
  }

  // One span per line, rebuilt only when the count or the marks change (not on every key).
  renderGutter(force = false) {
    const count = this.lineCount();
    if (!force && count === this.lines) return;
    this.lines = count;
    const spans = [];
    for (let n = 1; n <= count; n += 1) {
      const span = document.createElement("span");
      span.textContent = `${n}\n`;
      if (this.marked.has(n)) {
        span.className = "is-problem";
        span.dataset.problemLine = n;
      }
      spans.push(span);
    }
    this.gutter.replaceChildren(...spans);
    this.renderMarks();
    this.follow();
  }

  renderMarks() {
    const style = getComputedStyle(this.text);
    const height = parseFloat(style.lineHeight);
    const top = parseFloat(style.paddingTop) + parseFloat(style.borderTopWidth);
    this.marks.replaceChildren(...[...this.marked].map((line) => {
      const bar = document.createElement("div");
      bar.className = "editor-mark";
      bar.dataset.markLine = line;
      bar.style.top = `${top + (line - 1) * height}px`;
      bar.style.height = `${height}px`;
      return bar;
    }));
  }

  // The gutter and the marks scroll with the text (set through CSSOM: allowed by the CSP).
  follow() {
    this.gutter.scrollTop = this.text.scrollTop;
    this.marks.style.transform = `translateY(${-this.text.scrollTop}px)`;
  }

  edited() {
    this.problems.classList.add("is-stale");
    this.renderGutter();
  }

  goTo(line) {
    const value = this.text.value;
    const start = lineStart(value, line);
    this.text.focus();
    this.text.setSelectionRange(start, start);
    const height = parseFloat(getComputedStyle(this.text).lineHeight);
    this.text.scrollTop = Math.max(0, (line - 1) * height - this.text.clientHeight / 3);
    this.follow();
  }

  say(message, kind) {
    this.status.textContent = message;
    this.status.dataset.kind = kind;
  }

  show(report) {
    const items = [
      ...report.errors.map((problem) => ({ ...problem, kind: "error" })),
      ...report.warnings.map((problem) => ({ ...problem, kind: "warning" })),
    ];
    this.marked = new Set(report.errors.filter((e) => e.line != null).map((e) => e.line));
    this.problems.replaceChildren(...items.map((problem) => this.problemItem(problem)));
    this.problems.hidden = items.length === 0;
    this.problems.classList.remove("is-stale");
    this.renderGutter(true);
  }

  problemItem(problem) {
    const item = document.createElement("li");
    item.className = `problem problem-${problem.kind}`;
    const where = problem.line != null ? `line ${problem.line}: ` : "";
    const text = `${where}${problem.message}${problem.key ? ` (${problem.key})` : ""}`;
    if (problem.line == null) {
      item.textContent = text;
      return item;
    }
    const button = Object.assign(document.createElement("button"), { type: "button", className: "problem-link", textContent: text });
    button.dataset.line = problem.line;
    button.title = `Go to line ${problem.line}`;
    item.append(button);
    return item;
  }

  async check(content) {
    const report = await post("/api/pipelines/validate", { content, file: FILE });
    this.show(report);
    return report;
  }

  // One thing at a time: Ctrl+S while a save runs, or a click, does not start another.
  async busy(doing, work) {
    if (this.working) return;
    this.working = true;
    for (const button of [this.validateButton, this.saveButton]) if (button) button.disabled = true;
    this.say(doing, "busy");
    try {
      await work();
    } catch (error) {
      this.say(error.message, "error");
    } finally {
      this.working = false;
      for (const button of [this.validateButton, this.saveButton]) if (button) button.disabled = false;
    }
  }

  validate() {
    return this.busy("Validating…", async () => {
      const report = await this.check(this.text.value);
      const count = report.errors.length;
      if (count) this.say(`${count} ${count === 1 ? "error" : "errors"}: see below.`, "error");
      else this.say(`Valid${warned(report)}. Workflows: ${report.workflows.join(", ") || "none"}.`, "ok");
    });
  }

  // Validated first, so a refusal is shown at its line (PUT's own 422 names it only in text).
  // The text is taken once: what is stored is what was validated, even if typing goes on.
  save() {
    return this.busy("Saving…", async () => {
      const content = this.text.value;
      const report = await this.check(content);
      if (report.errors.length) {
        this.say("Not saved: fix the errors below first.", "error");
        return;
      }
      const saved = await put(this.url, { content, file: FILE });
      this.say(`Saved. Workflows: ${saved.workflows.join(", ") || "none"}.`, "ok");
    });
  }
}

if (root) new Editor(root).mount();
