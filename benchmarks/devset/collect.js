// Runs inside a dev-set page (via the DevTools protocol) and returns, as JSON, every
// labelled element with its box in CSS pixels of the viewport, plus every visible piece of
// text (for the generator's ambiguity check). The boxes come from the DOM, never from pixels.
(() => {
  const INTERACTIVE = "button, a, [role=button], [role=menuitem], [role=tab], [role=option], " +
    "summary, select, input[placeholder], [data-gt=text], [data-gt=icon]";
  const LABELS = "label, th, h1, h2, h3, h4, legend, dt";
  const IGNORE = "kbd, .badge, [data-gt-ignore], svg";
  const norm = (s) => s.replace(/\s+/g, " ").trim();
  const rect = (r) => [r.left, r.top, r.right, r.bottom];
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return false;
    for (let e = el; e; e = e.parentElement) {
      const st = getComputedStyle(e);
      if (st.display === "none" || st.visibility === "hidden" || st.opacity === "0") return false;
    }
    return true;
  };
  // Visible text of an element, leaving out shortcut hints and badges.
  const textOf = (el) => {
    if (el.dataset.text) return norm(el.dataset.text);
    if (el.tagName === "SELECT") return norm(el.options[el.selectedIndex]?.text || "");
    if (el.tagName === "INPUT") return el.value ? "" : norm(el.placeholder || "");
    const parts = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.parentElement.closest(IGNORE)) continue;
      parts.push(n.textContent);
    }
    return norm(parts.join(" "));
  };
  // Tight box of an element's text (for headings and labels whose element box is wide) and
  // how many lines that text takes.
  const textLayout = (el) => {
    const range = document.createRange();
    let box = null;
    const tops = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim() || n.parentElement.closest(IGNORE)) continue;
      range.selectNodeContents(n);
      for (const r of range.getClientRects()) {
        if (r.width < 1) continue;
        if (!tops.some((t) => Math.abs(t - (r.top + r.bottom) / 2) < r.height / 2)) {
          tops.push((r.top + r.bottom) / 2);
        }
        box = box ? [Math.min(box[0], r.left), Math.min(box[1], r.top),
                     Math.max(box[2], r.right), Math.max(box[3], r.bottom)] : rect(r);
      }
    }
    return { box, lines: tops.length };
  };
  // Share of a grid of points inside the box where the element itself is on top: catches
  // controls under an open menu or a dialog, which look the same in every screenshot.
  const onTop = (el, box) => {
    let hits = 0, total = 0;
    for (const fx of [0.15, 0.325, 0.5, 0.675, 0.85]) {
      for (const fy of [0.15, 0.325, 0.5, 0.675, 0.85]) {
        const hit = document.elementFromPoint(box[0] + fx * (box[2] - box[0]),
                                              box[1] + fy * (box[3] - box[1]));
        total += 1;
        if (hit && (hit === el || el.contains(hit))) hits += 1;
      }
    }
    return hits / total;
  };
  const all = [...document.querySelectorAll(INTERACTIVE + ", " + LABELS)]
    .filter((el) => el.dataset.gt !== "skip" && !el.closest("[data-gt-skip-all]"));
  const candidates = new Set(all);
  const samples = [];
  for (const el of all) {
    if (!shown(el)) continue;
    const isLabel = el.matches(LABELS) && !el.matches("[data-gt]");
    // Keep the innermost control: a link holding a button is described by the button.
    if (!isLabel && [...el.querySelectorAll("*")].some((d) => candidates.has(d))) continue;
    const text = textOf(el);
    const aria = el.getAttribute("aria-label");
    const hasSvg = !!el.querySelector("svg");
    let kind = null, instruction = null;
    if (el.dataset.gt === "icon" || (!text && aria && hasSvg)) {
      kind = "icon";
      instruction = el.dataset.instruction || aria;
    } else if (text && text.length <= 48) {
      kind = "text";
      instruction = el.dataset.instruction || text;
    }
    if (!kind || !instruction) continue;
    const layout = kind === "text" ? textLayout(el) : { box: null, lines: 0 };
    const box = isLabel && kind === "text" ? layout.box : rect(el.getBoundingClientRect());
    if (!box) continue;
    samples.push({
      kind, instruction, text: kind === "text" ? text : null, rect: box,
      lines: layout.lines, on_top: onTop(el, box),
      tag: el.tagName.toLowerCase() + (el.getAttribute("role") ? `[${el.getAttribute("role")}]` : ""),
    });
  }
  // Every visible text fragment (text nodes, placeholders, shown select options).
  const texts = [];
  const range = document.createRange();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const t = norm(n.textContent);
    if (!t || n.parentElement.closest("script, style, select, title") || !shown(n.parentElement)) continue;
    range.selectNodeContents(n);
    const r = range.getBoundingClientRect();
    if (r.width >= 1 && r.height >= 1) texts.push({ text: t, rect: rect(r) });
  }
  for (const el of document.querySelectorAll("input[placeholder], select")) {
    const t = textOf(el);
    if (t && shown(el)) texts.push({ text: t, rect: rect(el.getBoundingClientRect()) });
  }
  return JSON.stringify({
    dpr: devicePixelRatio, innerWidth, innerHeight, outerWidth, outerHeight,
    title: document.title, ready: !!window.__gtReady, samples, texts,
  });
})()
