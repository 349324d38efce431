// ANSI SGR (colours and styles) in build output, turned into styled text nodes.
//
// Build output is hostile: nothing here ever builds HTML from it. Text becomes text nodes;
// styles become class names from a fixed set, or colours computed from numbers (set through
// the CSSOM, which the page's Content-Security-Policy allows). Escape sequences other than SGR
// (cursor moves, erase line, titles, hyperlinks) are dropped, as are other control characters
// but tab. A carriage return starts the line over, as on a terminal showing a progress bar:
// what was printed before it on the line is dropped, its colours carry on.

// One token per match: a CSI sequence (params, final byte), an OSC string, another escape,
// a carriage return, or a control character.
const TOKENS = /\x1b\[([0-?]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[^[\]]?|\r|[\x00-\x08\x0b-\x1f\x7f]/g;
const SPECIAL = /[\x00-\x08\x0b-\x1f\x7f]/;

const NO_COLOUR = -1;
const TRUECOLOUR = 0x1000000; // colours above this are 0x1000000 + 0xRRGGBB

class Style {
  constructor() { this.reset(); }

  reset() {
    this.fg = NO_COLOUR;
    this.bg = NO_COLOUR;
    this.bold = false;
    this.dim = false;
    this.italic = false;
    this.underline = false;
    this.inverse = false;
    this.strike = false;
  }

  isPlain() {
    return this.fg === NO_COLOUR && this.bg === NO_COLOUR && !this.bold && !this.dim
      && !this.italic && !this.underline && !this.inverse && !this.strike;
  }

  copy() { return Object.assign(new Style(), this); }
}

// An extended colour (38/48 ...): [colour, parameters used], from `params` at `at` (just past
// the 38 or 48). Also takes the colon form (38:5:n, 38:2::r:g:b), split the same way.
function extendedColour(params, at) {
  const mode = params[at];
  if (mode === 5 && at + 1 < params.length) {
    return [clampByte(params[at + 1]), 2];
  }
  if (mode === 2 && at + 3 < params.length) {
    const [r, g, b] = params.slice(at + 1, at + 4).map(clampByte);
    return [TRUECOLOUR + (r << 16) + (g << 8) + b, 4];
  }
  return [NO_COLOUR, params.length - at];
}

function clampByte(value) { return Math.max(0, Math.min(255, value | 0)); }

function parameters(raw) {
  if (raw === "") return [0];
  const parts = raw.split(/[;:]/);
  // 38:2::r:g:b names a colour space in the empty field: drop it, so it reads as 38;2;r;g;b.
  if (/^[34]8:2::/.test(raw)) parts.splice(2, 1);
  return parts.map((part) => (part === "" ? 0 : Number.parseInt(part, 10) || 0));
}

const SIMPLE = {
  0: (s) => s.reset(),
  1: (s) => { s.bold = true; },
  2: (s) => { s.dim = true; },
  3: (s) => { s.italic = true; },
  4: (s) => { s.underline = true; },
  7: (s) => { s.inverse = true; },
  9: (s) => { s.strike = true; },
  21: (s) => { s.underline = true; },
  22: (s) => { s.bold = false; s.dim = false; },
  23: (s) => { s.italic = false; },
  24: (s) => { s.underline = false; },
  27: (s) => { s.inverse = false; },
  29: (s) => { s.strike = false; },
  39: (s) => { s.fg = NO_COLOUR; },
  49: (s) => { s.bg = NO_COLOUR; },
};

export function applySgr(style, raw) {
  const params = parameters(raw);
  for (let i = 0; i < params.length; i += 1) {
    const code = params[i];
    if (SIMPLE[code]) SIMPLE[code](style);
    else if (code >= 30 && code <= 37) style.fg = code - 30;
    else if (code >= 40 && code <= 47) style.bg = code - 40;
    else if (code >= 90 && code <= 97) style.fg = code - 90 + 8;
    else if (code >= 100 && code <= 107) style.bg = code - 100 + 8;
    else if (code === 38 || code === 48) {
      const [colour, used] = extendedColour(params, i + 1);
      if (colour !== NO_COLOUR) style[code === 38 ? "fg" : "bg"] = colour;
      i += used;
    }
  }
}

// A line as segments: {plain, segments: [{text, style|null}]}; `plain` is what a reader sees
// (search runs on it), the segments' texts joined.
export function parse(line) {
  if (!line.includes("\x1b") && !line.includes("\r") && !SPECIAL.test(line)) {
    return { plain: line, segments: line ? [{ text: line, style: null }] : [] };
  }
  const style = new Style();
  let segments = [];
  let last = 0;
  const push = (text) => {
    if (text) segments.push({ text, style: style.isPlain() ? null : style.copy() });
  };
  TOKENS.lastIndex = 0;
  for (let match = TOKENS.exec(line); match; match = TOKENS.exec(line)) {
    push(line.slice(last, match.index));
    last = TOKENS.lastIndex;
    const token = match[0];
    if (token === "\r") {
      // A carriage return ending the line (CRLF, or a bar's last redraw) keeps what is there.
      if (last < line.length) segments = [];
    } else if (match[2] === "m") {
      applySgr(style, match[1]);
    }
  }
  push(line.slice(last));
  return { plain: segments.map((segment) => segment.text).join(""), segments };
}

// What a reader sees of a line (for search): escapes and controls removed.
export function plainText(line) {
  return parse(line).plain;
}

// The 256-colour palette's colours 16..255 (the 6x6x6 cube, then 24 greys) as CSS.
const CUBE = [0, 95, 135, 175, 215, 255];
function colourCss(colour) {
  if (colour >= TRUECOLOUR) {
    const rgb = colour - TRUECOLOUR;
    return `rgb(${(rgb >> 16) & 255}, ${(rgb >> 8) & 255}, ${rgb & 255})`;
  }
  if (colour >= 232) {
    const grey = 8 + (colour - 232) * 10;
    return `rgb(${grey}, ${grey}, ${grey})`;
  }
  const index = colour - 16;
  return `rgb(${CUBE[Math.floor(index / 36)]}, ${CUBE[Math.floor(index / 6) % 6]}, ${CUBE[index % 6]})`;
}

// Colours 0..15 are classes (the theme picks them for light and dark); others are computed.
function setColour(element, colour, layer) {
  if (colour === NO_COLOUR) return;
  if (colour < 16) element.classList.add(`ansi-${layer}${colour}`);
  else if (layer === "fg") element.style.color = colourCss(colour);
  else element.style.backgroundColor = colourCss(colour);
}

function styledSpan(style) {
  const span = document.createElement("span");
  let { fg, bg } = style;
  if (style.inverse) {
    [fg, bg] = [bg, fg];
    span.classList.add("ansi-inverse");
  }
  setColour(span, fg, "fg");
  setColour(span, bg, "bg");
  if (style.bold) span.classList.add("ansi-bold");
  if (style.dim) span.classList.add("ansi-dim");
  if (style.italic) span.classList.add("ansi-italic");
  if (style.underline) span.classList.add("ansi-underline");
  if (style.strike) span.classList.add("ansi-strike");
  return span;
}

// Append `segments` to `parent`, marking the plain-text ranges in `marks` ([start, end,
// current], sorted) with <mark>: as text nodes, always.
export function render(parent, segments, marks = []) {
  let offset = 0;
  for (const { text, style } of segments) {
    const target = style ? styledSpan(style) : parent;
    appendMarked(target, text, offset, marks);
    if (target !== parent) parent.append(target);
    offset += text.length;
  }
}

function appendMarked(target, text, offset, marks) {
  let position = 0;
  for (const [start, end, current] of marks) {
    const from = Math.max(start - offset, position);
    const to = Math.min(end - offset, text.length);
    if (to <= from) continue;
    if (from > position) target.append(document.createTextNode(text.slice(position, from)));
    const mark = document.createElement("mark");
    mark.className = current ? "log-match log-match-current" : "log-match";
    mark.textContent = text.slice(from, to);
    target.append(mark);
    position = to;
  }
  if (position < text.length) target.append(document.createTextNode(text.slice(position)));
}
