// Applies the look asked for in the URL, then sets window.__gtReady for the generator.
// ?theme=light|dark|warm|slate&fs=14&font=sans|serif|condensed&pad=8
(function () {
  const params = new URLSearchParams(location.search);
  const root = document.documentElement;
  root.dataset.theme = params.get("theme") || "light";
  const fonts = {
    sans: '"DejaVu Sans", sans-serif',
    nimbus: '"Nimbus Sans", "DejaVu Sans", sans-serif',
    condensed: '"Nimbus Sans Narrow", "DejaVu Sans Condensed", sans-serif',
    serif: '"DejaVu Serif", serif',
  };
  if (params.get("fs")) root.style.setProperty("--fs", params.get("fs") + "px");
  if (params.get("pad")) root.style.setProperty("--pad", params.get("pad") + "px");
  if (fonts[params.get("font")]) root.style.setProperty("--font", fonts[params.get("font")]);
  if (params.get("title")) document.title = params.get("title");
  window.__gtReady = false;
  const finish = () => document.fonts.ready.then(() =>
    requestAnimationFrame(() => requestAnimationFrame(() => { window.__gtReady = true; })));
  if (document.readyState === "complete") finish(); else addEventListener("load", finish);
})();
